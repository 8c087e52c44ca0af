//! The gateway's replies as they come off the wire (prost decoding of the LLB bridge messages),
//! and what the frontend does with each: capabilities from Ping, frontend inputs as LLB
//! definitions spliced into a build, image configs, error statuses.
#![no_main]

use decant::gateway::{pb, Caps};
use libfuzzer_sys::fuzz_target;
use prost::Message;

fuzz_target!(|data: &[u8]| {
    let Some((&which, bytes)) = data.split_first() else { return };
    match which % 8 {
        0 => {
            if let Ok(pong) = pb::PongResponse::decode(bytes) {
                let caps = Caps::from_pong(pong);
                let _ = caps.platforms();
                let _ = caps.build_platform();
                let _ = caps.require_gateway("solve.base", "solve");
            }
        }
        1 => {
            if let Ok(r) = pb::SolveResponse::decode(bytes) {
                let _ = r.encode_to_vec();
            }
        }
        2 => {
            let _ = pb::ReadFileResponse::decode(bytes);
        }
        3 => {
            if let Ok(r) = pb::ResolveImageConfigResponse::decode(bytes) {
                let _ = decant::image::ImageConfig::from_json(&r.config);
            }
        }
        4 => {
            if let Ok(inputs) = pb::InputsResponse::decode(bytes) {
                for bytes in inputs.definitions.values() {
                    if let Ok(def) = decant::llb::decode_definition(bytes) {
                        let _ = decant::llb::State::from_definition(&def);
                    }
                }
            }
        }
        5 => {
            if let Ok(def) = decant::llb::decode_definition(bytes) {
                if let Ok(state) = decant::llb::State::from_definition(&def) {
                    let _ = decant::llb::marshal(&state);
                }
                let _ = decant::llb::dump_json(&def);
            }
        }
        6 => {
            if let Ok(s) = pb::Status::decode(bytes) {
                let _ = s.encode_to_vec();
            }
        }
        _ => {
            let _ = pb::StatFileResponse::decode(bytes);
            let _ = pb::ReadDirResponse::decode(bytes);
        }
    }
});
