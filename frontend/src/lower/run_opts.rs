//! Settings the client gives for every `run` step of a build, as the Dockerfile frontend takes
//! them: proxy build args, `shm-size`, `ulimit`, `cgroup-parent`, and the cache-mount id
//! namespace (`BUILDKIT_CACHE_MOUNT_NS`).

use std::collections::BTreeMap;

use crate::llb::{self, pb};

/// Build args that become the proxy settings of every run step (matched case-insensitively;
/// with both spellings given, the lower-case one wins, as in the Dockerfile frontend).
pub const PROXY_ARGS: &[&str] = &["HTTP_PROXY", "HTTPS_PROXY", "FTP_PROXY", "NO_PROXY", "ALL_PROXY"];

/// The build arg whose value prefixes every cache mount id (`NS/id`).
pub const CACHE_MOUNT_NS_ARG: &str = "BUILDKIT_CACHE_MOUNT_NS";

/// Per-build settings of run steps. The default changes nothing.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RunOptions {
    /// Proxy settings: BuildKit puts them in the step's environment (both spellings) and
    /// leaves them out of its cache key, so changing a proxy keeps the cache.
    pub proxy: Option<pb::ProxyEnv>,
    /// Size of `/dev/shm` in bytes (a tmpfs mount; BuildKit 0.10+).
    pub shm_size: Option<i64>,
    /// Resource limits `(name, soft, hard)` (BuildKit 0.10+).
    pub ulimits: Vec<(String, i64, i64)>,
    /// Parent cgroup of run steps (BuildKit 0.10+).
    pub cgroup_parent: Option<String>,
    /// Prefix of cache mount ids.
    pub cache_namespace: Option<String>,
}

impl RunOptions {
    /// The settings that come from build args: the proxy args and `BUILDKIT_CACHE_MOUNT_NS`.
    pub fn from_build_args(args: &BTreeMap<String, String>) -> RunOptions {
        RunOptions {
            proxy: proxy_from_build_args(args),
            cache_namespace: args.get(CACHE_MOUNT_NS_ARG).filter(|v| !v.is_empty()).cloned(),
            ..Default::default()
        }
    }

    /// The id a cache mount gets: `NS/id`, with an empty namespace when none is set (`/id`), as
    /// the Dockerfile frontend names it, so that a decant build and a Dockerfile build of one
    /// project share their cache mounts.
    pub fn cache_id(&self, id: &str) -> String {
        format!("{}/{id}", self.cache_namespace.as_deref().unwrap_or_default())
    }

    /// `shm-size`: a tmpfs of that size on /dev/shm, unless the step mounts something there.
    pub(super) fn add_shm(&self, mounts: &mut Vec<llb::MountSpec>) {
        let Some(size) = self.shm_size else { return };
        if !mounts.iter().any(|m| m.dest.trim_end_matches('/') == "/dev/shm") {
            mounts.push(llb::MountSpec { dest: "/dev/shm".into(), kind: llb::MountKind::Tmpfs { size: Some(size) } });
        }
    }
}

/// The proxy settings in `args`, or `None` when no proxy arg is given.
pub fn proxy_from_build_args(args: &BTreeMap<String, String>) -> Option<pb::ProxyEnv> {
    let mut proxy = pb::ProxyEnv::default();
    let mut any = false;
    // Sorted keys: `HTTP_PROXY` comes before `http_proxy`, so the lower-case one wins.
    for (k, v) in args {
        let slot = match k.to_ascii_uppercase().as_str() {
            "HTTP_PROXY" => &mut proxy.http_proxy,
            "HTTPS_PROXY" => &mut proxy.https_proxy,
            "FTP_PROXY" => &mut proxy.ftp_proxy,
            "NO_PROXY" => &mut proxy.no_proxy,
            "ALL_PROXY" => &mut proxy.all_proxy,
            _ => continue,
        };
        *slot = v.clone();
        any = true;
    }
    any.then_some(proxy)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn proxy_args_in_either_case() {
        assert_eq!(proxy_from_build_args(&args(&[("VERSION", "1")])), None);
        let p = proxy_from_build_args(&args(&[
            ("HTTP_PROXY", "http://upper:1"),
            ("http_proxy", "http://lower:1"),
            ("https_proxy", "http://s:2"),
            ("Ftp_Proxy", "ftp://f:3"),
            ("NO_PROXY", "localhost,.corp"),
            ("all_proxy", "socks5://a:4"),
        ]))
        .unwrap();
        assert_eq!(p.http_proxy, "http://lower:1");
        assert_eq!(p.https_proxy, "http://s:2");
        assert_eq!(p.ftp_proxy, "ftp://f:3");
        assert_eq!(p.no_proxy, "localhost,.corp");
        assert_eq!(p.all_proxy, "socks5://a:4");
        // An empty value still counts, as in the Dockerfile frontend.
        assert!(proxy_from_build_args(&args(&[("NO_PROXY", "")])).is_some());
    }

    #[test]
    fn cache_namespace() {
        let o = RunOptions::from_build_args(&args(&[(CACHE_MOUNT_NS_ARG, "team-a")]));
        assert_eq!(o.cache_id("gocache"), "team-a/gocache");
        assert_eq!(RunOptions::default().cache_id("gocache"), "/gocache");
        assert_eq!(RunOptions::default().cache_id("/root/.cache"), "//root/.cache");
        assert_eq!(RunOptions::from_build_args(&args(&[(CACHE_MOUNT_NS_ARG, "")])).cache_namespace, None);
    }
}
