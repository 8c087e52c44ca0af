//! The Dockerfile grammar: parser directives, comments, line continuations with the escape
//! character, flags, JSON (exec) versus shell forms, and heredocs.
//!
//! Written from the Dockerfile reference and BuildKit's documented behaviour; it keeps every
//! instruction's line and column, and the comments above it, so that the converter can carry
//! them into the YAML and point at the Dockerfile when something cannot be converted.

use std::fmt;

/// A 1-based line and column (in characters) in the Dockerfile.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct Loc {
    pub line: usize,
    pub column: usize,
}

impl fmt::Display for Loc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.line, self.column)
    }
}

/// A parser directive from the top of the file (`# syntax=...`, `# escape=...`, `# check=...`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Directive {
    pub name: String,
    pub value: String,
    pub loc: Loc,
}

/// `--name=value` (or a bare `--name`) before an instruction's arguments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Flag {
    pub name: String,
    pub value: Option<String>,
    pub loc: Loc,
}

/// A heredoc opened by `<<NAME`, `<<-NAME`, `<<"NAME"` or `<<'NAME'`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Heredoc {
    pub name: String,
    /// The delimiter was quoted: the body is not expanded.
    pub quoted: bool,
    /// `<<-`: leading tabs were stripped from the body.
    pub strip_tabs: bool,
    /// The body, each line ending in `\n`.
    pub body: String,
}

/// The arguments after the flags.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Args {
    /// A JSON array of strings (exec form).
    Json(Vec<String>),
    /// Anything else, as written (continuations joined).
    Shell(String),
}

/// One instruction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Instruction {
    /// The keyword in upper case (`RUN`, `COPY`, ...).
    pub keyword: String,
    pub loc: Loc,
    /// The last line the instruction (or its last heredoc) occupies.
    pub end_line: usize,
    pub flags: Vec<Flag>,
    pub args: Args,
    /// Where the arguments start.
    pub args_loc: Loc,
    pub heredocs: Vec<Heredoc>,
    /// The instruction's lines as written (for RUN, to keep a multi-line layout), without
    /// comment lines or heredoc bodies; `None` when a continuation could not be kept as is.
    pub raw_lines: Vec<String>,
    /// Comment lines (without `#`) directly above the instruction, and those inside it.
    pub comments: Vec<String>,
}

/// A parsed Dockerfile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dockerfile {
    pub directives: Vec<Directive>,
    pub escape: char,
    pub instructions: Vec<Instruction>,
    /// Comments after the last instruction.
    pub trailing_comments: Vec<String>,
}

/// A syntax error, with its position.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    pub loc: Loc,
    pub message: String,
}

/// Instructions whose arguments may open heredocs.
const HEREDOC_INSTRUCTIONS: [&str; 3] = ["RUN", "COPY", "ADD"];
/// Instructions that take `--flags` (elsewhere `--x` is an argument, as in `CMD --serve`).
const FLAG_INSTRUCTIONS: [&str; 5] = ["FROM", "RUN", "COPY", "ADD", "HEALTHCHECK"];
/// Instructions whose arguments may be a JSON array.
const JSON_INSTRUCTIONS: [&str; 7] = ["RUN", "CMD", "ENTRYPOINT", "SHELL", "COPY", "ADD", "VOLUME"];

