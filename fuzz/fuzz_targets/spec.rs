//! Structure-aware: the bytes choose a spec of the right shape (valid YAML, values from pools of
//! good and edge values), which then goes through the compile path. Reaches plan and lowering
//! far more often than raw bytes.
#![no_main]

use arbitrary::Unstructured;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut u = Unstructured::new(data);
    let mut pick = |n: usize| u.choose_index(n).unwrap_or(0);
    let text = decant_fuzz::specgen::Gen::new(&mut pick).spec();
    decant_fuzz::compile_checked(&text);
});
