//! Frontend options: what BuildKit passes in the environment of the frontend process.
//!
//! * `BUILDKIT_FRONTEND_OPT_<n>` = `key=value`, one per opt, `n` in random order; split on the
//!   first `=`; values may be empty (Docker 20.10 sends e.g. `cache-from=`, `no-cache=`).
//! * `BUILDKIT_SESSION_ID`: the client session (for `local://` sources).
//! * `BUILDKIT_WORKERS`: JSON worker list; v0.8 spells keys `ID`/`Platforms`, v0.10+
//!   `id`/`platforms`, so keys are matched case-insensitively.
//!
//! Raw values are kept as given; the typed accessors parse on demand and name the opt in
//! their errors.

use std::collections::BTreeMap;
use std::net::IpAddr;

use super::pb;

/// Env var prefix of frontend opts.
pub const OPT_VAR_PREFIX: &str = "BUILDKIT_FRONTEND_OPT_";
/// Env var with the session id.
pub const SESSION_ID_VAR: &str = "BUILDKIT_SESSION_ID";
/// Env var with the workers JSON.
pub const WORKERS_VAR: &str = "BUILDKIT_WORKERS";
/// Env var with the product name.
pub const PRODUCT_VAR: &str = "BUILDKIT_EXPORTEDPRODUCT";

/// Default spec file name.
pub const DEFAULT_FILENAME: &str = "decant.yaml";

/// A bad frontend option or environment variable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OptsError {
    /// An opt value could not be parsed.
    #[error("invalid value for frontend option {opt:?}: {value:?}: {reason}")]
    Invalid {
        /// Opt key.
        opt: String,
        /// Offending value.
        value: String,
        /// Why.
        reason: String,
    },
    /// An environment variable was malformed.
    #[error("malformed environment variable {var}: {reason}")]
    BadVar {
        /// Variable name.
        var: String,
        /// Why.
        reason: String,
    },
}

fn invalid(opt: &str, value: &str, reason: impl Into<String>) -> OptsError {
    OptsError::Invalid { opt: opt.to_string(), value: value.to_string(), reason: reason.into() }
}

/// Image resolve mode (`image-resolve-mode`): the LLB type.
pub use crate::llb::ResolveMode;

/// `no-cache`: lowering's own type (`None`; `All` when present and empty; else `Stages`).
pub use crate::lower::NoCache;

/// `force-network-mode`: the default network of run steps.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum NetworkMode {
    /// The default sandbox network.
    #[default]
    Sandbox,
    /// The host network (needs the `network.host` entitlement).
    Host,
    /// No network.
    None,
}

impl NetworkMode {
    /// The network run steps get when they choose none: `None` leaves them on the sandbox.
    pub fn forced(self) -> Option<crate::plan::Network> {
        match self {
            NetworkMode::Sandbox => None,
            NetworkMode::None => Some(crate::plan::Network::None),
            NetworkMode::Host => Some(crate::plan::Network::Host),
        }
    }
}

/// An extra `/etc/hosts` entry from `add-hosts`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostIp {
    /// Host name (lower-cased).
    pub host: String,
    /// Address.
    pub ip: IpAddr,
}

/// A named context from `context:<name>` or `context:<name>::<platform>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NamedContext {
    /// Context name.
    pub name: String,
    /// Platform the override applies to (`None` = all).
    pub platform: Option<pb::Platform>,
    /// The value, e.g. `docker-image://alpine:3.19`, `local:ctx`, `input:foo`.
    pub value: String,
}

/// A frontend capability required by the client (`frontend.caps`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequiredCap {
    /// Cap name, e.g. `moby.buildkit.frontend.contexts`.
    pub name: String,
    /// The `+suffix` given, e.g. `forward` (empty = none).
    pub suffix: String,
}

/// One worker from `BUILDKIT_WORKERS`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct WorkerInfo {
    /// Worker id.
    pub id: String,
    /// Worker labels.
    pub labels: BTreeMap<String, String>,
    /// Worker platforms, normalised.
    pub platforms: Vec<pb::Platform>,
}

/// `attest:sbom` (`--sbom`): the scanner image and the parameters it gets as
/// `BUILDKIT_SCAN_<name>` variables.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SbomOpts {
    /// The generator image, tagged (`:latest` when it names no tag).
    pub generator: crate::reference::ImageRef,
    /// Every other `name=value` field.
    pub params: BTreeMap<String, String>,
}

/// The scanner BuildKit uses when `attest:sbom` names none.
pub const DEFAULT_SBOM_GENERATOR: &str = "docker/buildkit-syft-scanner:stable-1";

/// The frontend's options and environment.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FrontendOpts {
    opts: BTreeMap<String, String>,
    session_id: String,
    workers: Vec<WorkerInfo>,
    product: String,
}