/// Parses a Dockerfile.
pub fn parse_dockerfile(text: &str) -> Result<Dockerfile, ParseError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    // A heredoc's body keeps a line's `\r` (BuildKit's parser copies those lines as read), the
    // rest of the file is read without it.
    let file_lines: Vec<&str> = text.split('\n').collect();
    let lines: Vec<&str> = file_lines.iter().map(|l| l.strip_suffix('\r').unwrap_or(l)).collect();
    // A final newline leaves one empty element that is no line.
    let count = if text.ends_with('\n') { lines.len() - 1 } else { lines.len() };
    let lines = &lines[..count];

    // A spec value cannot hold a NUL (nor can a Dockerfile's text reach a process with one).
    if let Some((n, line)) = lines.iter().enumerate().find(|(_, l)| l.contains('\0')) {
        let column = line[..line.find('\0').unwrap_or(0)].chars().count() + 1;
        return Err(ParseError {
            loc: Loc { line: n + 1, column },
            message: "a NUL character: a Dockerfile is text (and a spec value cannot hold one)".to_string(),
        });
    }
    let (directives, mut i) = parse_directives(lines);
    let mut escape = '\\';
    for d in &directives {
        if d.name == "escape" {
            escape = match d.value.as_str() {
                "\\" => '\\',
                "`" => '`',
                v => {
                    return Err(ParseError {
                        loc: d.loc,
                        message: format!("invalid escape character {v:?}: it must be ` or \\"),
                    })
                }
            };
        }
    }

    let mut instructions = Vec::new();
    let mut comments: Vec<String> = Vec::new();
    while i < lines.len() {
        let line = lines[i];
        let trimmed = line.trim_start();
        if trimmed.is_empty() {
            i += 1;
            continue;
        }
        if let Some(c) = trimmed.strip_prefix('#') {
            comments.push(c.strip_prefix(' ').unwrap_or(c).to_string());
            i += 1;
            continue;
        }
        let start_line = i + 1;
        // Join continuation lines; `positions` maps each char of `logical` to where it was written.
        let mut logical = String::new();
        let mut positions: Vec<Loc> = Vec::new();
        let mut raw_lines = Vec::new();
        let mut inner_comments = Vec::new();
        let indent = line.len() - trimmed.len();
        let mut cur = (i, &line[indent..], line[..indent].chars().count());
        loop {
            let (li, content, col0) = cur;
            raw_lines.push(content.to_string());
            let (body, continues) = strip_continuation(content, escape);
            for (k, ch) in body.chars().enumerate() {
                logical.push(ch);
                positions.push(Loc { line: li + 1, column: col0 + k + 1 });
            }
            i = li + 1;
            if !continues {
                break;
            }
            // Comment lines and empty lines inside a continuation are skipped.
            loop {
                match lines.get(i) {
                    None => break,
                    Some(l) if l.trim().is_empty() => i += 1,
                    Some(l) if l.trim_start().starts_with('#') => {
                        let c = &l.trim_start()[1..];
                        inner_comments.push(c.strip_prefix(' ').unwrap_or(c).to_string());
                        i += 1;
                    }
                    Some(_) => break,
                }
            }
            match lines.get(i) {
                Some(l) => cur = (i, l, 0),
                None => break,
            }
        }
        // If a comment or blank line sat inside the continuation, the raw layout is not kept.
        let kept_layout = raw_lines.len() == i + 1 - start_line;
        let mut instr = parse_instruction(&logical, &positions, escape)?;
        instr.raw_lines = if kept_layout { raw_lines } else { Vec::new() };
        instr.comments = std::mem::take(&mut comments);
        instr.comments.extend(inner_comments);
        instr.end_line = i;
        // ONBUILD's trigger may open heredocs too, when it is an instruction that may.
        let heredoc_keyword = match (instr.keyword.as_str(), &instr.args) {
            ("ONBUILD", Args::Shell(trigger)) => {
                trigger.split_whitespace().next().map(str::to_ascii_uppercase).unwrap_or_default()
            }
            (k, _) => k.to_string(),
        };
        if HEREDOC_INSTRUCTIONS.contains(&heredoc_keyword.as_str()) {
            let opened = heredoc_markers(&logical, escape);
            for (name, quoted, strip_tabs) in opened {
                let mut body = String::new();
                loop {
                    let Some(l) = lines.get(i) else {
                        return Err(ParseError {
                            loc: instr.loc,
                            message: format!("the heredoc <<{name} is not closed: no line reads {name}"),
                        });
                    };
                    let raw = file_lines[i];
                    i += 1;
                    let (l, raw) =
                        if strip_tabs { (l.trim_start_matches('\t'), raw.trim_start_matches('\t')) } else { (*l, raw) };
                    if l == name {
                        break;
                    }
                    body.push_str(raw);
                    body.push('\n');
                }
                instr.heredocs.push(Heredoc { name, quoted, strip_tabs, body });
            }
            instr.end_line = i;
        }
        instructions.push(instr);
    }
    Ok(Dockerfile { directives, escape, instructions, trailing_comments: comments })
}

