//! `.dockerignore` text: parsed without a panic, into cleaned patterns (as Docker's reader
//! gives them: `/!/c` becomes `!/c`, which the matcher then reads as an exclusion, as Docker's
//! does).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    for p in decant::dockerignore::parse(&text) {
        assert!(!p.is_empty(), "an empty pattern");
        // Cleaned: no empty or `.` component, no trailing `/` but on `/` itself.
        assert!(!p.contains("//") && !p.contains("/./") && !p.ends_with("/."), "{p:?}");
        assert!(!p.ends_with('/') || p == "/" || p == "!/", "{p:?}");
    }
});
