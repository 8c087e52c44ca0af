//! Parsers for the small value languages of a spec: durations, ports, signals, modes, platforms.
//! Each returns a message that says what was expected.

use serde::Serialize;

/// `10s`, `1m30s`, `500ms`, `1.5h`: Go's duration syntax, as Docker's healthcheck options use it.
/// Returns nanoseconds.
pub fn parse_duration(s: &str) -> Result<u64, String> {
    let err = || format!("`{s}` is not a duration (examples: 30s, 1m30s, 500ms)");
    if s.is_empty() {
        return Err(err());
    }
    if s == "0" {
        return Ok(0);
    }
    let mut total: f64 = 0.0;
    let mut rest = s;
    while !rest.is_empty() {
        let num_len = rest.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(rest.len());
        if num_len == 0 {
            return Err(err());
        }
        let value: f64 = rest[..num_len].parse().map_err(|_| err())?;
        rest = &rest[num_len..];
        let unit_len = rest.find(|c: char| c.is_ascii_digit() || c == '.').unwrap_or(rest.len());
        let scale = match &rest[..unit_len] {
            "ns" => 1.0,
            "us" | "µs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            _ => return Err(err()),
        };
        rest = &rest[unit_len..];
        total += value * scale;
    }
    if total > u64::MAX as f64 / 2.0 {
        return Err(format!("`{s}` is too long a duration"));
    }
    Ok(total.round() as u64)
}

/// An exposed port or range: `80`, `80/tcp`, `53/udp`, `8000-8010`; normalised to `80/tcp`,
/// `8000-8010/tcp` (see [`port_range`]).
pub fn parse_port(s: &str) -> Result<String, String> {
    let (port, proto) = s.split_once('/').unwrap_or((s, "tcp"));
    let proto = proto.to_ascii_lowercase();
    if !matches!(proto.as_str(), "tcp" | "udp" | "sctp") {
        return Err(format!("`{proto}` is not a port protocol (tcp, udp or sctp)"));
    }
    let number = |p: &str| match p.parse::<u16>() {
        Ok(n) if n > 0 => Ok(n),
        _ => Err(format!("`{p}` is not a port number (1-65535)")),
    };
    match port.split_once('-') {
        Some((a, b)) => {
            let (a, b) = (number(a)?, number(b)?);
            if a > b {
                return Err(format!("`{port}` is not a port range: {a} is above {b}"));
            }
            Ok(if a == b { format!("{a}/{proto}") } else { format!("{a}-{b}/{proto}") })
        }
        None => Ok(format!("{}/{proto}", number(port)?)),
    }
}

/// The ports of a normalised port or range (`8000-8002/tcp` -> `8000/tcp`, `8001/tcp`,
/// `8002/tcp`), as Docker's EXPOSE lists a range in the image config.
pub fn port_range(normalised: &str) -> Vec<String> {
    let (ports, proto) = normalised.split_once('/').unwrap_or((normalised, "tcp"));
    match ports.split_once('-').and_then(|(a, b)| Some((a.parse::<u16>().ok()?, b.parse::<u16>().ok()?))) {
        Some((a, b)) => (a..=b).map(|p| format!("{p}/{proto}")).collect(),
        None => vec![normalised.to_string()],
    }
}

const SIGNALS: &[&str] = &[
    "ABRT", "ALRM", "BUS", "CHLD", "CONT", "FPE", "HUP", "ILL", "INT", "IO", "IOT", "KILL", "PIPE", "POLL", "PROF",
    "PWR", "QUIT", "SEGV", "STKFLT", "STOP", "SYS", "TERM", "TRAP", "TSTP", "TTIN", "TTOU", "URG", "USR1", "USR2",
    "VTALRM", "WINCH", "XCPU", "XFSZ",
];

