//! Decoding Definitions and dumping them as readable JSON (like `buildctl debug dump-llb`).
//!
//! Objects are built from `serde_json::Map` with keys inserted in sorted order, so the
//! output is byte-stable whether or not serde_json's `preserve_order` feature is on.

use base64::Engine as _;
use prost::Message;
use serde_json::{Map, Value};

use super::pb;
use super::state::digest_of;

/// Decode a Definition received as bytes (e.g. from the gateway).
pub fn decode_definition(bytes: &[u8]) -> Result<pb::Definition, prost::DecodeError> {
    pb::Definition::decode(bytes)
}

/// An object from `(key, value)` pairs; `Null` values are left out; keys are sorted.
fn obj(pairs: Vec<(&str, Value)>) -> Value {
    let mut pairs: Vec<(&str, Value)> = pairs.into_iter().filter(|(_, v)| !v.is_null()).collect();
    pairs.sort_by(|a, b| a.0.cmp(b.0));
    let mut m = Map::new();
    for (k, v) in pairs {
        m.insert(k.to_string(), v);
    }
    Value::Object(m)
}

fn str_or_null(s: &str) -> Value {
    if s.is_empty() {
        Value::Null
    } else {
        Value::from(s)
    }
}

fn true_or_null(b: bool) -> Value {
    if b {
        Value::Bool(true)
    } else {
        Value::Null
    }
}

fn list_or_null<T: Clone + Into<Value>>(v: &[T]) -> Value {
    if v.is_empty() {
        Value::Null
    } else {
        Value::from(v.to_vec())
    }
}

fn opt<T>(o: &Option<T>, f: impl FnOnce(&T) -> Value) -> Value {
    o.as_ref().map_or(Value::Null, f)
}

fn string_map(m: &std::collections::BTreeMap<String, String>) -> Value {
    if m.is_empty() {
        return Value::Null;
    }
    Value::Object(m.iter().map(|(k, v)| (k.clone(), Value::from(v.as_str()))).collect())
}

/// Enum name, or the number when it is unknown.
fn enum_name<E: pb::ProtoEnum>(v: i32) -> Value {
    E::try_from(v).map_or(Value::from(v), |e| Value::from(e.proto_name()))
}

fn content_cache(v: i32) -> Value {
    if v == 0 {
        return Value::Null;
    }
    enum_name::<pb::MountContentCache>(v)
}

fn platform(p: &pb::Platform) -> Value {
    obj(vec![
        ("Architecture", str_or_null(&p.architecture)),
        ("OS", str_or_null(&p.os)),
        ("Variant", str_or_null(&p.variant)),
        ("OSVersion", str_or_null(&p.os_version)),
        ("OSFeatures", list_or_null(&p.os_features)),
    ])
}

/// A list of objects, or null when empty (as Go's JSON prints a nil slice).
fn objects<T>(items: &[T], f: impl Fn(&T) -> Value) -> Value {
    if items.is_empty() {
        Value::Null
    } else {
        Value::Array(items.iter().map(f).collect())
    }
}

fn exec_json(e: &pb::ExecOp) -> Value {
    obj(vec![
        ("meta", opt(&e.meta, meta_json)),
        ("mounts", Value::Array(e.mounts.iter().map(mount_json).collect())),
        ("network", enum_name::<pb::NetMode>(e.network)),
        ("security", enum_name::<pb::SecurityMode>(e.security)),
        (
            "secretenv",
            objects(&e.secretenv, |s| {
                obj(vec![
                    ("ID", Value::from(s.id.as_str())),
                    ("name", Value::from(s.name.as_str())),
                    ("optional", Value::from(s.optional)),
                ])
            }),
        ),
    ])
}

