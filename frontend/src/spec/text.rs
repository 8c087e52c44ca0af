//! The spec's bytes as text: UTF-8 with the place of the first bad byte, and no NUL.

use crate::diag::{Diagnostic, Diagnostics, SourceFile, Span};

/// Decodes a spec file's bytes. Invalid UTF-8 is an error at the line and column of the first
/// bad byte (shown as `�` in the snippet).
pub fn decode_text(name: &str, bytes: Vec<u8>) -> Result<String, Diagnostics> {
    match String::from_utf8(bytes) {
        Ok(text) => Ok(text),
        Err(e) => {
            let at = e.utf8_error().valid_up_to();
            let bad = e.as_bytes()[at];
            let file = SourceFile::new(name, String::from_utf8_lossy(e.as_bytes()).into_owned());
            let width = file.text[at..].chars().next().map_or(0, char::len_utf8);
            let diag = Diagnostic::error(Span { start: at, end: at + width }, "the spec is not UTF-8 text")
                .label(format!("byte 0x{bad:02x} starts no UTF-8 character here"))
                .help("save the file as UTF-8");
            Err(Diagnostics::new(file, vec![diag]))
        }
    }
}

/// The byte offset of the first NUL character, which YAML does not allow (the YAML scanner
/// would take it for the end of the file and ignore the rest).
pub(super) fn first_nul(text: &str) -> Option<usize> {
    text.find('\0')
}

/// The error for a value with a NUL character (`"\0"`), at that character: no path, name or
/// command can hold one.
pub fn nul_in_value(file: &SourceFile, span: Span, value: &str) -> Option<Diagnostic> {
    let i = value.find('\0')?;
    let r = super::value_range(file, span, value, i);
    Some(Diagnostic::error(Span { start: r.start, end: r.end }, "a value cannot contain a NUL character"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalid_utf8_is_located() {
        let d = decode_text("s.yaml", b"stages:\n  app:\n    from: caf\xe9:1\n".to_vec()).unwrap_err();
        assert_eq!(d.summary(), "s.yaml:3:14: error: the spec is not UTF-8 text (save the file as UTF-8)");
        assert!(d.render().contains("byte 0xe9 starts no UTF-8 character here"), "{}", d.render());
        assert_eq!(decode_text("s.yaml", "é\n".as_bytes().to_vec()).unwrap(), "é\n");
    }
}
