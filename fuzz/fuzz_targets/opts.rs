//! The frontend's options as BuildKit passes them (environment variables), and every accessor
//! the frontend calls on them.
#![no_main]

use decant::gateway::FrontendOpts;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    // One variable per line, `NAME=VALUE`; a line without `=` is an option `BUILDKIT_FRONTEND_OPT_n`.
    let vars: Vec<(String, String)> = text
        .lines()
        .enumerate()
        .map(|(i, line)| match line.split_once('=') {
            Some((k, v)) if k.starts_with("BUILDKIT_") => (k.to_string(), v.to_string()),
            _ => (format!("BUILDKIT_FRONTEND_OPT_{i}"), line.to_string()),
        })
        .collect();
    let Ok(opts) = FrontendOpts::from_vars(vars) else { return };
    let _ = opts.filename();
    let _ = opts.target();
    let _ = opts.build_args();
    let _ = opts.labels();
    let _ = opts.no_cache();
    let _ = opts.image_resolve_mode();
    let _ = opts.cache_imports();
    let _ = opts.platforms();
    let _ = opts.multi_platform();
    let _ = opts.add_hosts();
    let _ = opts.force_network_mode();
    let _ = opts.hostname();
    let _ = opts.context_key();
    let _ = opts.dockerfile_key();
    let _ = opts.named_contexts();
    let _ = opts.frontend_caps();
    let _ = opts.request_id();
    let _ = opts.session_id_for(opts.context_key());
    let _ = opts.workers();
    let _ = decant::gateway::sources::named_context_names(&opts);
});