impl FrontendOpts {
    /// Reads the process environment. Variables that are not valid UTF-8 are skipped
    /// (BuildKit sends UTF-8).
    pub fn from_env() -> Result<FrontendOpts, OptsError> {
        FrontendOpts::from_vars(
            std::env::vars_os().filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?))),
        )
    }

    /// Parses environment variables given as `(name, value)` pairs; unrelated ones are ignored.
    pub fn from_vars<I, K, V>(vars: I) -> Result<FrontendOpts, OptsError>
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<str>,
        V: AsRef<str>,
    {
        let mut out = FrontendOpts::default();
        for (name, value) in vars {
            let (name, value) = (name.as_ref(), value.as_ref());
            if let Some(n) = name.strip_prefix(OPT_VAR_PREFIX) {
                if n.is_empty() || !n.bytes().all(|b| b.is_ascii_digit()) {
                    continue;
                }
                let Some((key, val)) = value.split_once('=') else {
                    return Err(OptsError::BadVar {
                        var: name.to_string(),
                        reason: format!("expected key=value, got {value:?}"),
                    });
                };
                out.opts.insert(key.to_string(), val.to_string());
            } else if name == SESSION_ID_VAR {
                out.session_id = value.to_string();
            } else if name == WORKERS_VAR {
                out.workers =
                    parse_workers(value).map_err(|reason| OptsError::BadVar { var: name.to_string(), reason })?;
            } else if name == PRODUCT_VAR {
                out.product = value.to_string();
            }
        }
        Ok(out)
    }

    /// Builds opts directly from a key/value map (tests, or opts forwarded in a subrequest).
    pub fn from_map(opts: BTreeMap<String, String>) -> FrontendOpts {
        FrontendOpts { opts, ..Default::default() }
    }

    /// The raw value of an opt.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.opts.get(key).map(String::as_str)
    }

    /// All raw opts, sorted by key.
    pub fn all(&self) -> &BTreeMap<String, String> {
        &self.opts
    }

    fn non_empty(&self, key: &str) -> Option<&str> {
        self.get(key).filter(|v| !v.is_empty())
    }

    fn with_prefix<'a>(&'a self, prefix: &'a str) -> impl Iterator<Item = (&'a str, &'a str)> + 'a {
        self.opts
            .range(prefix.to_string()..)
            .take_while(move |(k, _)| k.starts_with(prefix))
            .map(move |(k, v)| (&k[prefix.len()..], v.as_str()))
    }

    /// The spec file name (`filename`, default `decant.yaml`).
    pub fn filename(&self) -> &str {
        self.non_empty("filename").unwrap_or(DEFAULT_FILENAME)
    }

    /// The target stage (`target`).
    pub fn target(&self) -> Option<&str> {
        self.non_empty("target")
    }

    /// Build args (`build-arg:<NAME>`).
    pub fn build_args(&self) -> BTreeMap<String, String> {
        self.with_prefix("build-arg:").map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    /// Image labels (`label:<KEY>`).
    pub fn labels(&self) -> BTreeMap<String, String> {
        self.with_prefix("label:").map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    /// `no-cache`: absent = use the cache; present and empty = ignore it everywhere;
    /// otherwise a comma list of stage names, lower-cased: the Dockerfile frontend matches them
    /// case-insensitively (`strings.EqualFold`), and stage names are lowercase.
    pub fn no_cache(&self) -> NoCache {
        match self.get("no-cache") {
            None => NoCache::None,
            Some(v) => {
                let stages: std::collections::BTreeSet<String> = split_list(v).map(str::to_lowercase).collect();
                if stages.is_empty() {
                    NoCache::All
                } else {
                    NoCache::Stages(stages)
                }
            }
        }
    }

    /// `image-resolve-mode` (empty = default).
    pub fn image_resolve_mode(&self) -> Result<ResolveMode, OptsError> {
        match self.get("image-resolve-mode").unwrap_or("") {
            "" | "default" => Ok(ResolveMode::Default),
            "pull" => Ok(ResolveMode::Pull),
            "local" => Ok(ResolveMode::Local),
            v => Err(invalid("image-resolve-mode", v, "expected default, pull or local")),
        }
    }

    /// Cache imports: the JSON `cache-imports` list (`[{"Type":..,"Attrs":{..}}]`, keys
    /// case-insensitive) followed by the legacy comma list `cache-from` as registry entries.
    /// Empty values mean none; duplicates are dropped.
    pub fn cache_imports(&self) -> Result<Vec<pb::CacheOptionsEntry>, OptsError> {
        let mut out: Vec<pb::CacheOptionsEntry> = Vec::new();
        if let Some(v) = self.non_empty("cache-imports") {
            for entry in parse_cache_imports(v).map_err(|r| invalid("cache-imports", v, r))? {
                if !out.contains(&entry) {
                    out.push(entry);
                }
            }
        }
        if let Some(v) = self.get("cache-from") {
            for r in split_list(v) {
                let entry = pb::CacheOptionsEntry {
                    r#type: "registry".to_string(),
                    attrs: BTreeMap::from([("ref".to_string(), r.to_string())]),
                };
                if !out.contains(&entry) {
                    out.push(entry);
                }
            }
        }
        Ok(out)
    }

    /// Target platforms (`platform`, comma list of `os/arch[/variant]`), normalised, without
    /// duplicates. Empty when not given (build for the worker's platform).
    pub fn platforms(&self) -> Result<Vec<pb::Platform>, OptsError> {
        let mut out: Vec<pb::Platform> = Vec::new();
        if let Some(v) = self.get("platform") {
            for spec in split_list(v) {
                let p = pb::Platform::parse(spec).map_err(|r| invalid("platform", v, r))?;
                if !out.contains(&p) {
                    out.push(p);
                }
            }
        }
        Ok(out)
    }

    /// Whether to return a per-platform (map) result: `multi-platform` (or build arg
    /// `BUILDKIT_MULTI_PLATFORM`) set true, or more than one platform requested. An explicit
    /// false together with several platforms is an error.
    pub fn multi_platform(&self) -> Result<bool, OptsError> {
        let explicit = match self.non_empty("multi-platform") {
            Some(v) => Some(parse_bool(v).ok_or_else(|| invalid("multi-platform", v, "expected a boolean"))?),
            None => match self.non_empty("build-arg:BUILDKIT_MULTI_PLATFORM") {
                Some(v) => Some(
                    parse_bool(v)
                        .ok_or_else(|| invalid("build-arg:BUILDKIT_MULTI_PLATFORM", v, "expected a boolean"))?,
                ),
                None => None,
            },
        };
        let several = self.platforms()?.len() > 1;
        match explicit {
            Some(false) if several => Err(invalid(
                "multi-platform",
                "false",
                "several platforms were requested; multi-platform cannot be false",
            )),
            Some(b) => Ok(b || several),
            None => Ok(several),
        }
    }

    /// Extra hosts (`add-hosts`, CSV of `host=ip`; empty = none). Host names are lower-cased
    /// and the address must parse.
    pub fn add_hosts(&self) -> Result<Vec<HostIp>, OptsError> {
        let Some(v) = self.get("add-hosts") else {
            return Ok(Vec::new());
        };
        let mut out = Vec::new();
        for field in split_list(v) {
            let field = field.trim_matches('"');
            let Some((host, ip)) = field.split_once('=') else {
                return Err(invalid("add-hosts", v, format!("{field:?} is not host=ip")));
            };
            let host = host.trim();
            if host.is_empty() {
                return Err(invalid("add-hosts", v, format!("{field:?} has an empty host name")));
            }
            let ip_text = ip.trim().trim_start_matches('[').trim_end_matches(']');
            let ip: IpAddr =
                ip_text.parse().map_err(|_| invalid("add-hosts", v, format!("{ip:?} is not an IP address")))?;
            out.push(HostIp { host: host.to_ascii_lowercase(), ip });
        }
        Ok(out)
    }

    /// `force-network-mode` (empty = sandbox).
    pub fn force_network_mode(&self) -> Result<NetworkMode, OptsError> {
        match self.get("force-network-mode").unwrap_or("") {
            "" | "sandbox" => Ok(NetworkMode::Sandbox),
            "host" => Ok(NetworkMode::Host),
            "none" => Ok(NetworkMode::None),
            v => Err(invalid("force-network-mode", v, "expected sandbox, host or none")),
        }
    }

    /// Hostname for run steps (`hostname`, or build arg `BUILDKIT_SANDBOX_HOSTNAME`).
    pub fn hostname(&self) -> Option<&str> {
        self.non_empty("hostname").or_else(|| self.non_empty("build-arg:BUILDKIT_SANDBOX_HOSTNAME"))
    }

    /// `shm-size`: the size of `/dev/shm` in run steps, in bytes (empty or 0 = the default).
    pub fn shm_size(&self) -> Result<Option<i64>, OptsError> {
        let Some(v) = self.non_empty("shm-size") else { return Ok(None) };
        let n: i64 = v.trim().parse().map_err(|_| invalid("shm-size", v, "expected a number of bytes"))?;
        if n < 0 {
            return Err(invalid("shm-size", v, "must not be negative"));
        }
        Ok(Some(n).filter(|n| *n > 0))
    }

    /// `ulimit`: a comma list of `name=soft[:hard]` (Docker's `--ulimit` syntax; hard defaults
    /// to soft; `-1` is unlimited).
    pub fn ulimits(&self) -> Result<Vec<(String, i64, i64)>, OptsError> {
        let Some(v) = self.non_empty("ulimit") else { return Ok(Vec::new()) };
        split_list(v).map(|field| parse_ulimit(field.trim_matches('"')).map_err(|r| invalid("ulimit", v, r))).collect()
    }

    /// `cgroup-parent`: the parent cgroup of run steps.
    pub fn cgroup_parent(&self) -> Option<&str> {
        self.non_empty("cgroup-parent")
    }

    /// Name of the build context local / input (`contextkey`, default `context`).
    pub fn context_key(&self) -> &str {
        self.non_empty("contextkey").unwrap_or("context")
    }

    /// Name of the local / input holding the spec (`dockerfilekey`, default `dockerfile`).
    pub fn dockerfile_key(&self) -> &str {
        self.non_empty("dockerfilekey").unwrap_or("dockerfile")
    }

    /// True when `dockerfilekey` was given (the spec must then come from that local).
    pub fn has_dockerfile_key(&self) -> bool {
        self.non_empty("dockerfilekey").is_some()
    }

    /// Named contexts (`context:<name>` and `context:<name>::<platform>`), sorted by name.
    pub fn named_contexts(&self) -> Result<Vec<NamedContext>, OptsError> {
        let mut out = Vec::new();
        for (rest, value) in self.with_prefix("context:") {
            let (name, platform) = match rest.split_once("::") {
                Some((name, p)) => {
                    let opt = format!("context:{rest}");
                    let p = pb::Platform::parse(p).map_err(|r| invalid(&opt, value, r))?;
                    (name, Some(p))
                }
                None => (rest, None),
            };
            if name.is_empty() {
                return Err(invalid(&format!("context:{rest}"), value, "empty context name"));
            }
            out.push(NamedContext { name: name.to_string(), platform, value: value.to_string() });
        }
        Ok(out)
    }

    /// Frontend capabilities the client requires (`frontend.caps`), suffixes split off.
    pub fn frontend_caps(&self) -> Vec<RequiredCap> {
        let Some(v) = self.get("frontend.caps") else {
            return Vec::new();
        };
        split_list(v)
            .map(|item| match item.split_once('+') {
                Some((name, suffix)) => RequiredCap { name: name.to_string(), suffix: suffix.to_string() },
                None => RequiredCap { name: item.to_string(), suffix: String::new() },
            })
            .collect()
    }

    /// The SBOM the client asks for (`attest:sbom`, or the build arg `BUILDKIT_ATTEST_SBOM`):
    /// CSV fields `name=value`, `generator` the scanner image (BuildKit's default scanner
    /// when absent), every other field a parameter (a field without `=` has an empty value).
    pub fn sbom(&self) -> Result<Option<SbomOpts>, OptsError> {
        let found = self.opts.iter().find(|(k, _)| {
            k.strip_prefix("attest:").is_some_and(|t| t.eq_ignore_ascii_case("sbom"))
                || k.strip_prefix("build-arg:BUILDKIT_ATTEST_").is_some_and(|t| t.eq_ignore_ascii_case("sbom"))
        });
        let Some((key, value)) = found else { return Ok(None) };
        let mut generator = DEFAULT_SBOM_GENERATOR.to_string();
        let mut params = BTreeMap::new();
        let fields = csv_fields(value).map_err(|e| invalid(key, value, format!("failed to parse sbom: {e}")))?;
        for field in fields {
            let (name, v) = field.split_once('=').unwrap_or((field.as_str(), ""));
            match name {
                "generator" => generator = v.to_string(),
                _ => {
                    params.insert(name.to_string(), v.to_string());
                }
            }
        }
        if generator.is_empty() {
            return Err(invalid(key, value, "sbom scanner cannot be empty"));
        }
        let generator = crate::reference::ImageRef::parse(&generator)
            .map_err(|e| invalid(key, value, format!("failed to parse sbom scanner {generator}: {e}")))?;
        Ok(Some(SbomOpts { generator, params }))
    }

    /// The subrequest id (`requestid`), when this run is a subrequest.
    pub fn request_id(&self) -> Option<&str> {
        self.non_empty("requestid")
    }

    /// The client session id (`BUILDKIT_SESSION_ID`).
    pub fn session_id(&self) -> &str {
        &self.session_id
    }

    /// The session id for local source `local_name`: `local-sessionid:<name>` if given,
    /// else the client session.
    pub fn session_id_for(&self, local_name: &str) -> &str {
        self.non_empty(&format!("local-sessionid:{local_name}")).unwrap_or(&self.session_id)
    }

    /// Workers from `BUILDKIT_WORKERS`.
    pub fn workers(&self) -> &[WorkerInfo] {
        &self.workers
    }

    /// `BUILDKIT_EXPORTEDPRODUCT` (may be empty).
    pub fn product(&self) -> &str {
        &self.product
    }
}

/// The fields of one CSV record, as Go's `encoding/csv` reads them: a field in double quotes
/// may hold commas and `""` for a quote; a quote inside an unquoted field is an error.
fn csv_fields(v: &str) -> Result<Vec<String>, String> {
    let mut fields = Vec::new();
    if v.is_empty() {
        return Ok(fields);
    }
    let mut chars = v.chars().peekable();
    loop {
        let mut field = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            loop {
                match chars.next() {
                    None => return Err("extraneous or missing \" in quoted-field".into()),
                    Some('"') if chars.peek() == Some(&'"') => {
                        chars.next();
                        field.push('"');
                    }
                    Some('"') => break,
                    Some(c) => field.push(c),
                }
            }
            match chars.next() {
                None => {
                    fields.push(field);
                    return Ok(fields);
                }
                Some(',') => {}
                Some(_) => return Err("extraneous or missing \" in quoted-field".into()),
            }
        } else {
            loop {
                match chars.next() {
                    None => {
                        fields.push(field);
                        return Ok(fields);
                    }
                    Some(',') => break,
                    Some('"') => return Err("bare \" in non-quoted-field".into()),
                    Some(c) => field.push(c),
                }
            }
        }
        fields.push(field);
    }
}