/// Directives are `# name=value` lines at the very top; the first other line ends them.
fn parse_directives(lines: &[&str]) -> (Vec<Directive>, usize) {
    let mut out: Vec<Directive> = Vec::new();
    let mut i = 0;
    while let Some(line) = lines.get(i) {
        let Some(rest) = line.trim_start().strip_prefix('#') else { break };
        let Some((name, value)) = rest.split_once('=') else { break };
        let name = name.trim().to_ascii_lowercase();
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric()) {
            break;
        }
        if !["syntax", "escape", "check"].contains(&name.as_str()) || out.iter().any(|d| d.name == name) {
            // An unknown or repeated directive is a comment, and ends the directives.
            break;
        }
        let column = line.find('#').unwrap_or(0) + 1;
        out.push(Directive { name, value: value.trim().to_string(), loc: Loc { line: i + 1, column } });
        i += 1;
    }
    (out, i)
}

/// A line without its trailing escape character (and the whitespace after it), and whether the
/// instruction continues on the next line.
fn strip_continuation(line: &str, escape: char) -> (&str, bool) {
    let t = line.trim_end();
    match t.strip_suffix(escape) {
        // An escaped escape character (`\\`) at the end does not continue the line.
        Some(s)
            if !s.ends_with(escape)
                || escape != '\\'
                || s.chars().rev().take_while(|&c| c == escape).count() % 2 == 0 =>
        {
            (s, true)
        }
        _ => (line, false),
    }
}

fn parse_instruction(logical: &str, positions: &[Loc], escape: char) -> Result<Instruction, ParseError> {
    let chars: Vec<char> = logical.chars().collect();
    let loc_at = |k: usize| positions.get(k).copied().or_else(|| positions.last().copied()).unwrap_or_default();
    let kw_end = chars.iter().position(|c| c.is_whitespace()).unwrap_or(chars.len());
    let keyword: String = chars[..kw_end].iter().collect::<String>().to_ascii_uppercase();
    let mut k = kw_end;
    let skip_ws = |k: &mut usize| {
        while *k < chars.len() && chars[*k].is_whitespace() {
            *k += 1;
        }
    };
    skip_ws(&mut k);
    // Flags: leading `--name[=value]` words; `--` alone ends them and is dropped (BuildKit's
    // parser does so for every instruction: `COPY -- -file /dst`).
    let mut flags = Vec::new();
    let takes_flags = FLAG_INSTRUCTIONS.contains(&keyword.as_str());
    loop {
        if k + 1 < chars.len()
            && chars[k] == '-'
            && chars[k + 1] == '-'
            && chars.get(k + 2).is_none_or(|c| c.is_whitespace())
        {
            k += 2;
            skip_ws(&mut k);
            break;
        }
        if takes_flags && k + 2 < chars.len() && chars[k] == '-' && chars[k + 1] == '-' && !chars[k + 2].is_whitespace()
        {
            let start = k;
            let word = read_flag_word(&chars, &mut k, escape);
            let body = &word[2..];
            let (name, value) = match body.split_once('=') {
                Some((n, v)) => (n.to_ascii_lowercase(), Some(v.to_string())),
                None => (body.to_ascii_lowercase(), None),
            };
            flags.push(Flag { name, value, loc: loc_at(start) });
            skip_ws(&mut k);
        } else {
            break;
        }
    }
    let rest: String = chars[k..].iter().collect();
    let args_loc = loc_at(k);
    let rest_trim = rest.trim_end();
    let args = match (JSON_INSTRUCTIONS.contains(&keyword.as_str()), rest_trim.starts_with('[')) {
        (true, true) => match serde_json::from_str::<Vec<String>>(rest_trim) {
            Ok(v) => Args::Json(v),
            Err(_) => Args::Shell(rest_trim.to_string()),
        },
        _ => Args::Shell(rest_trim.to_string()),
    };
    Ok(Instruction {
        keyword,
        loc: loc_at(0),
        end_line: 0,
        flags,
        args,
        args_loc,
        heredocs: Vec::new(),
        raw_lines: Vec::new(),
        comments: Vec::new(),
    })
}