fn meta_json(m: &pb::Meta) -> Value {
    obj(vec![
        ("args", Value::from(m.args.clone())),
        ("env", list_or_null(&m.env)),
        ("cwd", str_or_null(&m.cwd)),
        ("user", str_or_null(&m.user)),
        ("hostname", str_or_null(&m.hostname)),
        (
            "extraHosts",
            objects(&m.extra_hosts, |h| {
                obj(vec![("Host", Value::from(h.host.as_str())), ("IP", Value::from(h.ip.as_str()))])
            }),
        ),
        (
            "proxy_env",
            opt(&m.proxy_env, |p| {
                obj(vec![
                    ("http_proxy", str_or_null(&p.http_proxy)),
                    ("https_proxy", str_or_null(&p.https_proxy)),
                    ("ftp_proxy", str_or_null(&p.ftp_proxy)),
                    ("no_proxy", str_or_null(&p.no_proxy)),
                    ("all_proxy", str_or_null(&p.all_proxy)),
                ])
            }),
        ),
        (
            "ulimit",
            objects(&m.ulimit, |u| {
                obj(vec![
                    ("Name", Value::from(u.name.as_str())),
                    ("Soft", Value::from(u.soft)),
                    ("Hard", Value::from(u.hard)),
                ])
            }),
        ),
        ("cgroupParent", str_or_null(&m.cgroup_parent)),
        ("removeMountStubsRecursive", true_or_null(m.remove_mount_stubs_recursive)),
        ("validExitCodes", list_or_null(&m.valid_exit_codes)),
    ])
}

fn mount_json(m: &pb::Mount) -> Value {
    obj(vec![
        ("input", Value::from(m.input)),
        ("selector", str_or_null(&m.selector)),
        ("dest", Value::from(m.dest.as_str())),
        ("output", Value::from(m.output)),
        ("readonly", true_or_null(m.readonly)),
        ("mountType", enum_name::<pb::MountType>(m.mount_type)),
        ("TmpfsOpt", opt(&m.tmpfs_opt, |t| obj(vec![("size", Value::from(t.size))]))),
        (
            "cacheOpt",
            opt(&m.cache_opt, |c| {
                obj(vec![("ID", Value::from(c.id.as_str())), ("sharing", enum_name::<pb::CacheSharingOpt>(c.sharing))])
            }),
        ),
        ("secretOpt", opt(&m.secret_opt, |s| file_opt(&s.id, s.uid, s.gid, s.mode, s.optional))),
        ("SSHOpt", opt(&m.ssh_opt, |s| file_opt(&s.id, s.uid, s.gid, s.mode, s.optional))),
        ("resultID", str_or_null(&m.result_id)),
        ("contentCache", content_cache(m.content_cache)),
    ])
}

/// A secret file or an SSH socket: id, owner, mode and whether it may be missing.
fn file_opt(id: &str, uid: u32, gid: u32, mode: u32, optional: bool) -> Value {
    obj(vec![
        ("ID", Value::from(id)),
        ("uid", Value::from(uid)),
        ("gid", Value::from(gid)),
        ("mode", Value::from(format!("{mode:04o}"))),
        ("optional", Value::from(optional)),
    ])
}

fn user_opt(u: &pb::UserOpt) -> Value {
    match &u.user {
        Some(pb::user_opt::User::ById(id)) => obj(vec![("byID", Value::from(*id))]),
        Some(pb::user_opt::User::ByName(n)) => {
            obj(vec![("byName", obj(vec![("name", Value::from(n.name.as_str())), ("input", Value::from(n.input))]))])
        }
        None => obj(vec![]),
    }
}

fn chown(c: &Option<pb::ChownOpt>) -> Value {
    opt(c, |c| obj(vec![("user", opt(&c.user, user_opt)), ("group", opt(&c.group, user_opt))]))
}

fn mode(m: i32) -> Value {
    if m < 0 {
        Value::from(m)
    } else {
        Value::from(format!("{m:04o}"))
    }
}

fn data(d: &[u8]) -> (&'static str, Value) {
    match std::str::from_utf8(d) {
        Ok(s) => ("data", Value::from(s)),
        Err(_) => ("dataBase64", Value::from(base64::engine::general_purpose::STANDARD.encode(d))),
    }
}