/// Splits a comma list, trimming items and dropping empty ones.
fn split_list(v: &str) -> impl Iterator<Item = &str> {
    v.split(',').map(str::trim).filter(|s| !s.is_empty())
}

/// The resource names Docker's `--ulimit` accepts.
const ULIMIT_NAMES: &[&str] = &[
    "core",
    "cpu",
    "data",
    "fsize",
    "locks",
    "memlock",
    "msgqueue",
    "nice",
    "nofile",
    "nproc",
    "rss",
    "rtprio",
    "rttime",
    "sigpending",
    "stack",
];

/// One `name=soft[:hard]` ulimit.
fn parse_ulimit(field: &str) -> Result<(String, i64, i64), String> {
    let Some((name, limits)) = field.split_once('=') else {
        return Err(format!("{field:?} is not name=soft[:hard]"));
    };
    if !ULIMIT_NAMES.contains(&name) {
        return Err(format!("unknown ulimit {name:?} (one of {})", ULIMIT_NAMES.join(", ")));
    }
    let number = |s: &str| s.parse::<i64>().map_err(|_| format!("{s:?} in {field:?} is not a number"));
    let (soft, hard) = match limits.split(':').collect::<Vec<_>>()[..] {
        [soft] => (number(soft)?, number(soft)?),
        [soft, hard] => (number(soft)?, number(hard)?),
        _ => return Err(format!("{field:?} has more than soft:hard")),
    };
    if hard != -1 && soft > hard {
        return Err(format!("in {field:?} the soft limit is above the hard limit"));
    }
    Ok((name.to_string(), soft, hard))
}

