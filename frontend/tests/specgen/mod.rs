//! A structure-aware spec generator: valid YAML of the spec's shape, every value picked from a
//! pool of good and edge-case values (relative and root paths, shared mount places, URL schemes
//! in capitals, odd git URLs, sizes past 2^63, empty names, ...).
//!
//! It draws its choices from a function (`pick(n)` returns a number below `n`), so the tests
//! drive it with a seeded random generator and the fuzz target (`fuzz/`) with the fuzzer's bytes.
#![allow(dead_code)]

use std::fmt::Write as _;

/// Choices: `pick(n)` is below `n` (and `n` is never 0).
pub struct Gen<'a> {
    pick: &'a mut dyn FnMut(usize) -> usize,
}

const PATHS: &[&str] = &[
    "/src",
    "/src/",
    "src",
    "/",
    "//",
    "",
    "/run/secrets/id",
    "/run/buildkit/ssh_agent.0",
    "/tmp",
    "/a/../..",
    "${A0}",
    "/x/${A1}",
    "./rel",
    "/cache",
];
const IMAGES: &[&str] = &["alpine:3.20", "busybox", "scratch", "Alpine", "docker.io/library/debian:12", "a@sha256:x"];
const GIT: &[&str] = &[
    "git@h:a/b.git",
    "git://h/.",
    "git@h:.",
    "https://github.com/a/b.git#v1:sub",
    "https://github.com/a/b.git#:..",
    "ssh://h/",
    "git://h/./x",
    "ssh://git@h/repo#main",
    "HTTPS://github.com/a/b.git",
    "git@h/x:y",
];
const SOURCES: &[&str] = &[
    "a.txt",
    "",
    "../x",
    "https://example.com/x.tgz",
    "HTTPS://EXAMPLE.COM/x.tgz",
    "Http://h/x",
    "http://h:99999/x",
    "https://[::1/x",
    "*.c",
    "/abs",
    "dir/",
    ".",
    "${A0}",
];
const NAMES: &[&str] = &["TOKEN", "", "A=B", "X Y", "PATH", "_", "${A0}"];
const SIZES: &[&str] =
    &["64m", "1g", "18446744073709551615", "9223372036854775807", "9223372036854775808", "-1", "x", "0", "8g"];
const MODES: &[&str] = &["0755", "999", "abc", "0", "7777", "100000"];
const IDS: &[&str] = &["1000", "0", "-1", "4294967296", "x"];
const CHOWN: &[&str] = &["1000", "a:b", ":", "1:2:3", "root", "1000:1000", ""];
const CHECKSUMS: &[&str] =
    &["sha256:4f1e7c1e2f0c1e8a1d6f5c3b2a19081726354453627181920a0b0c0d0e0f1011", "sha256:abc", "md5:00"];
const COMMANDS: &[&str] = &["echo hi", "", "  ", "make $A0 ${A1}", "none"];
const ARG_VALUES: &[&str] = &["1.0", "", "a b", "/abs", "rel", "${A0}x", "HTTPS://X.COM/a", "${NOPE}", "$${A0}"];

impl<'a> Gen<'a> {
    pub fn new(pick: &'a mut dyn FnMut(usize) -> usize) -> Self {
        Gen { pick }
    }

    fn below(&mut self, n: usize) -> usize {
        (self.pick)(n.max(1)) % n.max(1)
    }

    fn chance(&mut self, one_in: usize) -> bool {
        self.below(one_in) == 0
    }

