//! Merge and diff ops (BuildKit v0.10+, caps `mergeop` / `diffop`).

use super::pb;
use super::state::{cap, Caps, InputSet, OpMeta, State, Vertex};

/// Layer `states` on top of each other, first at the bottom.
///
/// Scratch inputs are dropped; with one input left it is returned as is (and `meta` is
/// dropped), with none the result is scratch. `Op.platform` is not set.
pub fn merge(states: Vec<State>, meta: OpMeta) -> State {
    let mut layers: Vec<State> = states.into_iter().filter(|s| !s.is_scratch()).collect();
    match layers.len() {
        0 => return State::scratch(),
        1 => return layers.remove(0),
        _ => {}
    }
    let mut inputs = InputSet::default();
    let merge_inputs = layers.iter().map(|s| pb::MergeInput { input: inputs.index_of(s) }).collect();
    let op = pb::Op { op: Some(pb::op::Op::Merge(pb::MergeOp { inputs: merge_inputs })), ..Default::default() };
    State::from_vertex(Vertex::new(op, inputs.outputs, meta, Caps::of(&[cap!("mergeop")])), 0)
}

/// The changes that turn `lower` into `upper`, as a filesystem of its own.
///
/// Scratch on either side is input -1; both scratch gives scratch. `Op.platform` is not set.
pub fn diff(lower: &State, upper: &State, meta: OpMeta) -> State {
    if lower.is_scratch() && upper.is_scratch() {
        return State::scratch();
    }
    let mut inputs = InputSet::default();
    let lower_index = inputs.index_of(lower);
    let upper_index = inputs.index_of(upper);
    let op = pb::Op {
        op: Some(pb::op::Op::Diff(pb::DiffOp {
            lower: Some(pb::LowerDiffInput { input: lower_index }),
            upper: Some(pb::UpperDiffInput { input: upper_index }),
        })),
        ..Default::default()
    };
    State::from_vertex(Vertex::new(op, inputs.outputs, meta, Caps::of(&[cap!("diffop")])), 0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::llb::source::{image, ImageOpts};

    fn img(r: &str) -> State {
        image(&crate::reference::ImageRef::parse(r).unwrap(), ImageOpts::default(), OpMeta::default()).unwrap()
    }

    #[test]
    fn merge_drops_scratch() {
        let a = img("alpine");
        assert!(merge(vec![], OpMeta::default()).is_scratch());
        assert!(merge(vec![State::scratch(), State::scratch()], OpMeta::default()).is_scratch());
        assert_eq!(merge(vec![State::scratch(), a.clone()], OpMeta::default()), a);
        let b = img("busybox");
        let m = merge(vec![a.clone(), State::scratch(), b, a], OpMeta::default());
        let op = m.output().unwrap().op();
        assert_eq!(op.inputs.len(), 2);
        assert!(op.platform.is_none());
        match op.op {
            Some(pb::op::Op::Merge(mo)) => {
                assert_eq!(mo.inputs.iter().map(|i| i.input).collect::<Vec<_>>(), vec![0, 1, 0]);
            }
            other => panic!("{other:?}"),
        }
        assert!(m.output().unwrap().caps().contains("mergeop"));
    }

    #[test]
    fn diff_shape() {
        let a = img("alpine");
        let b = img("busybox");
        assert!(diff(&State::scratch(), &State::scratch(), OpMeta::default()).is_scratch());
        let d = diff(&a, &b, OpMeta::default());
        let op = d.output().unwrap().op();
        assert_eq!(op.inputs.len(), 2);
        match op.op {
            Some(pb::op::Op::Diff(x)) => {
                assert_eq!((x.lower.unwrap().input, x.upper.unwrap().input), (0, 1));
            }
            other => panic!("{other:?}"),
        }
        let d2 = diff(&State::scratch(), &b, OpMeta::default());
        match d2.output().unwrap().op().op {
            Some(pb::op::Op::Diff(x)) => {
                assert_eq!((x.lower.unwrap().input, x.upper.unwrap().input), (-1, 0));
            }
            other => panic!("{other:?}"),
        }
        assert!(d.output().unwrap().caps().contains("diffop"));
    }
}