fn file_action(a: &pb::FileAction) -> Value {
    use pb::file_action::Action;
    let (kind, body) = match &a.action {
        Some(Action::Copy(c)) => (
            "copy",
            obj(vec![
                ("src", Value::from(c.src.as_str())),
                ("dest", Value::from(c.dest.as_str())),
                ("owner", chown(&c.owner)),
                ("mode", mode(c.mode)),
                ("followSymlink", true_or_null(c.follow_symlink)),
                ("dirCopyContents", true_or_null(c.dir_copy_contents)),
                ("attemptUnpackDockerCompatibility", true_or_null(c.attempt_unpack_docker_compatibility)),
                ("createDestPath", true_or_null(c.create_dest_path)),
                ("allowWildcard", true_or_null(c.allow_wildcard)),
                ("allowEmptyWildcard", true_or_null(c.allow_empty_wildcard)),
                ("timestamp", Value::from(c.timestamp)),
                ("include_patterns", list_or_null(&c.include_patterns)),
                ("exclude_patterns", list_or_null(&c.exclude_patterns)),
                ("alwaysReplaceExistingDestPaths", true_or_null(c.always_replace_existing_dest_paths)),
                ("modeStr", str_or_null(&c.mode_str)),
                ("required_paths", list_or_null(&c.required_paths)),
            ]),
        ),
        Some(Action::Mkfile(f)) => {
            let (dk, dv) = data(&f.data);
            (
                "mkfile",
                obj(vec![
                    ("path", Value::from(f.path.as_str())),
                    ("mode", mode(f.mode)),
                    (dk, dv),
                    ("owner", chown(&f.owner)),
                    ("timestamp", Value::from(f.timestamp)),
                ]),
            )
        }
        Some(Action::Mkdir(d)) => (
            "mkdir",
            obj(vec![
                ("path", Value::from(d.path.as_str())),
                ("mode", mode(d.mode)),
                ("makeParents", Value::from(d.make_parents)),
                ("owner", chown(&d.owner)),
                ("timestamp", Value::from(d.timestamp)),
            ]),
        ),
        Some(Action::Rm(r)) => (
            "rm",
            obj(vec![
                ("path", Value::from(r.path.as_str())),
                ("allowNotFound", Value::from(r.allow_not_found)),
                ("allowWildcard", Value::from(r.allow_wildcard)),
            ]),
        ),
        Some(Action::Symlink(s)) => (
            "symlink",
            obj(vec![
                ("oldpath", Value::from(s.oldpath.as_str())),
                ("newpath", Value::from(s.newpath.as_str())),
                ("owner", chown(&s.owner)),
                ("timestamp", Value::from(s.timestamp)),
            ]),
        ),
        None => ("unknown", obj(vec![])),
    };
    obj(vec![
        ("input", Value::from(a.input)),
        ("secondaryInput", Value::from(a.secondary_input)),
        ("output", Value::from(a.output)),
        (kind, body),
    ])
}

fn op_json(op: &pb::Op) -> Value {
    use pb::op::Op;
    let inputs: Vec<Value> = op
        .inputs
        .iter()
        .map(|i| obj(vec![("digest", Value::from(i.digest.as_str())), ("index", Value::from(i.index))]))
        .collect();
    let kind = match &op.op {
        Some(Op::Exec(e)) => Some(("exec", exec_json(e))),
        Some(Op::Source(s)) => Some((
            "source",
            obj(vec![("identifier", Value::from(s.identifier.as_str())), ("attrs", string_map(&s.attrs))]),
        )),
        Some(Op::File(f)) => {
            Some(("file", obj(vec![("actions", Value::Array(f.actions.iter().map(file_action).collect()))])))
        }
        Some(Op::Merge(m)) => Some((
            "merge",
            obj(vec![(
                "inputs",
                Value::Array(m.inputs.iter().map(|i| obj(vec![("input", Value::from(i.input))])).collect()),
            )]),
        )),
        Some(Op::Diff(d)) => Some((
            "diff",
            obj(vec![
                ("lower", opt(&d.lower, |l| obj(vec![("input", Value::from(l.input))]))),
                ("upper", opt(&d.upper, |u| obj(vec![("input", Value::from(u.input))]))),
            ]),
        )),
        None => None,
    };
    let mut pairs = vec![
        ("inputs", Value::Array(inputs)),
        ("platform", opt(&op.platform, platform)),
        ("constraints", opt(&op.constraints, |c| obj(vec![("filter", Value::from(c.filter.clone()))]))),
    ];
    if let Some((k, v)) = kind {
        pairs.push((k, v));
    }
    obj(pairs)
}

