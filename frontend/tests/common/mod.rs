//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

pub mod wire;

use decant::llb::pb;
use decant::plan::{BuildOptions, Plan};
use decant::{compile, llb, lower};

/// The repository root (the workspace, one level above the crate).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

/// Every `examples/*/decant.yaml`, sorted by example name: (name, display path, text).
pub fn examples() -> Vec<(String, String, String)> {
    let dir = repo_root().join("examples");
    let mut out: Vec<(String, String, String)> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
        .filter_map(|entry| {
            let entry = entry.unwrap();
            let spec = entry.path().join("decant.yaml");
            spec.is_file().then(|| {
                let name = entry.file_name().to_string_lossy().into_owned();
                let text = std::fs::read_to_string(&spec).unwrap();
                (name.clone(), format!("examples/{name}/decant.yaml"), text)
            })
        })
        .collect();
    out.sort();
    assert!(out.len() >= 4, "expected at least 4 examples, found {}", out.len());
    out
}

pub fn plan(text: &str, opts: &BuildOptions) -> Plan {
    compile::plan("decant.yaml", text, opts).unwrap_or_else(|d| panic!("plan failed:\n{}", d.render()))
}

pub fn target(t: &str) -> BuildOptions {
    BuildOptions { target: Some(t.to_string()), ..Default::default() }
}

/// text -> plan -> lower -> Definition, panicking with rendered diagnostics on error.
pub fn definition(text: &str, opts: &BuildOptions) -> pb::Definition {
    let p = plan(text, opts);
    lower::lower(&p, &lower::Inputs::default()).unwrap_or_else(|d| panic!("lower failed:\n{}", d.render())).definition()
}

/// The digests of every op of a definition except the terminal one, sorted.
pub fn op_digests(def: &pb::Definition) -> Vec<String> {
    let n = def.def.len().saturating_sub(1);
    let mut v: Vec<String> = def.def[..n].iter().map(|b| llb::digest_of(b)).collect();
    v.sort();
    v
}

/// Every copy action of a definition.
pub fn copies(def: &pb::Definition) -> Vec<pb::FileActionCopy> {
    use prost::Message;
    def.def
        .iter()
        .filter_map(|b| match pb::Op::decode(b.as_slice()).unwrap().op {
            Some(pb::op::Op::File(f)) => Some(f.actions),
            _ => None,
        })
        .flatten()
        .filter_map(|a| match a.action {
            Some(pb::file_action::Action::Copy(c)) => Some(c),
            _ => None,
        })
        .collect()
}
