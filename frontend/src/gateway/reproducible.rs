//! Result metadata for reproducible images: the base image's config, so that BuildKit's
//! exporter with `rewrite-timestamp=true` keeps the base layers and history untouched
//! (`exporter/containerimage/writer.go` reads `containerimage.base.config[/<platform>]`).

use super::FrontendResult;
use crate::image::ImageConfig;

/// The metadata key of the base image config.
pub const BASE_CONFIG_KEY: &str = "containerimage.base.config";

/// `result` with the base config under `containerimage.base.config` (single-platform results)
/// or `containerimage.base.config/<platform>`; unchanged when the target has no base image.
pub(crate) fn with_base_config(
    result: FrontendResult,
    base: Option<&ImageConfig>,
    platform: Option<&str>,
) -> FrontendResult {
    let Some(base) = base else { return result };
    let key = match platform {
        Some(p) => format!("{BASE_CONFIG_KEY}/{p}"),
        None => BASE_CONFIG_KEY.to_string(),
    };
    result.with_metadata(key, base.to_json())
}