    /// From a pool whose first value is a good one: that one three times in four.
    fn one<'s>(&mut self, pool: &[&'s str]) -> &'s str {
        if self.below(4) > 0 {
            return pool[0];
        }
        pool[self.below(pool.len())]
    }

    /// A stage name, sometimes one that does not exist.
    fn stage_ref(&mut self, n: usize) -> String {
        match self.below(n + 4) {
            i if i < n => format!("s{i}"),
            i if i == n => "s9".into(),
            _ => "context".into(),
        }
    }

    fn base_value(&mut self, n: usize) -> String {
        match self.below(3) {
            0 => self.stage_ref(n),
            1 => self.one(IMAGES).into(),
            _ => self.one(GIT).into(),
        }
    }

    /// A whole spec with up to four stages.
    pub fn spec(&mut self) -> String {
        let mut y = String::new();
        if self.chance(3) {
            y.push_str("args:\n");
            for i in 0..self.below(3) + 1 {
                let _ = writeln!(y, "  A{i}: {}", q(self.one(ARG_VALUES)));
            }
        }
        let n = self.below(4) + 1;
        y.push_str("stages:\n");
        for i in 0..n {
            let _ = writeln!(y, "  s{i}:");
            let from = if self.chance(4) { self.stage_ref(n) } else { self.one(IMAGES).into() };
            let _ = writeln!(y, "    from: {}", q(&from));
            if self.chance(3) {
                let _ = writeln!(y, "    workdir: {}", q(self.one(PATHS)));
            }
            if self.chance(4) {
                let _ = writeln!(y, "    env: {{{}: {}}}", q(self.one(NAMES)), q(self.one(ARG_VALUES)));
            }
            if self.chance(6) {
                y.push_str(if self.chance(2) { "    shell: []\n" } else { "    shell: [/bin/bash, -c]\n" });
            }
            if self.chance(5) {
                let _ = writeln!(y, "    user: {}", q(self.one(IDS)));
            }
            if self.chance(5) {
                let _ = writeln!(y, "    volumes: [{}]", q(self.one(PATHS)));
            }
            if self.chance(5) {
                let _ = writeln!(y, "    expose: [{}]", q(self.one(&["80", "53/udp", "0", "x/tcp", "70000"])));
            }
            if self.chance(5) {
                let _ = writeln!(y, "    cmd: {}", q(self.one(COMMANDS)));
            }
            if self.chance(6) {
                let _ = writeln!(
                    y,
                    "    healthcheck: {{cmd: {}, interval: {}, retries: {}}}",
                    q(self.one(COMMANDS)),
                    q(self.one(&["30s", "1m30s", "x", "0"])),
                    q(self.one(IDS))
                );
            }
            if self.chance(6) {
                let _ = writeln!(y, "    stop_signal: {}", q(self.one(&["SIGTERM", "9", "65", "SIGRTMIN+3", "NOPE"])));
            }
            let steps = self.below(5);
            if steps > 0 {
                y.push_str("    steps:\n");
            }
            for _ in 0..steps {
                self.step(&mut y, n);
            }
        }
        y
    }

    fn step(&mut self, y: &mut String, n: usize) {
        match self.below(6) {
            0 | 1 => {
                if self.chance(3) {
                    let _ = writeln!(y, "      - run: [{}]", q(self.one(&["/bin/true", "", "sh"])));
                } else {
                    let _ = writeln!(y, "      - run: {}", q(self.one(COMMANDS)));
                }
                if self.chance(4) {
                    let _ = writeln!(y, "        network: {}", q(self.one(&["none", "host", "default", "bridge"])));
                }
                if self.chance(6) {
                    let _ = writeln!(y, "        workdir: {}", q(self.one(PATHS)));
                }
                if self.chance(6) {
                    let _ = writeln!(y, "        env: {{{}: v}}", q(self.one(NAMES)));
                }
                let mounts = self.below(4);
                if mounts > 0 {
                    y.push_str("        mounts:\n");
                }
                for _ in 0..mounts {
                    self.mount(y, n);
                }
            }
            2 | 3 => self.copy(y, n),
            4 => {
                let _ = writeln!(y, "      - workdir: {}", q(self.one(PATHS)));
            }
            _ => {
                let _ = writeln!(y, "      - env: {{{}: {}}}", q(self.one(NAMES)), q(self.one(ARG_VALUES)));
            }
        }
    }

    fn mount(&mut self, y: &mut String, n: usize) {
        let kind = self.one(&["cache", "secret", "ssh", "tmpfs", "bind"]);
        // Good places differ from each other; the pool brings the clashes.
        let fresh = format!("/m{}", self.below(1000));
        let value = match kind {
            "secret" | "ssh" => self.one(&["id", "default", "", "npmrc"]),
            _ if self.below(3) > 0 => &fresh,
            _ => self.one(PATHS),
        };
        let _ = writeln!(y, "          - {kind}: {}", q(value));
        let options: &[&str] = match kind {
            "cache" => &["id", "sharing", "from", "source", "mode", "uid", "gid"],
            "secret" => &["target", "env", "required", "mode", "uid", "gid"],
            "ssh" => &["target", "required", "mode", "uid", "gid"],
            "tmpfs" => &["size"],
            _ => &["from", "source", "readwrite"],
        };
        for &opt in options {
            if !self.chance(3) {
                continue;
            }
            let v: String = match opt {
                "target" if self.below(3) > 0 => format!("/t{}", self.below(1000)),
                "target" | "source" => self.one(PATHS).into(),
                "env" => self.one(NAMES).into(),
                "size" => self.one(SIZES).into(),
                "mode" => self.one(MODES).into(),
                "uid" | "gid" => self.one(IDS).into(),
                "sharing" => self.one(&["shared", "private", "locked", "x"]).into(),
                "from" => self.base_value(n),
                "required" | "readwrite" => self.one(&["true", "false", "maybe"]).into(),
                _ => self.one(&["a", ""]).into(),
            };
            let _ = writeln!(y, "            {opt}: {}", q(&v));
        }
    }

    fn copy(&mut self, y: &mut String, n: usize) {
        let count = self.below(3) + 1;
        let sources: Vec<String> = (0..count).map(|_| q(self.one(SOURCES))).collect();
        let _ = writeln!(y, "      - copy: [{}]", sources.join(", "));
        if self.chance(2) {
            let from = self.base_value(n);
            let _ = writeln!(y, "        from: {}", q(&from));
        }
        if self.chance(2) {
            let _ = writeln!(y, "        to: {}", q(self.one(PATHS)));
        }
        if self.chance(4) {
            let _ = writeln!(y, "        chown: {}", q(self.one(CHOWN)));
        }
        if self.chance(4) {
            let _ = writeln!(y, "        chmod: {}", q(self.one(MODES)));
        }
        if self.chance(5) {
            let _ = writeln!(y, "        checksum: {}", q(self.one(CHECKSUMS)));
        }
        for flag in ["link", "parents", "keep_git_dir", "follow_symlinks"] {
            if self.chance(6) {
                let _ = writeln!(y, "        {flag}: {}", self.one(&["true", "false"]));
            }
        }
        if self.chance(6) {
            let _ = writeln!(y, "        exclude: [{}]", q(self.one(&["*.md", "", "!x"])));
        }
    }
}

/// A YAML double-quoted scalar.
fn q(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}
