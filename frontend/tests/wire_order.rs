//! Every op decant sends is laid out byte for byte as Go's deterministic protobuf marshal lays
//! it out, because BuildKit v0.18+ re-encodes each op that way and digests the result: any other
//! layout gives the op another digest inside BuildKit, and the source map, progress output and
//! provenance no longer match what decant computed.
//!
//! Go's rule, checked here generically on the raw bytes of every op of every example and test
//! spec (and of the ops they nest): fields in field-number order, the members of a `oneof` after
//! all other fields, map entries sorted by key, and no field written at its proto3 default.
//! A table of message shapes (which field holds which message, which fields form a `oneof`)
//! is all the test knows of the schema, so a field added later is held to the same rule.

mod common;

use std::collections::BTreeMap;

use decant::llb::pb;
use decant::lower::{self, Features};
use decant::plan::{BuildOptions, Platform};

/// A field's payload kind, as far as the order rule needs it.
#[derive(Clone, Copy)]
enum Kind {
    /// A nested message of this name.
    Msg(&'static str),
    /// A map entry (key 1, value 2) whose value is a message of this name, or a scalar (None).
    Map(Option<&'static str>),
    /// A string, bytes or packed repeated scalar: not descended into.
    Opaque,
}

/// The shape of one message: its message-typed fields and its `oneof` members.
struct Shape {
    fields: &'static [(u32, Kind)],
    oneof: &'static [u32],
}

fn shape(name: &str) -> Shape {
    use Kind::*;
    let (fields, oneof): (&'static [(u32, Kind)], &'static [u32]) = match name {
        "Op" => (
            &[
                (1, Msg("Input")),
                (2, Msg("ExecOp")),
                (3, Msg("SourceOp")),
                (4, Msg("FileOp")),
                (6, Msg("MergeOp")),
                (7, Msg("DiffOp")),
                (10, Msg("Platform")),
                (11, Msg("WorkerConstraints")),
            ],
            &[2, 3, 4, 5, 6, 7, 8],
        ),
        "ExecOp" => (&[(1, Msg("Meta")), (2, Msg("Mount")), (5, Msg("SecretEnv"))], &[]),
        "Meta" => (&[(5, Msg("ProxyEnv")), (6, Msg("HostIP")), (9, Msg("Ulimit"))], &[]),
        "Mount" => (&[(19, Msg("TmpfsOpt")), (20, Msg("CacheOpt")), (21, Msg("SecretOpt")), (22, Msg("SSHOpt"))], &[]),
        "SourceOp" => (&[(2, Map(None))], &[]),
        "FileOp" => (&[(2, Msg("FileAction"))], &[]),
        "FileAction" => (
            &[
                (4, Msg("FileActionCopy")),
                (5, Msg("FileActionMkFile")),
                (6, Msg("FileActionMkDir")),
                (7, Msg("FileActionRm")),
                (8, Msg("FileActionSymlink")),
            ],
            &[4, 5, 6, 7, 8],
        ),
        // `modeStr` (15): a string, checked for its place only.
        "FileActionCopy" => (&[(3, Msg("ChownOpt")), (15, Opaque)], &[]),
        "FileActionSymlink" => (&[(3, Msg("ChownOpt"))], &[]),
        "FileActionMkFile" | "FileActionMkDir" => (&[(4, Msg("ChownOpt"))], &[]),
        "ChownOpt" => (&[(1, Msg("UserOpt")), (2, Msg("UserOpt"))], &[]),
        "UserOpt" => (&[(1, Msg("NamedUserOpt"))], &[1, 2]),
        "MergeOp" => (&[(1, Msg("MergeInput"))], &[]),
        "DiffOp" => (&[(1, Msg("LowerDiffInput")), (2, Msg("UpperDiffInput"))], &[]),
        "WorkerConstraints" => (&[(1, Opaque)], &[]),
        _ => (&[], &[]),
    };
    Shape { fields, oneof }
}

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

/// Checks Go's layout rule on one message and, through the shape table, on every nested one.
fn check(name: &str, bytes: &[u8], path: &str) {
    let shape = shape(name);
    let fs = fields(bytes);
    if name == "MapEntry" {
        // Go writes a map entry's key and value even when empty (prost would leave them out).
        let tags: Vec<u32> = fs.iter().map(|f| f.tag).collect();
        assert_eq!(tags, [1, 2], "{path}: a map entry must hold its key and then its value");
        return;
    }
    // Where each field stands: ordinary fields first by number, then the oneof member.
    let rank = |tag: u32| if shape.oneof.contains(&tag) { (1, tag) } else { (0, tag) };
    for pair in fs.windows(2) {
        assert!(
            rank(pair[0].tag) <= rank(pair[1].tag),
            "{path}: field {} written before field {} (Go writes ordinary fields by number, then the oneof)",
            pair[0].tag,
            pair[1].tag
        );
    }
    let members: Vec<u32> = fs.iter().map(|f| f.tag).filter(|t| shape.oneof.contains(t)).collect();
    assert!(members.len() <= 1, "{path}: several members of one oneof: {members:?}");
    let mut map_keys: BTreeMap<u32, Vec<Vec<u8>>> = BTreeMap::new();
    for f in &fs {
        let kind = shape.fields.iter().find(|(t, _)| *t == f.tag).map(|(_, k)| *k).unwrap_or(Kind::Opaque);
        let here = format!("{path}.{}", f.tag);
        // proto3: a scalar at its default is never written (a oneof member always is).
        if f.wire == 0 && !shape.oneof.contains(&f.tag) {
            assert_ne!(f.value, 0, "{here}: a zero varint is a proto3 default and must be left out");
        }
        if f.wire == 2 && f.payload.is_empty() && matches!(kind, Kind::Opaque) && !shape.oneof.contains(&f.tag) {
            panic!("{here}: an empty string or bytes field is a proto3 default and must be left out");
        }
        match kind {
            Kind::Msg(child) => check(child, f.payload, &format!("{here}({child})")),
            Kind::Map(value) => {
                let entry = fields(f.payload);
                let key = entry.iter().find(|e| e.tag == 1).map(|e| e.payload.to_vec()).unwrap_or_default();
                map_keys.entry(f.tag).or_default().push(key);
                check("MapEntry", f.payload, &here);
                if let (Some(v), Some(e)) = (value, entry.iter().find(|e| e.tag == 2)) {
                    check(v, e.payload, &format!("{here}.value({v})"));
                }
            }
            Kind::Opaque => {}
        }
    }
    for (tag, keys) in map_keys {
        assert!(keys.windows(2).all(|w| w[0] < w[1]), "{path}.{tag}: map entries are not sorted by key");
    }
}

fn check_definition(label: &str, def: &pb::Definition) {
    assert!(!def.def.is_empty(), "{label}: empty definition");
    for (i, op) in def.def.iter().enumerate() {
        check("Op", op, &format!("{label}: op {i}"));
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
    let refused = std::panic::catch_unwind(|| check("Op", &bytes, "prost order"));
    assert!(refused.is_err(), "field-number order with the oneof first must be refused");
    // The same fields in Go's order pass (but for the empty identifier, a proto3 default).
    let mut go = vec![0x0a, 0x00, 0x52, 0x03, 0x0a, 0x01, b'x'];
    go.extend([0x1a, 0x03, 0x0a, 0x01, b'y']);
    check("Op", &go, "go order");
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
