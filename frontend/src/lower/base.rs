//! The base image of the target: the image whose layers and history the target starts with.
//! BuildKit's image exporter needs its config (`containerimage.base.config`) so that
//! `rewrite-timestamp=true` leaves the base image's layers and history as they are.

use super::Inputs;
use crate::image::ImageConfig;
use crate::plan::{Plan, Source};

/// The config of the image the target's filesystem starts from, following `from: <stage>`
/// back to an image or a named context with a config; `None` for `scratch`, a context without
/// a config, or an image decant did not resolve.
pub fn base_image_config<'a>(plan: &'a Plan, inputs: &'a Inputs) -> Option<&'a ImageConfig> {
    let mut stage = plan.stage(&plan.target)?;
    // Each step goes to an earlier stage (the plan has no cycles); the bound is for safety.
    for _ in 0..=plan.stages.len() {
        match &stage.base {
            Source::Scratch | Source::Context | Source::Git(_) => return None,
            Source::Image { reference } => {
                return inputs.images.get(&(reference.clone(), stage.platform.clone())).map(|b| &b.config)
            }
            Source::Named { name } => {
                return inputs.named_contexts.get(&(name.clone(), stage.platform.clone()))?.config.as_ref()
            }
            Source::Stage { name } => stage = plan.stage(name)?,
        }
    }
    None
}