/// One flag word, with quotes removed (a value may be quoted: `--mount="type=cache,target=/x"`).
fn read_flag_word(chars: &[char], k: &mut usize, escape: char) -> String {
    let mut out = String::new();
    let mut quote: Option<char> = None;
    while *k < chars.len() {
        let c = chars[*k];
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) => out.push(c),
            None if c == '"' || c == '\'' => quote = Some(c),
            None if c == escape && *k + 1 < chars.len() => {
                *k += 1;
                out.push(chars[*k]);
            }
            None if c.is_whitespace() => break,
            None => out.push(c),
        }
        *k += 1;
    }
    out
}

/// The heredocs an instruction opens, in order: (name, quoted, strip tabs).
pub fn heredoc_markers(logical: &str, escape: char) -> Vec<(String, bool, bool)> {
    let mut out = Vec::new();
    let chars: Vec<char> = logical.chars().collect();
    let mut k = 0;
    let mut quote: Option<char> = None;
    while k < chars.len() {
        let c = chars[k];
        match quote {
            Some(q) => {
                if c == q {
                    quote = None;
                } else if c == escape && q == '"' {
                    k += 1;
                }
                k += 1;
                continue;
            }
            None if c == '"' || c == '\'' => {
                quote = Some(c);
                k += 1;
                continue;
            }
            None if c == escape => {
                k += 2;
                continue;
            }
            _ => {}
        }
        if c == '<'
            && chars.get(k + 1) == Some(&'<')
            && chars.get(k + 2) != Some(&'<')
            && (k == 0 || chars[k - 1] != '<')
        {
            let mut j = k + 2;
            let strip_tabs = chars.get(j) == Some(&'-');
            if strip_tabs {
                j += 1;
            }
            let q = chars.get(j).copied().filter(|c| *c == '"' || *c == '\'');
            if q.is_some() {
                j += 1;
            }
            let name_start = j;
            while j < chars.len()
                && (chars[j].is_alphanumeric() || chars[j] == '_' || chars[j] == '-' || chars[j] == '.')
            {
                j += 1;
            }
            let name: String = chars[name_start..j].iter().collect();
            if let Some(qc) = q {
                if chars.get(j) == Some(&qc) {
                    j += 1;
                } else {
                    k += 2;
                    continue;
                }
            }
            if !name.is_empty() {
                out.push((name, q.is_some(), strip_tabs));
            }
            k = j;
            continue;
        }
        k += 1;
    }
    out
}

/// Splits shell-form arguments into words the way the Dockerfile frontend does for ENV, LABEL,
/// ARG, COPY and ADD: whitespace separates words, quotes group and are removed, the escape
/// character escapes. Variable references are kept as written (see [`Word`]).
pub fn split_words(text: &str, escape: char) -> Vec<Word> {
    shell_words(text, escape, true)
}

/// `text` as one word, as BuildKit's `ProcessWord` reads the value of `ENV key value`,
/// `WORKDIR`, `USER` and `STOPSIGNAL`: quotes and escapes removed, whitespace kept as written
/// (`ENV DEPS a \t\tb` is `a \t\tb`).
pub fn one_word(text: &str, escape: char) -> Word {
    shell_words(text, escape, false).pop().unwrap_or_default()
}

