//! The image config a stage builds: what it starts as, what its steps add (environment,
//! history), its runtime settings, and its creation time.

use std::borrow::Cow;
use std::collections::HashMap;

use crate::diag::{Diagnostic, Span};
use crate::image::{Empty, HealthConfig, History, ImageConfig, DEFAULT_PATH};
use crate::plan::values;
use crate::plan::{check_volume, CommandLine, Healthcheck, Platform, Stage, Word};

/// A base image's config, as a new stage starts from it: what the Dockerfile frontend keeps of
/// it (the OCI image with Docker's healthcheck and shell), so that old Docker-built bases'
/// `container_config`, `docker_version` and container keys (`Hostname`, `AttachStdin`, ...) do
/// not pass into the result. `OnBuild` triggers are for the image built on the base: the
/// Dockerfile frontend runs them and clears them; decant does not run them, and clears them too.
pub(super) fn inherit(base: &ImageConfig) -> ImageConfig {
    let mut c = base.clone();
    c.created = None;
    c.rootfs.diff_ids.clear();
    c.config.on_build.clear();
    c.extra.retain(|k, _| matches!(k.as_str(), "os.version" | "os.features"));
    c.config.extra.clear();
    c
}

/// The config of an image with no base (`scratch`), as Docker gives it.
pub(super) fn empty_config(platform: &Platform) -> ImageConfig {
    let mut c = ImageConfig {
        architecture: platform.architecture.clone(),
        os: platform.os.clone(),
        variant: platform.variant.clone(),
        ..Default::default()
    };
    c.config.env = vec![format!("PATH={DEFAULT_PATH}")];
    c.config.working_dir = "/".to_string();
    c
}

/// Applies the stage's runtime settings (cmd, ports, ...) to its image config; their values
/// expand against the stage's final environment.
pub(super) fn apply_runtime_config(stage: &Stage, image: &mut ImageConfig) -> Result<(), Diagnostic> {
    // The environment is lent out while the rest of the config changes (no copy of it).
    let env = std::mem::take(&mut image.config.env);
    let applied = apply_with_env(stage, image, &env);
    image.config.env = env;
    applied
}

/// [`apply_runtime_config`] with the config's environment `env` (not in `image` meanwhile).
fn apply_with_env(stage: &Stage, image: &mut ImageConfig, env: &[String]) -> Result<(), Diagnostic> {
    let rc = &stage.config;
    let x = |w: &Word| expand(w, env, stage.span).map(Cow::into_owned);
    let checked = |w: &Word, check: fn(&str) -> Result<String, String>| {
        check(&x(w)?).map_err(|msg| Diagnostic::error(stage.span, format!("in stage `{}`: {msg}", stage.name)))
    };
    let as_args = |cmd: &CommandLine| match cmd {
        CommandLine::Shell(s) => shell_command(stage, image, s),
        CommandLine::Exec(a) => a.clone(),
    };
    let entrypoint = rc.entrypoint.as_ref().map(as_args);
    let cmd = rc.cmd.as_ref().map(as_args);
    // One history entry per setting, as a Dockerfile has one per instruction (`docker history`
    // lists them), in this order, each with the value it set.
    let mut history: Vec<String> = Vec::new();
    let c = &mut image.config;
    if let Some(user) = &rc.user {
        c.user = x(user)?;
        history.push(format!("user: {}", c.user));
    }
    if !rc.expose.is_empty() {
        let mut ports = Vec::new();
        for p in &rc.expose {
            let range = checked(p, values::parse_port)?;
            ports.push(range.clone());
            for port in values::port_range(&range) {
                c.exposed_ports.insert(port, Empty {});
            }
        }
        history.push(format!("expose: {}", ports.join(" ")));
    }
    if !rc.volumes.is_empty() {
        let mut added = Vec::new();
        for v in &rc.volumes {
            let volume = checked(v, check_volume)?;
            added.push(volume.clone());
            c.volumes.insert(volume, Empty {});
        }
        history.push(format!("volumes: {}", added.join(" ")));
    }
    if !rc.labels.is_empty() {
        let mut set = Vec::new();
        for (k, v) in &rc.labels {
            let value = x(v)?;
            set.push(format!("{k}={value}"));
            c.labels.insert(k.clone(), value);
        }
        history.push(format!("labels: {}", set.join(" ")));
    }
    if let Some(sig) = &rc.stop_signal {
        c.stop_signal = checked(sig, values::parse_signal)?;
        history.push(format!("stop_signal: {}", c.stop_signal));
    }
    if let Some(h) = &rc.healthcheck {
        let health = health_config(h);
        history.push(format!("healthcheck: {}", health.test.join(" ")));
        c.healthcheck = Some(health);
    }
    if let Some(shell) = &stage.shell {
        c.shell = Some(shell.clone());
        history.push(format!("shell: {}", json_list(shell)));
    }
    for trigger in &rc.onbuild {
        history.push(format!("onbuild: {trigger}"));
    }
    c.on_build.extend(rc.onbuild.iter().cloned());
    if let Some(ep) = entrypoint {
        history.push(format!("entrypoint: {}", json_list(&ep)));
        // An empty one is no entrypoint, as Docker's config omits an empty list.
        c.entrypoint = (!ep.is_empty()).then_some(ep);
        // As in Dockerfiles, a new entrypoint drops the base image's cmd.
        if rc.cmd.is_none() {
            c.cmd = None;
        }
    }
    if let Some(cmd) = cmd {
        history.push(format!("cmd: {}", json_list(&cmd)));
        c.cmd = (!cmd.is_empty()).then_some(cmd);
        // As the Dockerfile frontend does for every CMD (an ENTRYPOINT leaves it as it was).
        c.args_escaped = true;
    }
    for entry in history {
        push_history(image, entry, true);
    }
    Ok(())
}