fn metadata_json(m: &pb::OpMetadata) -> Value {
    obj(vec![
        ("ignore_cache", true_or_null(m.ignore_cache)),
        ("description", string_map(&m.description)),
        ("export_cache", opt(&m.export_cache, |e| obj(vec![("Value", Value::from(e.value))]))),
        (
            "caps",
            if m.caps.is_empty() {
                Value::Null
            } else {
                Value::Object(m.caps.iter().map(|(k, v)| (k.clone(), Value::from(*v))).collect())
            },
        ),
        (
            "progress_group",
            opt(&m.progress_group, |p| {
                obj(vec![
                    ("id", Value::from(p.id.as_str())),
                    ("name", Value::from(p.name.as_str())),
                    ("weak", Value::from(p.weak)),
                ])
            }),
        ),
    ])
}

fn locations_json(def: &pb::Definition, digest: &str) -> Value {
    let Some(locs) = def.source.as_ref().and_then(|s| s.locations.get(digest)) else {
        return Value::Null;
    };
    let infos = def.source.as_ref().map(|s| s.infos.as_slice()).unwrap_or_default();
    let pos = |p: &Option<pb::Position>| {
        opt(p, |p| obj(vec![("line", Value::from(p.line)), ("character", Value::from(p.character))]))
    };
    Value::Array(
        locs.locations
            .iter()
            .map(|l| {
                let file = usize::try_from(l.source_index)
                    .ok()
                    .and_then(|i| infos.get(i))
                    .map_or(Value::Null, |i| Value::from(i.filename.as_str()));
                obj(vec![
                    ("sourceIndex", Value::from(l.source_index)),
                    ("file", file),
                    (
                        "ranges",
                        Value::Array(
                            l.ranges
                                .iter()
                                .map(|r| obj(vec![("start", pos(&r.start)), ("end", pos(&r.end))]))
                                .collect(),
                        ),
                    ),
                ])
            })
            .collect(),
    )
}

