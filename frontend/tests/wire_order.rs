//! Every op decant sends is laid out byte for byte as Go's deterministic protobuf marshal lays
//! it out, because BuildKit v0.18+ re-encodes each op that way and digests the result: any other
//! layout gives the op another digest inside BuildKit, and the source map, progress output and
//! provenance no longer match what decant computed.
//!
//! Go's rule, checked here generically on the raw bytes of every op of every example and test
//! spec (and of the ops they nest): fields in field-number order, the members of a `oneof` after
//! all other fields, map entries sorted by key, and no field written at its proto3 default.
//! Which field holds which message, and which fields form a `oneof`, come from decant's wire
//! table (`frontend/proto/`, held to the Rust types by `wire_table.rs`), so a field added later
//! is held to the same rule.

mod common;

use std::collections::BTreeMap;

use decant::llb::pb;
use decant::lower::{self, Features};
use decant::plan::{BuildOptions, Platform};
use prost_reflect::{Kind, MessageDescriptor};

/// One decoded field: its number, wire type and raw payload.
struct Field<'a> {
    tag: u32,
    wire: u8,
    payload: &'a [u8],
    /// The varint value (wire type 0).
    value: u64,
}

fn varint(buf: &mut &[u8]) -> u64 {
    let mut v = 0u64;
    for shift in (0..64).step_by(7) {
        let (b, rest) = buf.split_first().expect("truncated varint");
        *buf = rest;
        v |= u64::from(b & 0x7f) << shift;
        if b & 0x80 == 0 {
            return v;
        }
    }
    panic!("varint too long")
}

fn fields(mut buf: &[u8]) -> Vec<Field<'_>> {
    let mut out = Vec::new();
    while !buf.is_empty() {
        let key = varint(&mut buf);
        let (tag, wire) = ((key >> 3) as u32, (key & 7) as u8);
        let field = match wire {
            0 => {
                let value = varint(&mut buf);
                Field { tag, wire, payload: &[], value }
            }
            1 | 5 => {
                let n = if wire == 1 { 8 } else { 4 };
                let (p, rest) = buf.split_at(n);
                buf = rest;
                Field { tag, wire, payload: p, value: 1 }
            }
            2 => {
                let n = varint(&mut buf) as usize;
                let (p, rest) = buf.split_at(n);
                buf = rest;
                Field { tag, wire, payload: p, value: 0 }
            }
            w => panic!("unexpected wire type {w} for field {tag}"),
        };
        out.push(field);
    }
    out
}

/// Checks Go's layout rule on one message and, through the wire table, on every nested one.
fn check(desc: &MessageDescriptor, bytes: &[u8], path: &str) {
    let is_oneof = |tag: u32| desc.get_field(tag).is_some_and(|f| f.containing_oneof().is_some());
    let fs = fields(bytes);
    // Where each field stands: ordinary fields first by number, then the oneof member.
    let rank = |tag: u32| if is_oneof(tag) { (1, tag) } else { (0, tag) };
    for pair in fs.windows(2) {
        assert!(
            rank(pair[0].tag) <= rank(pair[1].tag),
            "{path}: field {} written before field {} (Go writes ordinary fields by number, then the oneof)",
            pair[0].tag,
            pair[1].tag
        );
    }
    let members: Vec<u32> = fs.iter().map(|f| f.tag).filter(|t| is_oneof(*t)).collect();
    assert!(members.len() <= 1, "{path}: several members of one oneof: {members:?}");
    let mut map_keys: BTreeMap<u32, Vec<Vec<u8>>> = BTreeMap::new();
    for f in &fs {
        let field = desc.get_field(f.tag).unwrap_or_else(|| panic!("{path}: field {} is not in the wire table", f.tag));
        let here = format!("{path}.{}", field.name());
        // proto3: a scalar at its default is never written (a oneof member always is).
        let child = match field.kind() {
            Kind::Message(m) => Some(m),
            _ => None,
        };
        if f.wire == 0 && !is_oneof(f.tag) {
            assert_ne!(f.value, 0, "{here}: a zero varint is a proto3 default and must be left out");
        }
        if f.wire == 2 && f.payload.is_empty() && child.is_none() && !field.is_list() && !is_oneof(f.tag) {
            panic!("{here}: an empty string or bytes field is a proto3 default and must be left out");
        }
        match child {
            Some(entry) if field.is_map() => {
                // Go writes a map entry's key and value even when empty (prost would leave them out).
                let parts = fields(f.payload);
                let tags: Vec<u32> = parts.iter().map(|e| e.tag).collect();
                assert_eq!(tags, [1, 2], "{here}: a map entry must hold its key and then its value");
                map_keys.entry(f.tag).or_default().push(parts[0].payload.to_vec());
                if let Kind::Message(v) = entry.map_entry_value_field().kind() {
                    check(&v, parts[1].payload, &format!("{here}.value"));
                }
            }
            Some(m) => check(&m, f.payload, &format!("{here}({})", m.name())),
            None => {}
        }
    }
    for (tag, keys) in map_keys {
        assert!(keys.windows(2).all(|w| w[0] < w[1]), "{path}.{tag}: map entries are not sorted by key");
    }
}

fn op_desc() -> MessageDescriptor {
    common::wire::message("pb.Op")
}

fn check_definition(label: &str, def: &pb::Definition) {
    assert!(!def.def.is_empty(), "{label}: empty definition");
    for (i, op) in def.def.iter().enumerate() {
        check(&op_desc(), op, &format!("{label}: op {i}"));
    }
}