fn shell_words(text: &str, escape: char, split: bool) -> Vec<Word> {
    let mut words = Vec::new();
    let mut cur: Option<Word> = None;
    let chars: Vec<char> = text.chars().collect();
    let mut k = 0;
    let mut quote: Option<char> = None;
    while k < chars.len() {
        let c = chars[k];
        // Outside single quotes, a pattern form is taken whole, its escapes kept.
        if quote != Some('\'') {
            if let Some((end, expr)) = pattern_expression(&chars, k, escape) {
                cur.get_or_insert_with(Word::default).text.push_str(&expr);
                k = end;
                continue;
            }
        }
        match quote {
            Some('\'') => {
                if c == '\'' {
                    quote = None;
                } else {
                    cur.get_or_insert_with(Word::default).push_literal(c);
                }
            }
            Some(_) => {
                if c == '"' {
                    quote = None;
                } else if c == escape
                    && k + 1 < chars.len()
                    && (matches!(chars[k + 1], '"' | '$') || chars[k + 1] == escape)
                {
                    k += 1;
                    cur.get_or_insert_with(Word::default).push_literal(chars[k]);
                } else {
                    cur.get_or_insert_with(Word::default).push_raw(c);
                }
            }
            None => {
                if c.is_whitespace() && split {
                    if let Some(w) = cur.take() {
                        words.push(w);
                    }
                } else if c == '\'' || c == '"' {
                    quote = Some(c);
                    cur.get_or_insert_with(Word::default);
                } else if c == escape && k + 1 < chars.len() {
                    k += 1;
                    cur.get_or_insert_with(Word::default).push_literal(chars[k]);
                } else {
                    cur.get_or_insert_with(Word::default).push_raw(c);
                }
            }
        }
        k += 1;
    }
    if let Some(w) = cur {
        words.push(w);
    }
    words
}

/// A pattern form (`${NAME#...}`, `${NAME%...}`, `${NAME/...}`) starting at `chars[k]`: the index
/// after its closing `}` and its text as the spec writes it. BuildKit reads the escapes inside one
/// itself (`${P//\//_}`: the `\/` is a `/` of the pattern, not its end), so they are kept, written
/// with `\` whatever the `escape` directive, for decant's expander to read the same way.
fn pattern_expression(chars: &[char], k: usize, escape: char) -> Option<(usize, String)> {
    if chars.get(k) != Some(&'$') || chars.get(k + 1) != Some(&'{') {
        return None;
    }
    let mut j = k + 2;
    while chars.get(j).is_some_and(|c| c.is_ascii_alphanumeric() || *c == '_') {
        j += 1;
    }
    if j == k + 2 || !matches!(chars.get(j), Some('#' | '%' | '/')) {
        return None;
    }
    let mut text: String = chars[k..j].iter().collect();
    let mut depth = 1;
    while let Some(&c) = chars.get(j) {
        if c == escape {
            let next = *chars.get(j + 1)?;
            text.push('\\');
            text.push(next);
            j += 2;
            continue;
        }
        text.push(c);
        j += 1;
        match c {
            '{' if text.ends_with("${") => depth += 1,
            '}' => {
                depth -= 1;
                if depth == 0 {
                    return Some((j, text));
                }
            }
            _ => {}
        }
    }
    // Not closed: left to the word splitter, which keeps it as written.
    None
}

/// A word after quote removal: its text, and which `$` signs in it were escaped (literal).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Word {
    pub text: String,
    /// Byte offsets of `$` signs that are literal (escaped or single-quoted).
    pub literal_dollars: Vec<usize>,
}

impl Word {
    /// The part `text[from..to]` (byte offsets on character boundaries), its literal `$` signs
    /// with it.
    pub fn slice(&self, from: usize, to: usize) -> Word {
        Word {
            text: self.text[from..to].to_string(),
            literal_dollars: self.literal_dollars.iter().filter(|&&d| d >= from && d < to).map(|d| d - from).collect(),
        }
    }