/// A readable JSON list of the ops of `def`, in `def` order:
/// `[{"digest", "op": {"inputs", <kind>, "platform"?}, "metadata"?, "locations"?}]`.
///
/// Enums are written by name, modes in octal, mkfile data as text when it is UTF-8
/// (`dataBase64` otherwise). An op that does not decode is listed as
/// `{"digest", "error"}`. Keys are sorted, so the output is byte-stable.
pub fn dump_json(def: &pb::Definition) -> Value {
    Value::Array(
        def.def
            .iter()
            .map(|bytes| {
                let digest = digest_of(bytes);
                let op = match pb::Op::decode(bytes.as_slice()) {
                    Ok(op) => op_json(&op),
                    Err(e) => {
                        return obj(vec![
                            ("digest", Value::from(digest.as_str())),
                            ("error", Value::from(e.to_string())),
                        ]);
                    }
                };
                obj(vec![
                    ("digest", Value::from(digest.as_str())),
                    ("op", op),
                    ("metadata", def.metadata.get(&digest).map_or(Value::Null, metadata_json)),
                    ("locations", locations_json(def, &digest)),
                ])
            })
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::llb::exec::{exec, Exec, MountKind, MountSpec};
    use crate::llb::file::{Chown, Copy, FileChain};
    use crate::llb::marshal::{encode, marshal};
    use crate::llb::source::{image, local, ImageOpts, LocalOpts};
    use crate::llb::state::{OpMeta, Range, SourceFile, SourceLocation, State};
    use std::sync::Arc;

    fn sample() -> State {
        let file = Arc::new(SourceFile { filename: "decant.yaml".into(), data: b"x: 1\n".to_vec(), language: None });
        let base = image(
            &crate::reference::ImageRef::parse("alpine:3.19").unwrap(),
            ImageOpts::default(),
            OpMeta::named("base"),
        )
        .unwrap();
        let ctx = local("context", LocalOpts::default(), OpMeta::default()).unwrap();
        let f = FileChain::on(base)
            .mkfile("/hello.txt", 0o644, "hello\n", Chown::parse("1000:1000"))
            .mkfile("/bin.dat", 0o600, vec![0xff, 0xfe], None)
            .copy(&ctx, Copy { src: "/".into(), dest: "/src".into(), ..Default::default() })
            .finish(None, OpMeta::default());
        exec(
            Exec {
                root: f,
                args: vec!["true".into()],
                mounts: vec![MountSpec {
                    dest: "/c".into(),
                    kind: MountKind::Cache {
                        id: "c".into(),
                        sharing: pb::CacheSharingOpt::Private,
                        source: None,
                        selector: None,
                        readonly: false,
                    },
                }],
                ..Default::default()
            },
            OpMeta {
                location: Some(SourceLocation { file, ranges: Range::new(1, 1, 1, 5).into() }),
                ..OpMeta::named("run")
            },
        )
        .unwrap()
        .root
    }

    #[test]
    fn dump_round_trip_shape() {
        let def = marshal(&sample());
        let decoded = decode_definition(&encode(&def)).unwrap();
        assert_eq!(decoded, def);
        let v = dump_json(&decoded);
        let ops = v.as_array().unwrap();
        assert_eq!(ops.len(), def.def.len());
        assert_eq!(ops[0]["op"]["source"]["identifier"], "docker-image://docker.io/library/alpine:3.19");
        assert_eq!(ops[0]["metadata"]["description"]["llb.customname"], "base");
        let file = ops.iter().find(|o| o["op"].get("file").is_some()).unwrap();
        let actions = file["op"]["file"]["actions"].as_array().unwrap();
        assert_eq!(actions[0]["mkfile"]["data"], "hello\n");
        assert_eq!(actions[0]["mkfile"]["mode"], "0644");
        assert_eq!(actions[0]["mkfile"]["owner"]["user"]["byID"], 1000);
        assert_eq!(actions[1]["mkfile"]["dataBase64"], "//4=");
        assert_eq!(actions[2]["output"], 0);
        let run = ops.iter().find(|o| o["op"].get("exec").is_some()).unwrap();
        assert_eq!(run["op"]["exec"]["network"], "UNSET");
        assert_eq!(run["op"]["exec"]["mounts"][1]["mountType"], "CACHE");
        assert_eq!(run["op"]["exec"]["mounts"][1]["cacheOpt"]["sharing"], "PRIVATE");
        assert_eq!(run["locations"][0]["file"], "decant.yaml");
        assert_eq!(run["locations"][0]["ranges"][0]["start"]["line"], 1);
        let terminal = ops.last().unwrap();
        assert_eq!(terminal["op"]["inputs"][0]["digest"], run["digest"]);
        assert!(terminal["metadata"]["caps"]["constraints"].as_bool().unwrap());
        // Byte-stable text.
        let a = serde_json::to_string(&v).unwrap();
        let b = serde_json::to_string(&dump_json(&marshal(&sample()))).unwrap();
        assert_eq!(a, b);
    }

    #[test]
    fn garbage_does_not_panic() {
        assert!(decode_definition(&[0xff, 0xff, 0xff]).is_err());
        let def = pb::Definition { def: vec![vec![0x0a, 0xff]], ..Default::default() };
        let v = dump_json(&def);
        assert!(v[0]["error"].is_string());
        assert_eq!(dump_json(&pb::Definition::default()), Value::Array(vec![]));
    }
}