/// Every example for every one of its stages, on the default and another platform, with and
/// without merge ops; and the specs of the source and feature tests.
#[test]
fn every_op_is_laid_out_as_go_marshals_it() {
    let mut specs: Vec<(String, String)> = common::examples().into_iter().map(|(_, path, text)| (path, text)).collect();
    let dir = common::repo_root().join("frontend/tests/testdata/sources");
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "yaml") {
            specs.push((path.display().to_string(), std::fs::read_to_string(&path).unwrap()));
        }
    }
    specs.push(("inline".into(), INLINE.into()));
    let mut checked = 0;
    for (path, text) in &specs {
        let Ok(spec) = decant::spec::parse_spec(path, text) else { panic!("{path} does not parse") };
        for stage in &spec.stages {
            for platform in [None, Some("linux/arm64")] {
                let opts = BuildOptions {
                    target: Some(stage.name.value.clone()),
                    target_platform: platform.map(|p| Platform::parse(p).unwrap()),
                    ..Default::default()
                };
                // Stages that read named contexts need the gateway; the rest compile here.
                let Ok(plan) = decant::compile::plan(path, text, &opts) else { continue };
                if !plan.named_contexts().is_empty() {
                    continue;
                }
                for merge_op in [true, false] {
                    let inputs =
                        lower::Inputs { features: Features { merge_op, ..Default::default() }, ..Default::default() };
                    let lowered = lower::lower(&plan, &inputs).unwrap_or_else(|d| panic!("{}", d.render()));
                    check_definition(&format!("{path} [{}]", stage.name.value), &lowered.definition());
                    checked += 1;
                }
            }
        }
    }
    assert!(checked >= 30, "only {checked} definitions checked");
}

/// The SBOM scan the gateway solves (an exec with tmpfs, readonly binds and a scratch output)
/// is laid out the same way.
#[test]
fn the_sbom_scan_is_laid_out_as_go_marshals_it() {
    let text = "stages:\n  deps:\n    from: busybox:1\n    steps:\n      - copy: go.mod\n  app:\n    from: deps\n";
    let opts = BuildOptions {
        build_args: BTreeMap::from([
            ("BUILDKIT_SBOM_SCAN_CONTEXT".into(), "true".into()),
            ("BUILDKIT_SBOM_SCAN_STAGE".into(), "true".into()),
        ]),
        ..Default::default()
    };
    let lowered = lower::lower(&common::plan(text, &opts), &lower::Inputs::default()).unwrap();
    let config = br#"{"config":{"Cmd":["scan"],"Env":["A=1"],"WorkingDir":"/w"}}"#;
    let scanner = lower::sbom::Scanner {
        reference: decant::plan::ImageRef::parse("scanner:1").unwrap(),
        platform: Platform::parse("linux/arm64").unwrap(),
        config: decant::image::ImageConfig::from_json(config).unwrap(),
        params: BTreeMap::from([("P".into(), "v".into())]),
    };
    let out = scanner.scan("linux/arm64", &lowered.sbom).unwrap();
    check_definition("sbom scan", &decant::llb::marshal(&out));
}

/// The checker itself: prost's derived order (oneof at its number) is refused.
#[test]
fn the_checker_refuses_prost_field_number_order() {
    // inputs(1), then the oneof `source` (3) before platform (10): what a derived encoder writes.
    let mut bytes = vec![0x0a, 0x00]; // field 1, empty Input
    bytes.extend([0x1a, 0x02, 0x0a, 0x00]); // field 3: SourceOp with an empty identifier
    bytes.extend([0x52, 0x03, 0x0a, 0x01, b'x']); // field 10: Platform{architecture: "x"}
    let refused = std::panic::catch_unwind(|| check(&op_desc(), &bytes, "prost order"));
    assert!(refused.is_err(), "field-number order with the oneof first must be refused");
    // The same fields in Go's order pass (but for the empty identifier, a proto3 default).
    let mut go = vec![0x0a, 0x00, 0x52, 0x03, 0x0a, 0x01, b'x'];
    go.extend([0x1a, 0x03, 0x0a, 0x01, b'y']);
    check(&op_desc(), &go, "go order");
}

const INLINE: &str = r#"# syntax=decant/frontend:dev
stages:
  build:
    from: busybox:local
    workdir: /src
    env: { A: "1" }
    steps:
      - run: mkdir -p /out/bin && echo hi > /out/bin/tool
        network: none
        user: "1000"
        mounts:
          - cache: /root/.cache
            id: tools
            sharing: locked
          - secret: token
          - ssh: default
          - tmpfs: /scratch
          - bind: /ctx
  app:
    from: busybox:local
    steps:
      - copy: /out/bin/tool
        from: build
        to: /usr/local/bin/
        link: true
        chown: "1000:1000"
      - copy: /out/bin/tool
        from: build
        to: /opt/tool
        chown: "app:app"
        chmod: "0755"
      - copy: /out/bin/tool
        from: build
        to: /opt/tool2
        chown: "app:app"
        chmod: u+x,g-w
      - file: /etc/motd
        content: hi
        chmod: a+r
      - copy: [src/a.txt, docs/b.md]
        to: /data/
        parents: true
      - copy: "*.md"
        exclude: [README.md]
        to: /docs/
      - workdir: /app
      - user: app
    cmd: [tool]
"#;