    fn push_literal(&mut self, c: char) {
        if c == '$' {
            self.literal_dollars.push(self.text.len());
        }
        self.text.push(c);
    }
    fn push_raw(&mut self, c: char) {
        self.text.push(c);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn continuations_comments_and_positions() {
        let df = "# syntax=docker/dockerfile:1\n\n# base\nFROM alpine AS b\n  RUN echo a \\\n# inside\n   && echo b\n";
        let d = parse_dockerfile(df).unwrap();
        assert_eq!(d.directives.len(), 1);
        assert_eq!(d.instructions[0].comments, ["base"]);
        let run = &d.instructions[1];
        assert_eq!(run.loc, Loc { line: 5, column: 3 });
        assert_eq!(run.args, Args::Shell("echo a    && echo b".into()));
        assert_eq!(run.comments, ["inside"]);
        assert!(run.raw_lines.is_empty(), "a comment inside the continuation drops the layout");
    }

    #[test]
    fn a_nul_character_is_refused_where_it_is() {
        let e = parse_dockerfile("FROM x\nCMD [\"a\", \"\u{e9}\0\"]\n").unwrap_err();
        assert_eq!(e.loc, Loc { line: 2, column: 13 });
        assert!(e.message.starts_with("a NUL character"), "{}", e.message);
    }

    #[test]
    fn escape_directive_and_flags() {
        let d = parse_dockerfile("# escape=`\nFROM x\nCOPY --from=b --chmod=755 `\n  a b /c/\n").unwrap();
        let c = &d.instructions[1];
        assert_eq!(
            c.flags.iter().map(|f| (f.name.as_str(), f.value.as_deref())).collect::<Vec<_>>(),
            [("from", Some("b")), ("chmod", Some("755"))]
        );
        assert_eq!(c.flags[1].loc, Loc { line: 3, column: 15 });
        assert_eq!(c.args, Args::Shell("a b /c/".into()));
    }

    #[test]
    fn json_form_and_heredocs() {
        let d = parse_dockerfile(
            "FROM x\nCMD [\"a\", \"b c\"]\nRUN <<EOF\necho 1\nEOF\nCOPY <<-\"A\" <<B /d/\n\tx $y\n\tA\nz\nB\n",
        )
        .unwrap();
        assert_eq!(d.instructions[1].args, Args::Json(vec!["a".into(), "b c".into()]));
        assert_eq!(d.instructions[2].heredocs[0].body, "echo 1\n");
        let c = &d.instructions[3];
        assert_eq!(c.heredocs.len(), 2);
        assert_eq!(
            (c.heredocs[0].quoted, c.heredocs[0].strip_tabs, c.heredocs[0].body.as_str()),
            (true, true, "x $y\n")
        );
        assert_eq!(c.heredocs[1].body, "z\n");
        let err = parse_dockerfile("FROM x\nRUN <<EOF\necho\n").unwrap_err();
        assert_eq!(err.loc.line, 2);
        // With CRLF line ends, a heredoc's body keeps each `\r` (BuildKit copies the lines as
        // read); its terminator and the instructions are read without it.
        let d = parse_dockerfile("FROM x\r\nCOPY <<EOF /f\r\na\r\nb\r\nEOF\r\nCMD [\"x\"]\r\n").unwrap();
        assert_eq!(d.instructions[1].heredocs[0].body, "a\r\nb\r\n");
        assert_eq!(d.instructions[2].args, Args::Json(vec!["x".into()]));
    }

    #[test]
    fn words_remove_quotes_and_mark_literal_dollars() {
        let w = split_words(r#"A="x y" B='$z' C=\$w D=$PATH"#, '\\');
        let t: Vec<&str> = w.iter().map(|w| w.text.as_str()).collect();
        assert_eq!(t, ["A=x y", "B=$z", "C=$w", "D=$PATH"]);
        assert_eq!(w[1].literal_dollars, [2]);
        assert_eq!(w[2].literal_dollars, [2]);
        assert!(w[3].literal_dollars.is_empty());
    }

    #[test]
    fn pattern_forms_keep_their_escapes() {
        let t = |text: &str, escape: char| -> Vec<String> {
            split_words(text, escape).into_iter().map(|w| w.text).collect()
        };
        assert_eq!(t(r"A=${P//\//_} B=\/x", '\\'), [r"A=${P//\//_}", "B=/x"]);
        assert_eq!(t(r#"A="${V/a b/c\}}" C=${V#${W%\*}}"#, '\\'), [r"A=${V/a b/c\}}", r"C=${V#${W%\*}}"]);
        // With `# escape=``, the pattern's escape is written `\` in the spec.
        assert_eq!(t("A=${P//`//_} B=${V:-`}", '`'), [r"A=${P//\//_}", "B=${V:-}"]);
        // Not closed: as any word.
        assert_eq!(t(r"A=${P/\/", '\\'), ["A=${P//"]);
    }
}