/// The Dockerfile instructions an `ONBUILD` trigger may be: all but `ONBUILD`, `FROM` and
/// `MAINTAINER`, as BuildKit's parser allows.
const TRIGGER_INSTRUCTIONS: &[&str] = &[
    "ADD",
    "ARG",
    "CMD",
    "COPY",
    "ENTRYPOINT",
    "ENV",
    "EXPOSE",
    "HEALTHCHECK",
    "LABEL",
    "RUN",
    "SHELL",
    "STOPSIGNAL",
    "USER",
    "VOLUME",
    "WORKDIR",
];

/// An `ONBUILD` trigger: one Dockerfile instruction with its arguments, on one line, kept as
/// written (trimmed): the image stores it and a Dockerfile build parses it later.
pub fn parse_onbuild_trigger(s: &str) -> Result<String, String> {
    let t = s.trim();
    if t.contains(['\n', '\r']) {
        return Err("an `onbuild` trigger is one instruction on one line".to_string());
    }
    let (word, rest) = t.split_once(char::is_whitespace).unwrap_or((t, ""));
    let name = word.to_ascii_uppercase();
    if ["ONBUILD", "FROM", "MAINTAINER"].contains(&name.as_str()) {
        return Err(format!("`{word}` is not allowed as an `onbuild` trigger, as in a Dockerfile"));
    }
    if !TRIGGER_INSTRUCTIONS.contains(&name.as_str()) {
        let help = match crate::diag::did_you_mean(&name, TRIGGER_INSTRUCTIONS.iter().copied()) {
            Some(near) => format!(" (did you mean `{near}`?)"),
            None => String::new(),
        };
        return Err(format!(
            "an `onbuild` trigger starts with a Dockerfile instruction such as `RUN` or `COPY`, not `{word}`{help}"
        ));
    }
    if rest.trim().is_empty() {
        return Err(format!("the `onbuild` trigger `{word}` has no arguments"));
    }
    Ok(t.to_string())
}

/// A stop signal: `SIGTERM`, `TERM`, `15`, `SIGRTMIN+3`. Names are kept as written in the
/// `SIG...` form Docker prints.
pub fn parse_signal(s: &str) -> Result<String, String> {
    if let Ok(n) = s.parse::<u32>() {
        return if (1..=64).contains(&n) {
            Ok(s.to_string())
        } else {
            Err(format!("`{s}` is not a signal number (1-64)"))
        };
    }
    let upper = s.to_ascii_uppercase();
    let name = upper.strip_prefix("SIG").unwrap_or(&upper);
    let rt_ok = |base: &str| {
        name.strip_prefix(base).is_some_and(|r| {
            r.is_empty() || r.strip_prefix(['+', '-']).is_some_and(|n| n.parse::<u8>().is_ok_and(|n| n <= 30))
        })
    };
    if SIGNALS.contains(&name) || rt_ok("RTMIN") || rt_ok("RTMAX") {
        Ok(format!("SIG{name}"))
    } else {
        Err(format!("`{s}` is not a signal name (e.g. SIGTERM, SIGINT, SIGQUIT)"))
    }
}

/// A file mode in octal: `755`, `0644`.
pub fn parse_mode(s: &str) -> Result<u32, String> {
    match u32::from_str_radix(s, 8) {
        Ok(m) if m <= 0o7777 && !s.is_empty() => Ok(m),
        _ => Err(format!("`{s}` is not an octal file mode (e.g. 0755)")),
    }
}

/// The mode a `copy` or `file` step gives its files: octal, or symbolic as `chmod` writes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum Mode {
    /// `0755`: these permission bits.
    Octal(u32),
    /// `u+x`, `g-w,o=r`: changes to each file's own mode, applied by BuildKit (0.17+), as
    /// Dockerfile's `COPY --chmod=u+x` (1.10+).
    Symbolic(String),
}

