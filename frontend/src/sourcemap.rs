//! Spec spans as BuildKit source ranges: the one place a byte [`Span`] becomes 1-based
//! line/character positions, and those become the `int32` numbers BuildKit's protos carry
//! (saturating: a position past `i32::MAX` stays at `i32::MAX` instead of wrapping).

use crate::diag::{Pos, SourceFile, Span};

/// A 1-based line/character range, as editors and BuildKit's source maps count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LineRange {
    pub start: Pos,
    pub end: Pos,
}

impl LineRange {
    /// The range of `span` in `file` (an end before the start counts as the start).
    pub fn of(file: &SourceFile, span: Span) -> LineRange {
        let (start, end) = file.positions(span);
        LineRange { start, end }
    }

    /// The range of `span`, or line 1 column 1 when there is none (a finding about the whole
    /// file: BuildKit clients expect a range on every warning).
    pub fn of_or_first_line(file: &SourceFile, span: Option<Span>) -> LineRange {
        LineRange::of(file, span.unwrap_or_default())
    }

    /// A range from `(start_line, start_column)` to `(end_line, end_column)`, all 1-based.
    pub fn new(start: (u32, u32), end: (u32, u32)) -> LineRange {
        LineRange { start: Pos { line: start.0, column: start.1 }, end: Pos { line: end.0, column: end.1 } }
    }

    /// The start as BuildKit's `(line, character)` numbers.
    pub fn start_i32(&self) -> (i32, i32) {
        pos_i32(self.start)
    }

    /// The end as BuildKit's `(line, character)` numbers.
    pub fn end_i32(&self) -> (i32, i32) {
        pos_i32(self.end)
    }
}

fn pos_i32(p: Pos) -> (i32, i32) {
    (to_i32(p.line), to_i32(p.column))
}

/// A line or column as BuildKit's `int32`, saturating.
pub fn to_i32(n: u32) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}

impl From<LineRange> for crate::llb::Range {
    fn from(r: LineRange) -> Self {
        crate::llb::Range::new(r.start.line, r.start.column, r.end.line, r.end.column)
    }
}

impl From<LineRange> for crate::gateway::pb::Range {
    fn from(r: LineRange) -> Self {
        let ((sl, sc), (el, ec)) = (r.start_i32(), r.end_i32());
        crate::gateway::pb::Range {
            start: Some(crate::gateway::pb::Position { line: sl, character: sc }),
            end: Some(crate::gateway::pb::Position { line: el, character: ec }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conversion_saturates_instead_of_wrapping() {
        assert_eq!(to_i32(7), 7);
        assert_eq!(to_i32(u32::MAX), i32::MAX);
        assert_eq!(to_i32(i32::MAX as u32 + 1), i32::MAX);
        assert_eq!(crate::diag::to_u32(usize::MAX), u32::MAX);
        let r = LineRange::new((u32::MAX, 1), (3, u32::MAX));
        assert_eq!(r.start_i32(), (i32::MAX, 1));
        assert_eq!(r.end_i32(), (3, i32::MAX));
    }

    #[test]
    fn spans_become_one_based_ranges() {
        let f = SourceFile::new("decant.yaml", "a: 1\nbé: 2\n");
        let r = LineRange::of(&f, f.span(5..9));
        assert_eq!(r, LineRange::new((2, 1), (2, 4)));
        // An end before the start counts as the start.
        assert_eq!(LineRange::of(&f, Span { start: 5, end: 0 }), LineRange::new((2, 1), (2, 1)));
        assert_eq!(LineRange::of_or_first_line(&f, None), LineRange::new((1, 1), (1, 1)));
        let pb: crate::gateway::pb::Range = r.into();
        assert_eq!(pb.start, Some(crate::gateway::pb::Position { line: 2, character: 1 }));
    }
}
