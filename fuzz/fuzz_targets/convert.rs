//! Any bytes as a Dockerfile, through `decant convert` (the CLI's, and the frontend's for the
//! `ONBUILD` triggers of a base image, which come from the image's config). Convert refuses or
//! writes a spec; what it writes must read back as a spec (whatever `decant check` then says of
//! its notes), and ejecting that spec, then converting the Dockerfile again, must not fail.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| decant_fuzz::convert_checked(&String::from_utf8_lossy(data)));