/// A healthcheck as Docker's config keeps it (`NONE` for `cmd: none`; 0 for Docker's default).
fn health_config(h: &Healthcheck) -> HealthConfig {
    HealthConfig {
        test: match &h.cmd {
            None => vec!["NONE".into()],
            Some(CommandLine::Shell(s)) => vec!["CMD-SHELL".into(), s.clone()],
            Some(CommandLine::Exec(a)) => std::iter::once("CMD".to_string()).chain(a.iter().cloned()).collect(),
        },
        interval: h.interval.unwrap_or(0),
        timeout: h.timeout.unwrap_or(0),
        start_period: h.start_period.unwrap_or(0),
        start_interval: h.start_interval.unwrap_or(0),
        retries: h.retries.unwrap_or(0),
    }
}

/// `["a", "b"]`: a command or shell as JSON, as history shows it.
fn json_list(items: &[String]) -> String {
    serde_json::to_string(items).unwrap_or_default()
}

/// A value expanded against an image config's environment (`K=V` entries); a name that is not
/// there is unset. A literal (most values) is its own text, not copied.
pub(super) fn expand<'a>(w: &'a Word, env: &[String], span: Span) -> Result<Cow<'a, str>, Diagnostic> {
    if let Some(text) = w.as_literal_str() {
        return Ok(Cow::Borrowed(text));
    }
    let lookup = |name: &str| env.iter().rev().find_map(|kv| value_of(kv, name).map(str::to_string));
    w.expand(&lookup).map(Cow::Owned).map_err(|e| Diagnostic::error(span, format!("`{w}`: {}", e.message)))
}

/// A shell-form command under the shell: the stage's `shell:`, the base image's, or
/// `/bin/sh -c`; in one allocation of its size.
pub(super) fn shell_command(stage: &Stage, image: &ImageConfig, cmd: &str) -> Vec<String> {
    let shell = stage.shell.as_deref().or(image.config.shell.as_deref());
    let mut args = Vec::with_capacity(shell.map_or(2, <[String]>::len) + 1);
    match shell {
        Some(sh) => args.extend(sh.iter().cloned()),
        None => args.extend(["/bin/sh".to_string(), "-c".to_string()]),
    }
    args.push(cmd.to_string());
    args
}

/// Sets the image's creation time, and that of the history entries decant added, to `epoch`.
pub(super) fn stamp(image: &mut ImageConfig, epoch: i64) {
    let created = rfc3339(epoch);
    image.created = Some(created.clone());
    for h in image.history.iter_mut().filter(|h| h.comment.as_deref() == Some("decant")) {
        h.created = Some(created.clone());
    }
}