/// A `chmod` value: octal (`0755`) when it starts with a digit, else symbolic (`u+x`,
/// `g-w,o=r`, `a=rX`) in the grammar BuildKit's parser (BSD `setmode`) takes: clauses split by
/// `,`, each `[ugoa]*` then one or more `[+-=]` each followed by `[rwxXstugo]*`.
pub fn parse_chmod(s: &str) -> Result<Mode, String> {
    if s.starts_with(|c: char| c.is_ascii_digit()) {
        return parse_mode(s).map(Mode::Octal);
    }
    if is_symbolic_mode(s) {
        Ok(Mode::Symbolic(s.to_string()))
    } else {
        Err(format!("`{s}` is not a file mode: octal (0755) or symbolic, as chmod takes it (u+x, g-w,o=r)"))
    }
}

fn is_symbolic_mode(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = 0;
    loop {
        while i < b.len() && matches!(b[i], b'a' | b'u' | b'g' | b'o') {
            i += 1;
        }
        loop {
            if i >= b.len() || !matches!(b[i], b'+' | b'-' | b'=') {
                return false;
            }
            i += 1;
            while i < b.len() && matches!(b[i], b'r' | b'w' | b'x' | b'X' | b's' | b't' | b'u' | b'g' | b'o') {
                i += 1;
            }
            if i == b.len() {
                return true;
            }
            if b[i] == b',' {
                i += 1;
                break;
            }
        }
    }
}

/// A non-negative integer such as a healthcheck's retries.
pub fn parse_count(s: &str) -> Result<u32, String> {
    s.parse::<u32>().map_err(|_| format!("`{s}` is not a whole number"))
}

/// An OCI platform: `linux/amd64`, `linux/arm64/v8`, `linux/arm/v7`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct Platform {
    pub os: String,
    pub architecture: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
}

impl Platform {
    /// Parses `os/arch[/variant]` and normalises it (see [`Platform::normalize`]).
    pub fn parse(s: &str) -> Result<Platform, String> {
        let spec = s.trim();
        let parts: Vec<&str> = spec.split('/').collect();
        let ok = |p: &str| !p.is_empty() && p.chars().all(|c| c.is_ascii_alphanumeric() || "_-.".contains(c));
        match parts.as_slice() {
            [os, arch] if ok(os) && ok(arch) => Ok(Platform::normalize(os, arch, "")),
            [os, arch, v] if ok(os) && ok(arch) && ok(v) => Ok(Platform::normalize(os, arch, v)),
            _ => Err(format!("`{spec}` is not a platform (os/arch[/variant], e.g. linux/amd64)")),
        }
    }

    /// The canonical form BuildKit uses for ids, as containerd normalises: lower case,
    /// canonical architecture names (`x86_64` -> `amd64`, `aarch64` -> `arm64`), default
    /// variants dropped (`arm64/v8` -> `arm64`, `amd64/v1` -> `amd64`) or filled in
    /// (`arm` -> `arm/v7`).
    pub fn normalize(os: &str, architecture: &str, variant: &str) -> Platform {
        let os = match os.to_ascii_lowercase().as_str() {
            "macos" => "darwin".to_string(),
            other => other.to_string(),
        };
        let arch = architecture.to_ascii_lowercase();
        let variant = variant.to_ascii_lowercase();
        let (architecture, variant) = match arch.as_str() {
            "i386" | "i486" | "i586" | "i686" | "386" => ("386".to_string(), String::new()),
            "x86_64" | "x86-64" | "amd64" => {
                ("amd64".to_string(), if variant == "v1" { String::new() } else { variant })
            }
            "aarch64" | "arm64" => (
                "arm64".to_string(),
                if matches!(variant.as_str(), "8" | "v8" | "v8.0") { String::new() } else { variant },
            ),
            "armhf" => ("arm".to_string(), "v7".to_string()),
            "armel" => ("arm".to_string(), "v6".to_string()),
            "arm" => {
                let v = match variant.as_str() {
                    "" | "7" => "v7".to_string(),
                    "5" | "6" | "8" => format!("v{variant}"),
                    _ => variant,
                };
                ("arm".to_string(), v)
            }
            _ => (arch, variant),
        };
        Platform { os, architecture, variant: Some(variant).filter(|v| !v.is_empty()) }
    }

