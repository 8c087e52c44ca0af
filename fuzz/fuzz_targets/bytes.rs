//! Any bytes as a spec file, through the whole compile path (as `decant check` and a build).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    match decant::spec::decode_text("fuzz.yaml", data.to_vec()) {
        Ok(text) => decant_fuzz::compile_checked(&text),
        Err(d) => {
            let _ = d.render();
        }
    }
});