/// `1970-01-01T00:00:00Z` for Unix seconds (UTC; proleptic Gregorian calendar).
fn rfc3339(epoch: i64) -> String {
    let days = epoch.div_euclid(86_400);
    let secs = epoch.rem_euclid(86_400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z", secs / 3600, secs % 3600 / 60, secs % 60)
}

pub(super) fn push_history(image: &mut ImageConfig, created_by: String, empty_layer: bool) {
    image.history.push(History {
        created_by: Some(created_by),
        comment: Some(std::borrow::Cow::Borrowed("decant")),
        empty_layer,
        ..Default::default()
    });
}

/// Sets `key=value` in a `K=V` list, replacing an earlier value in place.
pub(super) fn set_env(env: &mut Vec<String>, key: &str, value: &str) {
    let entry = env_entry(key, value);
    match env.iter_mut().find(|kv| value_of(kv, key).is_some()) {
        Some(slot) => *slot = entry,
        None => env.push(entry),
    }
}

/// The value of a `K=V` entry whose name is `key`: what `kv.split_once('=')` would pair with
/// `key`, without searching the entry for its `=` (the name is compared first).
fn value_of<'a>(kv: &'a str, key: &str) -> Option<&'a str> {
    kv.strip_prefix(key)?.strip_prefix('=').filter(|_| !key.contains('='))
}

/// `key=value`, in one allocation of its size (`format!` grows its buffer two or three times).
fn env_entry(key: &str, value: &str) -> String {
    let mut entry = String::with_capacity(key.len() + 1 + value.len());
    entry.push_str(key);
    entry.push('=');
    entry.push_str(value);
    entry
}

/// [`set_env`] for each pair in turn, with one index of the list instead of a search per key.
/// (A short list is searched: an index only pays off past a few dozen variables.)
pub(super) fn set_envs<'a>(env: &mut Vec<String>, pairs: impl IntoIterator<Item = (&'a str, &'a str)>) {
    let mut pairs = pairs.into_iter();
    while env.len() < 32 {
        let Some((key, value)) = pairs.next() else { return };
        set_env(env, key, value);
    }
    let key_of = |kv: &str| kv.split_once('=').map(|(k, _)| k.to_string());
    let mut index: HashMap<String, usize> = HashMap::new();
    for (i, kv) in env.iter().enumerate() {
        if let Some(k) = key_of(kv) {
            index.entry(k).or_insert(i);
        }
    }
    for (key, value) in pairs {
        let entry = env_entry(key, value);
        match index.get(key) {
            Some(&i) => env[i] = entry,
            None => {
                if let Some(k) = key_of(&entry) {
                    index.entry(k).or_insert(env.len());
                }
                env.push(entry);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(1_700_000_000), "2023-11-14T22:13:20Z");
        assert_eq!(rfc3339(4_102_444_799), "2099-12-31T23:59:59Z");
    }

    /// [`value_of`] reads an entry as `split_once('=')` does.
    #[test]
    fn entry_values_match_split_once() {
        let entries = ["A=1", "A=", "A", "AB=2", "A=B=3", "=x", "", "A==", "é=ü"];
        let keys = ["A", "AB", "", "A=B", "B", "é"];
        for kv in entries {
            for key in keys {
                let split = kv.split_once('=').filter(|(k, _)| *k == key).map(|(_, v)| v);
                assert_eq!(value_of(kv, key), split, "{kv:?} {key:?}");
            }
        }
    }

    #[test]
    fn env_replaces_in_place() {
        let mut env = vec!["A=1".to_string(), "B=2".to_string()];
        set_env(&mut env, "A", "3");
        set_env(&mut env, "C", "x=y");
        assert_eq!(env, ["A=3", "B=2", "C=x=y"]);
    }

    #[test]
    fn set_envs_is_set_env_in_turn() {
        let start: Vec<String> = ["A=1", "B=2", "A=dup", "NOEQ", "C="].map(String::from).to_vec();
        let pairs =
            [("A", "3"), ("D", "4"), ("A", "5"), ("NOEQ", "x"), ("C", "c"), ("D", "6"), ("E=F", "g"), ("E", "h")];
        let mut one_by_one = start.clone();
        for (k, v) in pairs {
            set_env(&mut one_by_one, k, v);
        }
        let mut at_once = start.clone();
        set_envs(&mut at_once, pairs);
        assert_eq!(at_once, one_by_one);
        // The same past the length where the index takes over.
        let long: Vec<String> = (0..40).map(|i| format!("V{i}={i}")).chain(start).collect();
        let mut one_by_one = long.clone();
        for (k, v) in pairs {
            set_env(&mut one_by_one, k, v);
        }
        let mut at_once = long;
        set_envs(&mut at_once, pairs);
        assert_eq!(at_once, one_by_one);
    }
}
