//! The OCI image config (with Docker's extensions): read from base images, written for results.
//!
//! Unknown keys are kept (`extra`), so a base image's config passes through without loss.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The top-level image config JSON (`containerimage.config`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ImageConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub author: Option<String>,
    #[serde(default)]
    pub architecture: String,
    #[serde(default)]
    pub os: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
    #[serde(default)]
    pub config: ContainerConfig,
    #[serde(default)]
    pub rootfs: RootFs,
    #[serde(default)]
    pub history: Vec<History>,
    #[serde(flatten)]
    pub extra: BTreeMap<String, serde_json::Value>,
}

/// `config` of an image: what a container of it starts with.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ContainerConfig {
    #[serde(rename = "User", default, skip_serializing_if = "String::is_empty")]
    pub user: String,
    #[serde(
        rename = "ExposedPorts",
        default,
        skip_serializing_if = "BTreeMap::is_empty",
        deserialize_with = "nullable"
    )]
    pub exposed_ports: BTreeMap<String, Empty>,
    #[serde(rename = "Env", default, skip_serializing_if = "Vec::is_empty", deserialize_with = "nullable")]
    pub env: Vec<String>,
    #[serde(rename = "Entrypoint", default, skip_serializing_if = "Option::is_none")]
    pub entrypoint: Option<Vec<String>>,
    #[serde(rename = "Cmd", default, skip_serializing_if = "Option::is_none")]
    pub cmd: Option<Vec<String>>,
    #[serde(rename = "Volumes", default, skip_serializing_if = "BTreeMap::is_empty", deserialize_with = "nullable")]
    pub volumes: BTreeMap<String, Empty>,
    #[serde(rename = "WorkingDir", default, skip_serializing_if = "String::is_empty")]
    pub working_dir: String,
    #[serde(rename = "Labels", default, skip_serializing_if = "BTreeMap::is_empty", deserialize_with = "nullable")]
    pub labels: BTreeMap<String, String>,
    #[serde(rename = "StopSignal", default, skip_serializing_if = "String::is_empty")]
    pub stop_signal: String,
    #[serde(rename = "Healthcheck", default, skip_serializing_if = "Option::is_none")]
    pub healthcheck: Option<HealthConfig>,
    #[serde(rename = "Shell", default, skip_serializing_if = "Option::is_none")]
    pub shell: Option<Vec<String>>,
    /// Docker's `ONBUILD` triggers: Dockerfile instructions that a Dockerfile build starting
    /// from this image runs first.
    #[serde(rename = "OnBuild", default, skip_serializing_if = "Vec::is_empty", deserialize_with = "nullable")]
    pub on_build: Vec<String>,
    /// Docker's (deprecated, Windows-only in meaning) flag that the Dockerfile frontend sets with
    /// every `CMD`; kept so that images compare equal with theirs.
    #[serde(rename = "ArgsEscaped", default, skip_serializing_if = "std::ops::Not::not")]
    pub args_escaped: bool,
    #[serde(flatten)]
    pub extra: BTreeMap<String, serde_json::Value>,
}

/// Docker's healthcheck config; durations in nanoseconds, 0 = Docker's default.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HealthConfig {
    #[serde(rename = "Test", default)]
    pub test: Vec<String>,
    #[serde(rename = "Interval", default, skip_serializing_if = "is_zero")]
    pub interval: u64,
    #[serde(rename = "Timeout", default, skip_serializing_if = "is_zero")]
    pub timeout: u64,
    #[serde(rename = "StartPeriod", default, skip_serializing_if = "is_zero")]
    pub start_period: u64,
    /// Between checks during the start period (Docker 25+; older engines ignore it).
    #[serde(rename = "StartInterval", default, skip_serializing_if = "is_zero")]
    pub start_interval: u64,
    #[serde(rename = "Retries", default, skip_serializing_if = "is_zero_u32")]
    pub retries: u32,
}

fn is_zero(v: &u64) -> bool {
    *v == 0
}

fn is_zero_u32(v: &u32) -> bool {
    *v == 0
}

/// `{}` in port and volume sets.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Empty {}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RootFs {
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default, deserialize_with = "nullable")]
    pub diff_ids: Vec<String>,
}

impl Default for RootFs {
    fn default() -> Self {
        RootFs { kind: "layers".into(), diff_ids: Vec::new() }
    }
}

/// One entry of the image history (`docker history`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct History {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_by: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub author: Option<String>,
    /// Borrowed for the comment decant writes on every entry it adds (no copy per entry).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<std::borrow::Cow<'static, str>>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub empty_layer: bool,
}

/// JSON `null` where a collection is expected reads as empty (Go writes nil maps as null).
fn nullable<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

impl ImageConfig {
    /// Parses a config as a registry or BuildKit returns it.
    pub fn from_json(bytes: &[u8]) -> Result<ImageConfig, serde_json::Error> {
        serde_json::from_slice(bytes)
    }

    /// Serialised with sorted keys (stable bytes).
    pub fn to_json(&self) -> Vec<u8> {
        // Through `Value` so that flattened extras land in sorted order too.
        let value = serde_json::to_value(self).unwrap_or(serde_json::Value::Null);
        serde_json::to_vec(&value).unwrap_or_default()
    }

    /// The value of an environment variable in `config.Env`.
    pub fn env(&self, key: &str) -> Option<&str> {
        self.config.env.iter().rev().find_map(|kv| kv.strip_prefix(key)?.strip_prefix('='))
    }
}

/// The PATH BuildKit and Docker give a Linux process when the image sets none.
pub const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_go_style_config() {
        let json = br#"{"architecture":"amd64","os":"linux","config":{"Env":["PATH=/bin","A=1"],"Cmd":["sh"],"ExposedPorts":null,"Labels":null,"WorkingDir":"/srv","ArgsEscaped":true},"rootfs":{"type":"layers","diff_ids":["sha256:x"]},"history":[{"created":"2020-01-01T00:00:00Z","created_by":"x"}],"docker_version":"20.10"}"#;
        let c = ImageConfig::from_json(json).unwrap();
        assert_eq!(c.env("A"), Some("1"));
        assert_eq!(c.config.working_dir, "/srv");
        assert_eq!(c.config.cmd.as_deref(), Some(&["sh".to_string()][..]));
        let out: serde_json::Value = serde_json::from_slice(&c.to_json()).unwrap();
        assert_eq!(out["config"]["ArgsEscaped"], true, "unknown keys survive");
        assert_eq!(out["docker_version"], "20.10");
        assert!(out["config"].get("ExposedPorts").is_none());
    }
}
