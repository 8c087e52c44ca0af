//! `.dockerignore` files, read as Docker's own reader (moby/patternmatcher `ignorefile`) reads
//! them, so a context sends the same files to BuildKit as with the Dockerfile frontend.

/// The patterns of a `.dockerignore` file, in order:
/// - a UTF-8 byte order mark at the start is dropped;
/// - a line starting with `#` (before any trimming) is a comment; blank lines are skipped;
/// - the rest is trimmed; a leading `!` (exclusion) is kept, and what follows it is trimmed again;
/// - a non-empty path is cleaned like Go's `filepath.Clean` (`.`, `..` and repeated slashes
///   folded), and then loses a leading `/` unless it is just `/`.
///
/// So `!` alone stays `!`, and `/`, `!/` and `/..` (which cleans to `/`) stay `/` and `!/`.
pub fn parse(text: &str) -> Vec<String> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut out = Vec::new();
    for line in text.lines() {
        if line.starts_with('#') {
            continue;
        }
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let (neg, pat) = match line.strip_prefix('!') {
            Some(p) => ("!", p.trim()),
            None => ("", line),
        };
        let mut pat = if pat.is_empty() { String::new() } else { clean(pat) };
        if pat.len() > 1 && pat.starts_with('/') {
            pat.remove(0);
        }
        out.push(format!("{neg}{pat}"));
    }
    out
}

/// Go's `filepath.Clean` on a Unix path: folds `.`, `..` and repeated slashes; `..` cannot
/// climb above `/`; an empty result is `.` (or `/` for an absolute path). Also a cache mount's
/// default id, which the Dockerfile frontend cleans the same way (`node_modules/` is
/// `node_modules`, an empty target `.`).
pub(crate) fn clean(p: &str) -> String {
    let abs = p.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for c in p.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                if parts.last().is_some_and(|l| *l != "..") {
                    parts.pop();
                } else if !abs {
                    parts.push("..");
                }
            }
            c => parts.push(c),
        }
    }
    let joined = parts.join("/");
    match (abs, joined.is_empty()) {
        (true, _) => format!("/{joined}"),
        (false, true) => ".".into(),
        (false, false) => joined,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parsed_like_docker() {
        let text = "\u{feff}# comment\n\n  *.log \n/target/\n!target/keep\n./a/../b//c\n#x\n";
        assert_eq!(parse(text), ["*.log", "target", "!target/keep", "b/c"]);
    }

    #[test]
    fn clean_is_go_path_clean() {
        for (path, cleaned) in [
            ("", "."),
            (".", "."),
            ("/", "/"),
            ("/root/.cache/", "/root/.cache"),
            ("//a//b/./c/..", "/a/b"),
            ("node_modules/", "node_modules"),
            ("../x", "../x"),
            ("a/../../b", "../b"),
            ("/../a", "/a"),
        ] {
            assert_eq!(clean(path), cleaned, "{path:?}");
        }
    }

    /// The lines where decant and Docker's reader used to differ.
    #[test]
    fn edge_lines_match_docker() {
        assert_eq!(parse("!\n/\n!/\n/..\n"), ["!", "/", "!/", "/"]);
        assert_eq!(parse("! \n  !  /x/ \n..\n../a/..\n.\n/./\n"), ["!", "!x", "..", "..", ".", "/"]);
        // A comment only at the very start of a line; a BOM only at the start of the file.
        assert_eq!(parse(" #x\n\u{feff}y\r\nz\r"), ["#x", "\u{feff}y", "z"]);
    }
}