/// Go `strconv.ParseBool`.
fn parse_bool(v: &str) -> Option<bool> {
    match v {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Some(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Some(false),
        _ => None,
    }
}

/// Looks up a JSON object key case-insensitively (Go's decoder does).
fn get_ci<'a>(obj: &'a serde_json::Map<String, serde_json::Value>, key: &str) -> Option<&'a serde_json::Value> {
    obj.get(key).or_else(|| obj.iter().find(|(k, _)| k.eq_ignore_ascii_case(key)).map(|(_, v)| v))
}

fn string_map(v: Option<&serde_json::Value>, what: &str) -> Result<BTreeMap<String, String>, String> {
    match v {
        None | Some(serde_json::Value::Null) => Ok(BTreeMap::new()),
        Some(serde_json::Value::Object(m)) => m
            .iter()
            .map(|(k, v)| match v {
                serde_json::Value::String(s) => Ok((k.clone(), s.clone())),
                other => Err(format!("{what}.{k} must be a string, got {other}")),
            })
            .collect(),
        Some(other) => Err(format!("{what} must be an object, got {other}")),
    }
}

fn parse_cache_imports(v: &str) -> Result<Vec<pb::CacheOptionsEntry>, String> {
    let json: serde_json::Value = serde_json::from_str(v).map_err(|e| format!("not JSON: {e}"))?;
    let items = match json {
        serde_json::Value::Array(items) => items,
        serde_json::Value::Null => return Ok(Vec::new()),
        _ => return Err("expected a JSON array".to_string()),
    };
    items
        .iter()
        .map(|item| {
            let obj = item.as_object().ok_or("each entry must be an object")?;
            let r#type = match get_ci(obj, "Type") {
                Some(serde_json::Value::String(s)) if !s.is_empty() => s.clone(),
                _ => return Err("each entry needs a non-empty \"Type\"".to_string()),
            };
            let attrs = string_map(get_ci(obj, "Attrs"), "Attrs")?;
            Ok(pb::CacheOptionsEntry { r#type, attrs })
        })
        .collect()
}

fn parse_workers(v: &str) -> Result<Vec<WorkerInfo>, String> {
    if v.trim().is_empty() {
        return Ok(Vec::new());
    }
    let json: serde_json::Value = serde_json::from_str(v).map_err(|e| format!("not JSON: {e}"))?;
    let items = match json {
        serde_json::Value::Array(items) => items,
        serde_json::Value::Null => return Ok(Vec::new()),
        _ => return Err("expected a JSON array".to_string()),
    };
    let str_of = |obj: &serde_json::Map<String, serde_json::Value>, key: &str| {
        get_ci(obj, key).and_then(|v| v.as_str()).unwrap_or_default().to_string()
    };
    let mut out = Vec::new();
    for item in &items {
        let obj = item.as_object().ok_or("each worker must be an object")?;
        let mut w = WorkerInfo {
            id: str_of(obj, "id"),
            labels: string_map(get_ci(obj, "labels"), "labels")?,
            platforms: Vec::new(),
        };
        if let Some(ps) = get_ci(obj, "platforms").and_then(|p| p.as_array()) {
            for p in ps {
                let p = p.as_object().ok_or("each platform must be an object")?;
                let features = get_ci(p, "os.features")
                    .and_then(|f| f.as_array())
                    .map(|a| a.iter().filter_map(|s| s.as_str().map(str::to_string)).collect())
                    .unwrap_or_default();
                let platform = pb::Platform {
                    architecture: str_of(p, "architecture"),
                    os: str_of(p, "os"),
                    variant: str_of(p, "variant"),
                    os_version: str_of(p, "os.version"),
                    os_features: features,
                };
                w.platforms.push(platform.normalized());
            }
        }
        out.push(w);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(pairs: &[&str]) -> FrontendOpts {
        FrontendOpts::from_vars(
            pairs.iter().enumerate().map(|(i, kv)| (format!("{OPT_VAR_PREFIX}{i}"), kv.to_string())),
        )
        .expect("valid opts")
    }

    /// What `docker build` on Docker 20.10 sends for a plain build (order as random as Go's).
    #[test]
    fn docker_20_10_set_with_empty_values() {
        let o = FrontendOpts::from_vars([
            ("BUILDKIT_FRONTEND_OPT_3", "add-hosts="),
            ("BUILDKIT_FRONTEND_OPT_0", "image-resolve-mode=default"),
            ("BUILDKIT_FRONTEND_OPT_5", "cache-from="),
            ("BUILDKIT_FRONTEND_OPT_1", "no-cache="),
            ("BUILDKIT_FRONTEND_OPT_2", "filename=decant.yaml"),
            ("BUILDKIT_FRONTEND_OPT_4", "build-arg:HTTP_PROXY=http://proxy:3128?a=b"),
            ("BUILDKIT_FRONTEND_OPT_6", "label:org.example=x=y"),
            ("BUILDKIT_FRONTEND_OPT_7", "source=example/decant:1"),
            ("BUILDKIT_FRONTEND_OPT_8", "cmdline=example/decant:1"),
            ("BUILDKIT_SESSION_ID", "sess123"),
            ("PATH", "/usr/bin"),
        ])
        .expect("valid");
        assert_eq!(o.add_hosts().unwrap(), vec![]);
        assert_eq!(o.cache_imports().unwrap(), vec![]);
        assert_eq!(o.no_cache(), NoCache::All);
        assert_eq!(o.image_resolve_mode().unwrap(), ResolveMode::Default);
        assert_eq!(o.filename(), "decant.yaml");
        assert_eq!(o.build_args()["HTTP_PROXY"], "http://proxy:3128?a=b");
        assert_eq!(o.labels()["org.example"], "x=y");
        assert_eq!(o.session_id(), "sess123");
        assert_eq!(o.session_id_for("context"), "sess123");
        assert_eq!(o.target(), None);
        assert_eq!(o.platforms().unwrap(), vec![]);
        assert!(!o.multi_platform().unwrap());
        assert_eq!(o.force_network_mode().unwrap(), NetworkMode::Sandbox);
        assert_eq!(o.context_key(), "context");
        assert_eq!(o.dockerfile_key(), "dockerfile");
        assert!(!o.has_dockerfile_key());
        assert_eq!(o.request_id(), None);
        assert_eq!(o.get("source"), Some("example/decant:1"));
    }

    #[test]
    fn defaults_when_nothing_given() {
        let o = FrontendOpts::from_vars(Vec::<(String, String)>::new()).unwrap();
        assert_eq!(o.filename(), DEFAULT_FILENAME);
        assert_eq!(o.no_cache(), NoCache::None);
        assert_eq!(o.hostname(), None);
        assert!(o.named_contexts().unwrap().is_empty());
        assert!(o.frontend_caps().is_empty());
    }

    #[test]
    fn malformed_opt_var_is_an_error() {
        let e = FrontendOpts::from_vars([("BUILDKIT_FRONTEND_OPT_0", "novalue")]).unwrap_err();
        assert!(matches!(e, OptsError::BadVar { ref var, .. } if var == "BUILDKIT_FRONTEND_OPT_0"));
        // Not an opt var at all: ignored.
        assert!(FrontendOpts::from_vars([("BUILDKIT_FRONTEND_OPT_X", "novalue")]).is_ok());
    }

    #[test]
    fn no_cache_stages() {
        let o = opts(&["no-cache=build, test,"]);
        assert_eq!(o.no_cache(), NoCache::Stages(["build".into(), "test".into()].into()));
        // Case-insensitive, as in the Dockerfile frontend.
        let o = opts(&["no-cache=Build,TEST"]);
        assert_eq!(o.no_cache(), NoCache::Stages(["build".into(), "test".into()].into()));
    }

    #[test]
    fn cache_from_legacy_and_cache_imports_json() {
        let o = opts(&[
            "cache-from=reg.io/a:cache,reg.io/b:cache",
            r#"cache-imports=[{"Type":"local","Attrs":{"src":"/c"}},{"type":"registry","attrs":{"ref":"reg.io/a:cache"}}]"#,
        ]);
        let got = o.cache_imports().unwrap();
        let reg = |r: &str| pb::CacheOptionsEntry {
            r#type: "registry".into(),
            attrs: BTreeMap::from([("ref".to_string(), r.to_string())]),
        };
        assert_eq!(
            got,
            vec![
                pb::CacheOptionsEntry {
                    r#type: "local".into(),
                    attrs: BTreeMap::from([("src".to_string(), "/c".to_string())]),
                },
                reg("reg.io/a:cache"),
                reg("reg.io/b:cache"),
            ]
        );
        let bad = opts(&["cache-imports={\"Type\":\"x\"}"]);
        assert!(matches!(bad.cache_imports(), Err(OptsError::Invalid { ref opt, .. }) if opt == "cache-imports"));
        assert_eq!(opts(&["cache-imports="]).cache_imports().unwrap(), vec![]);
    }

    #[test]
    fn platforms_are_normalised_and_deduplicated() {
        let o = opts(&["platform=linux/amd64, linux/arm64/v8,linux/arm64,linux/arm"]);
        let ids: Vec<String> = o.platforms().unwrap().iter().map(pb::Platform::id).collect();
        assert_eq!(ids, ["linux/amd64", "linux/arm64", "linux/arm/v7"]);
        assert!(o.multi_platform().unwrap());
        let bad = opts(&["platform=linux"]);
        assert!(matches!(bad.platforms(), Err(OptsError::Invalid { ref opt, .. }) if opt == "platform"));
    }

    #[test]
    fn multi_platform_flag() {
        assert!(opts(&["multi-platform=true", "platform=linux/amd64"]).multi_platform().unwrap());
        assert!(opts(&["build-arg:BUILDKIT_MULTI_PLATFORM=1"]).multi_platform().unwrap());
        assert!(!opts(&["multi-platform="]).multi_platform().unwrap());
        assert!(opts(&["multi-platform=false", "platform=linux/amd64,linux/arm64"]).multi_platform().is_err());
        assert!(opts(&["multi-platform=maybe"]).multi_platform().is_err());
    }

    #[test]
    fn add_hosts_parsing_and_errors() {
        let o = opts(&["add-hosts=MyHost=10.0.0.1,v6host=::1"]);
        assert_eq!(
            o.add_hosts().unwrap(),
            vec![
                HostIp { host: "myhost".into(), ip: "10.0.0.1".parse().unwrap() },
                HostIp { host: "v6host".into(), ip: "::1".parse().unwrap() },
            ]
        );
        for bad in ["add-hosts=foo", "add-hosts=foo=notanip", "add-hosts==1.2.3.4"] {
            let e = opts(&[bad]).add_hosts().unwrap_err();
            assert!(e.to_string().contains("add-hosts"), "{e}");
        }
    }

    #[test]
    fn network_mode_and_resolve_mode() {
        assert_eq!(opts(&["force-network-mode=none"]).force_network_mode().unwrap(), NetworkMode::None);
        assert_eq!(opts(&["force-network-mode=host"]).force_network_mode().unwrap(), NetworkMode::Host);
        assert!(opts(&["force-network-mode=bridge"]).force_network_mode().is_err());
        assert_eq!(opts(&["image-resolve-mode=pull"]).image_resolve_mode().unwrap(), ResolveMode::Pull);
        assert!(opts(&["image-resolve-mode=never"]).image_resolve_mode().is_err());
        assert_eq!(NetworkMode::Sandbox.forced(), None);
        assert_eq!(NetworkMode::Host.forced(), Some(crate::plan::Network::Host));
    }

    #[test]
    fn named_contexts_with_platforms() {
        let o = opts(&[
            "context:base=docker-image://alpine:3.19",
            "context:base::linux/arm64/v8=docker-image://arm64v8/alpine:3.19",
            "context:src=local:src",
            "contextkey=ctx",
            "dockerfilekey=spec",
        ]);
        let got = o.named_contexts().unwrap();
        assert_eq!(got.len(), 3);
        assert_eq!(
            got[0],
            NamedContext { name: "base".into(), platform: None, value: "docker-image://alpine:3.19".into() }
        );
        assert_eq!(got[1].name, "base");
        assert_eq!(got[1].platform.as_ref().map(pb::Platform::id).as_deref(), Some("linux/arm64"));
        assert_eq!(got[2].value, "local:src");
        assert_eq!(o.context_key(), "ctx");
        assert_eq!(o.dockerfile_key(), "spec");
        assert!(o.has_dockerfile_key());
        assert!(opts(&["context:x::bogus=foo"]).named_contexts().is_err());
    }

    #[test]
    fn frontend_caps_request_id_hostname() {
        let o = opts(&[
            "frontend.caps=moby.buildkit.frontend.contexts+forward,moby.buildkit.frontend.subrequests",
            "requestid=frontend.outline",
            "build-arg:BUILDKIT_SANDBOX_HOSTNAME=box",
            "local-sessionid:context=other",
        ]);
        assert_eq!(
            o.frontend_caps(),
            vec![
                RequiredCap { name: "moby.buildkit.frontend.contexts".into(), suffix: "forward".into() },
                RequiredCap { name: "moby.buildkit.frontend.subrequests".into(), suffix: String::new() },
            ]
        );
        assert_eq!(o.request_id(), Some("frontend.outline"));
        assert_eq!(o.hostname(), Some("box"));
        assert_eq!(o.session_id_for("context"), "other");
    }

    #[test]
    fn sbom_generator_and_params() {
        assert_eq!(opts(&[]).sbom().unwrap(), None);
        let default = opts(&["attest:sbom="]).sbom().unwrap().unwrap();
        assert_eq!(default.generator.to_string(), "docker.io/docker/buildkit-syft-scanner:stable-1");
        assert!(default.params.is_empty());
        let s = opts(&["attest:sbom=generator=example.com/scan,\"MODE=a,b\",FLAG"]).sbom().unwrap().unwrap();
        assert_eq!(s.generator.to_string(), "example.com/scan:latest");
        assert_eq!(s.params, BTreeMap::from([("MODE".into(), "a,b".into()), ("FLAG".into(), String::new())]));
        let s = opts(&["build-arg:BUILDKIT_ATTEST_SBOM=generator=scan:1"]).sbom().unwrap().unwrap();
        assert_eq!(s.generator.to_string(), "docker.io/library/scan:1");
        let e = opts(&["attest:sbom=generator="]).sbom().unwrap_err().to_string();
        assert!(e.contains("sbom scanner cannot be empty"), "{e}");
        let e = opts(&["attest:sbom=generator=Bad Ref"]).sbom().unwrap_err().to_string();
        assert!(e.contains("failed to parse sbom scanner Bad Ref"), "{e}");
        let e = opts(&["attest:sbom=\"unterminated"]).sbom().unwrap_err().to_string();
        assert!(e.contains("attest:sbom") && e.contains("failed to parse sbom"), "{e}");
        let e = opts(&["attest:sbom=a\"b"]).sbom().unwrap_err().to_string();
        assert!(e.contains("bare"), "{e}");
    }

    #[test]
    fn exec_resource_opts() {
        let o = opts(&["shm-size=67108864", "ulimit=nofile=1024:2048,nproc=512", "cgroup-parent=/build"]);
        assert_eq!(o.shm_size().unwrap(), Some(64 << 20));
        assert_eq!(o.ulimits().unwrap(), vec![("nofile".into(), 1024, 2048), ("nproc".into(), 512, 512)]);
        assert_eq!(o.cgroup_parent(), Some("/build"));
        let none = opts(&["shm-size=", "ulimit=", "cgroup-parent="]);
        assert_eq!((none.shm_size().unwrap(), none.ulimits().unwrap(), none.cgroup_parent()), (None, vec![], None));
        assert_eq!(opts(&["shm-size=0"]).shm_size().unwrap(), None);
        assert_eq!(opts(&["ulimit=core=-1:-1"]).ulimits().unwrap(), vec![("core".into(), -1, -1)]);
        for bad in ["shm-size=64m", "shm-size=-1"] {
            let e = opts(&[bad]).shm_size().unwrap_err();
            assert!(e.to_string().contains("shm-size"), "{e}");
        }
        for bad in ["ulimit=nofile", "ulimit=files=1", "ulimit=nofile=2:1", "ulimit=nofile=1:2:3", "ulimit=nofile=x"] {
            let e = opts(&[bad]).ulimits().unwrap_err();
            assert!(e.to_string().contains("\"ulimit\""), "{e}");
        }
    }

    #[test]
    fn workers_json_v08_and_v010_spellings() {
        let v08 = r#"[{"ID":"w1","Labels":{"a":"b"},"Platforms":[{"architecture":"arm64","os":"linux","variant":"v8"},{"architecture":"amd64","os":"linux"}],"GCPolicy":null}]"#;
        let v010 = r#"[{"id":"w1","labels":{"a":"b"},"platforms":[{"architecture":"arm64","os":"linux","variant":"v8"},{"architecture":"amd64","os":"linux"}],"gcPolicy":[],"buildkitVersion":{}}]"#;
        let a = FrontendOpts::from_vars([("BUILDKIT_WORKERS", v08)]).unwrap();
        let b = FrontendOpts::from_vars([("BUILDKIT_WORKERS", v010)]).unwrap();
        assert_eq!(a.workers(), b.workers());
        assert_eq!(a.workers()[0].id, "w1");
        assert_eq!(a.workers()[0].labels["a"], "b");
        let ids: Vec<String> = a.workers()[0].platforms.iter().map(pb::Platform::id).collect();
        assert_eq!(ids, ["linux/arm64", "linux/amd64"]);
        assert!(FrontendOpts::from_vars([("BUILDKIT_WORKERS", "{")]).is_err());
    }
}