    /// `linux/arm/v7`
    pub fn id(&self) -> String {
        match &self.variant {
            Some(v) => format!("{}/{}/{v}", self.os, self.architecture),
            None => format!("{}/{}", self.os, self.architecture),
        }
    }
}

impl Default for Platform {
    fn default() -> Self {
        Platform { os: "linux".into(), architecture: "amd64".into(), variant: None }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("10s"), Ok(10_000_000_000));
        assert_eq!(parse_duration("1m30s"), Ok(90_000_000_000));
        assert_eq!(parse_duration("500ms"), Ok(500_000_000));
        assert_eq!(parse_duration("1.5h"), Ok(5_400_000_000_000));
        for bad in ["", "10", "s", "10x", "1m-3s"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn ports_signals_modes() {
        assert_eq!(parse_port("80"), Ok("80/tcp".into()));
        assert_eq!(parse_port("53/UDP"), Ok("53/udp".into()));
        assert!(parse_port("0").is_err() && parse_port("70000").is_err() && parse_port("80/xyz").is_err());
        assert_eq!(parse_port("8000-8002/UDP"), Ok("8000-8002/udp".into()));
        assert_eq!(parse_port("90-90"), Ok("90/tcp".into()));
        assert!(parse_port("9-8").is_err() && parse_port("1-").is_err() && parse_port("-3").is_err());
        assert_eq!(port_range("8000-8002/udp"), ["8000/udp", "8001/udp", "8002/udp"]);
        assert_eq!(port_range("80/tcp"), ["80/tcp"]);
        assert_eq!(parse_signal("TERM"), Ok("SIGTERM".into()));
        assert_eq!(parse_signal("sigint"), Ok("SIGINT".into()));
        assert_eq!(parse_signal("SIGRTMIN+3"), Ok("SIGRTMIN+3".into()));
        assert_eq!(parse_signal("9"), Ok("9".into()));
        assert!(parse_signal("SIGFOO").is_err() && parse_signal("99").is_err());
        assert_eq!(parse_mode("0755"), Ok(0o755));
        assert!(parse_mode("0999").is_err() && parse_mode("").is_err());
    }

    #[test]
    fn symbolic_modes() {
        for ok in ["u+x", "g-w,o=r", "a=rX", "+x", "=", "u=rwx,go=rx", "ug+s", "o-t", "u+x-w", "g=u", "a+rwxXst"] {
            assert_eq!(parse_chmod(ok), Ok(Mode::Symbolic(ok.into())), "{ok}");
        }
        for bad in ["", "u", "x", "u+x,", ",u+x", "u+y", "z+x", "u+x g", "u+X,,g+x", "rwx", "0999", "9"] {
            assert!(parse_chmod(bad).is_err(), "{bad}");
        }
        assert_eq!(parse_chmod("755"), Ok(Mode::Octal(0o755)));
        assert!(parse_chmod("0999").unwrap_err().contains("octal"));
    }

    #[test]
    fn platforms() {
        assert_eq!(Platform::parse("linux/arm64/v8").unwrap().id(), "linux/arm64");
        assert_eq!(Platform::parse("linux/arm").unwrap().id(), "linux/arm/v7");
        assert_eq!(Platform::parse("linux/x86_64").unwrap().id(), "linux/amd64");
        assert_eq!(Platform::parse("Linux/AMD64/v1").unwrap().id(), "linux/amd64");
        assert_eq!(Platform::parse("linux/amd64/v3").unwrap().id(), "linux/amd64/v3");
        assert_eq!(Platform::parse("linux/arm/6").unwrap().id(), "linux/arm/v6");
        assert_eq!(Platform::parse(" linux/riscv64 ").unwrap().id(), "linux/riscv64");
        for bad in ["", "linux", "linux/", "/amd64", "a/b/c/d", "linux/am d64"] {
            assert!(Platform::parse(bad).is_err(), "{bad:?}");
        }
    }
}
