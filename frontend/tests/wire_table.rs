//! decant's wire types are written by hand (`src/llb/pb.rs`, `src/gateway/pb.rs`); the one
//! table of their names, numbers and types is decant's `.proto` description of BuildKit's API
//! in `frontend/proto/`. These tests hold the two together, both ways:
//!
//! - every field of every described message survives a trip through the Rust type (a filled
//!   message is encoded from the description, decoded as the Rust type, encoded again and
//!   decoded from the description: a missing field, a wrong number or a wrong type loses or
//!   changes a value);
//! - every field number the Rust types declare is in the description, and every prost type in
//!   those files is in the table below;
//! - enum names and numbers match, and every bridge call the client makes is an rpc of the
//!   described `LLBBridge` service.

mod common;

use std::collections::{BTreeMap, BTreeSet};

use decant::gateway::pb as gw;
use decant::llb::pb::{self, ProtoEnum};
use prost::Message;
use prost_reflect::{DynamicMessage, FieldDescriptor, Kind, MapKey, MessageDescriptor, ReflectMessage, Value};

use common::wire;

/// Fills every field of `desc`; the `pick`th member of each oneof (the last when it has fewer).
fn filled(desc: &MessageDescriptor, pick: usize, depth: usize) -> DynamicMessage {
    let mut msg = DynamicMessage::new(desc.clone());
    // Deep enough to reach every message from every root; below that, nested messages are left
    // out rather than set empty (an empty `Definition` is an empty `bytes` on the Rust side,
    // which proto3 does not write).
    let wanted = |f: &FieldDescriptor| depth < 4 || !matches!(f.kind(), Kind::Message(_));
    for oneof in desc.oneofs() {
        let members: Vec<FieldDescriptor> = oneof.fields().filter(wanted).collect();
        if let Some(f) = members.get(pick.min(members.len().saturating_sub(1))) {
            msg.set_field(f, value(f, pick, depth));
        }
    }
    for f in desc.fields().filter(|f| f.containing_oneof().is_none() && wanted(f)) {
        msg.set_field(&f, value(&f, pick, depth));
    }
    msg
}

/// A value for `f` that is never the proto3 default, so that it is always written.
fn value(f: &FieldDescriptor, pick: usize, depth: usize) -> Value {
    let one = |kind: &Kind, salt: u32| scalar(kind, f.number() * 10 + salt, pick, depth);
    if f.is_map() {
        let Kind::Message(entry) = f.kind() else { unreachable!("a map field is a message of entries") };
        let (k, v) = (entry.map_entry_key_field(), entry.map_entry_value_field());
        let key = match k.kind() {
            Kind::String => MapKey::String(format!("key-{}", f.number())),
            Kind::Bool => MapKey::Bool(true),
            other => panic!("map key kind {other:?} not handled"),
        };
        return Value::Map([(key, one(&v.kind(), 1))].into_iter().collect());
    }
    if f.is_list() {
        return Value::List(vec![one(&f.kind(), 1), one(&f.kind(), 2)]);
    }
    one(&f.kind(), 0)
}

fn scalar(kind: &Kind, n: u32, pick: usize, depth: usize) -> Value {
    match kind {
        Kind::Bool => Value::Bool(true),
        Kind::Int32 | Kind::Sint32 | Kind::Sfixed32 => Value::I32(n as i32 + 1),
        Kind::Int64 | Kind::Sint64 | Kind::Sfixed64 => Value::I64(i64::from(n) + 1),
        Kind::Uint32 | Kind::Fixed32 => Value::U32(n + 1),
        Kind::Uint64 | Kind::Fixed64 => Value::U64(u64::from(n) + 1),
        Kind::String => Value::String(format!("s{n}")),
        Kind::Bytes => Value::Bytes(vec![n as u8, 0xff].into()),
        Kind::Enum(e) => Value::EnumNumber(e.values().map(|v| v.number()).max().unwrap_or(0)),
        Kind::Message(m) => Value::Message(filled(m, pick, depth + 1)),
        other => panic!("field kind {other:?} not handled"),
    }
}

/// Round-trips every oneof choice of `proto` through the Rust type `T`.
fn round_trip<T: Message + Default>(proto: &str) {
    let desc = wire::message(proto);
    let choices = desc.oneofs().map(|o| o.fields().count()).max().unwrap_or(1);
    for pick in 0..choices {
        let full = filled(&desc, pick, 0);
        let bytes = full.encode_to_vec();
        let rust =
            T::decode(bytes.as_slice()).unwrap_or_else(|e| panic!("{proto}: the Rust type cannot decode it: {e}"));
        let back = DynamicMessage::decode(desc.clone(), rust.encode_to_vec().as_slice()).expect("decodes");
        let lost = differences(&full, &back);
        assert!(lost.is_empty(), "{proto} (oneof choice {pick}): lost or changed through the Rust type: {lost:?}");
    }
}

/// The fields (full names, innermost) whose values differ between `a` and `b`.
fn differences(a: &DynamicMessage, b: &DynamicMessage) -> Vec<String> {
    let mut out = Vec::new();
    for f in a.descriptor().fields() {
        let (x, y) = (a.get_field(&f), b.get_field(&f));
        match (x.as_message(), y.as_message()) {
            (Some(x), Some(y)) if x != y => out.extend(differences(x, y)),
            _ if x != y => out.push(f.full_name().to_string()),
            _ => {}
        }
    }
    out
}

/// The table: each Rust wire type and the described message it encodes.
macro_rules! table {
    ($($rust:ty => $proto:literal,)*) => {
        /// (Rust type's path, message full name, round trip)
        const TABLE: &[(fn() -> &'static str, &str, fn(&str))] =
            &[$((std::any::type_name::<$rust>, $proto, round_trip::<$rust>),)*];
    };
}

/// The Rust type's own name, as its file declares it.
fn rust_name(path: fn() -> &'static str) -> &'static str {
    path().rsplit("::").next().unwrap_or_default()
}

table! {
    pb::Definition => "pb.Definition",
    pb::Op => "pb.Op",
    pb::Platform => "pb.Platform",
    pb::Input => "pb.Input",
    pb::ExecOp => "pb.ExecOp",
    pb::Meta => "pb.Meta",
    pb::HostIp => "pb.HostIP",
    pb::Ulimit => "pb.Ulimit",
    pb::ProxyEnv => "pb.ProxyEnv",
    pb::SecretEnv => "pb.SecretEnv",
    pb::Mount => "pb.Mount",
    pb::TmpfsOpt => "pb.TmpfsOpt",
    pb::CacheOpt => "pb.CacheOpt",
    pb::SecretOpt => "pb.SecretOpt",
    pb::SshOpt => "pb.SSHOpt",
    pb::SourceOp => "pb.SourceOp",
    pb::FileOp => "pb.FileOp",
    pb::FileAction => "pb.FileAction",
    pb::FileActionCopy => "pb.FileActionCopy",
    pb::FileActionMkFile => "pb.FileActionMkFile",
    pb::FileActionMkDir => "pb.FileActionMkDir",
    pb::FileActionRm => "pb.FileActionRm",
    pb::FileActionSymlink => "pb.FileActionSymlink",
    pb::ChownOpt => "pb.ChownOpt",
    pb::UserOpt => "pb.UserOpt",
    pb::NamedUserOpt => "pb.NamedUserOpt",
    pb::MergeInput => "pb.MergeInput",
    pb::MergeOp => "pb.MergeOp",
    pb::LowerDiffInput => "pb.LowerDiffInput",
    pb::UpperDiffInput => "pb.UpperDiffInput",
    pb::DiffOp => "pb.DiffOp",
    pb::WorkerConstraints => "pb.WorkerConstraints",
    pb::OpMetadata => "pb.OpMetadata",
    pb::ExportCache => "pb.ExportCache",
    pb::ProgressGroup => "pb.ProgressGroup",
    pb::Source => "pb.Source",
    pb::Locations => "pb.Locations",
    pb::Location => "pb.Location",
    pb::SourceInfo => "pb.SourceInfo",
    pb::Range => "pb.Range",
    pb::Position => "pb.Position",
    gw::ApiCap => "moby.buildkit.v1.apicaps.APICap",
    gw::WorkerRecord => "moby.buildkit.v1.types.WorkerRecord",
    gw::Any => "google.protobuf.Any",
    gw::Status => "google.rpc.Status",
    gw::Stat => "fsutil.types.Stat",
    gw::PingRequest => "moby.buildkit.v1.frontend.PingRequest",
    gw::PongResponse => "moby.buildkit.v1.frontend.PongResponse",
    gw::CacheOptionsEntry => "moby.buildkit.v1.frontend.CacheOptionsEntry",
    gw::SolveRequest => "moby.buildkit.v1.frontend.SolveRequest",
    gw::SolveResponse => "moby.buildkit.v1.frontend.SolveResponse",
    gw::Ref => "moby.buildkit.v1.frontend.Ref",
    gw::RefMap => "moby.buildkit.v1.frontend.RefMap",
    gw::RefMapDeprecated => "moby.buildkit.v1.frontend.RefMapDeprecated",
    gw::Result => "moby.buildkit.v1.frontend.Result",
    gw::Attestations => "moby.buildkit.v1.frontend.Attestations",
    gw::Attestation => "moby.buildkit.v1.frontend.Attestation",
    gw::InTotoSubject => "moby.buildkit.v1.frontend.InTotoSubject",
    gw::ReturnRequest => "moby.buildkit.v1.frontend.ReturnRequest",
    gw::ReturnResponse => "moby.buildkit.v1.frontend.ReturnResponse",
    gw::FileRange => "moby.buildkit.v1.frontend.FileRange",
    gw::ReadFileRequest => "moby.buildkit.v1.frontend.ReadFileRequest",
    gw::ReadFileResponse => "moby.buildkit.v1.frontend.ReadFileResponse",
    gw::ReadDirRequest => "moby.buildkit.v1.frontend.ReadDirRequest",
    gw::ReadDirResponse => "moby.buildkit.v1.frontend.ReadDirResponse",
    gw::StatFileRequest => "moby.buildkit.v1.frontend.StatFileRequest",
    gw::StatFileResponse => "moby.buildkit.v1.frontend.StatFileResponse",
    gw::ResolveImageConfigRequest => "moby.buildkit.v1.frontend.ResolveImageConfigRequest",
    gw::ResolveImageConfigResponse => "moby.buildkit.v1.frontend.ResolveImageConfigResponse",
    gw::InputsRequest => "moby.buildkit.v1.frontend.InputsRequest",
    gw::InputsResponse => "moby.buildkit.v1.frontend.InputsResponse",
    gw::WarnRequest => "moby.buildkit.v1.frontend.WarnRequest",
    gw::WarnResponse => "moby.buildkit.v1.frontend.WarnResponse",
    gw::EvaluateRequest => "moby.buildkit.v1.frontend.EvaluateRequest",
    gw::EvaluateResponse => "moby.buildkit.v1.frontend.EvaluateResponse",
}

#[test]
fn every_described_field_round_trips_through_the_rust_types() {
    for (_, proto, check) in TABLE {
        check(proto);
    }
}

#[test]
fn every_described_message_is_in_the_table() {
    let listed: BTreeSet<&str> = TABLE.iter().map(|(_, p, _)| *p).collect();
    let missing: Vec<String> = wire::pool()
        .all_messages()
        .filter(|m| !m.is_map_entry() && !listed.contains(m.full_name()))
        .map(|m| m.full_name().to_string())
        .collect();
    assert!(missing.is_empty(), "described but not in the table (or not used any more): {missing:?}");
}

/// The field numbers each prost type in `file` declares: `tag = "N"` and oneof `tags = "..."`
/// attributes, and for a hand-written `Message` impl the numbers its `merge_field` accepts.
fn declared_numbers(file: &str) -> BTreeMap<String, BTreeSet<u32>> {
    let text = std::fs::read_to_string(common::repo_root().join(file)).unwrap();
    let text = text.split("#[cfg(test)]").next().unwrap();
    let mut out: BTreeMap<String, BTreeSet<u32>> = BTreeMap::new();
    let mut current: Option<String> = None;
    let mut in_merge = false;
    for line in text.lines() {
        let t = line.trim();
        if let Some(rest) = t.strip_prefix("pub struct ").or_else(|| t.strip_prefix("impl prost::Message for ")) {
            let name: String = rest.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
            out.entry(name.clone()).or_default();
            current = Some(name);
            in_merge = false;
        } else if t.starts_with("pub mod ") || t.starts_with("pub enum ") || t.starts_with("impl ") {
            current = None;
        }
        let Some(name) = &current else { continue };
        if t.starts_with("fn merge_field") {
            in_merge = true;
        }
        if t.starts_with("fn encoded_len") || t.starts_with("fn clear") {
            in_merge = false;
        }
        let numbers = out.get_mut(name).unwrap();
        for key in ["tag = \"", "tags = \""] {
            if let Some(i) = t.find(key) {
                let list = &t[i + key.len()..];
                let list = &list[..list.find('"').unwrap()];
                numbers.extend(list.split(',').map(|n| n.trim().parse::<u32>().unwrap()));
            }
        }
        if in_merge {
            if let Some((arm, _)) = t.split_once(" => ") {
                numbers.extend(arm.split('|').filter_map(|n| n.trim().parse::<u32>().ok()));
            }
        }
    }
    out
}

#[test]
fn every_rust_field_is_described() {
    let table: BTreeMap<&str, &str> = TABLE.iter().map(|(r, p, _)| (rust_name(*r), *p)).collect();
    for file in ["frontend/src/llb/pb.rs", "frontend/src/gateway/pb.rs"] {
        for (rust, numbers) in declared_numbers(file) {
            let proto = table.get(rust.as_str()).unwrap_or_else(|| panic!("{file}: {rust} is not in the table"));
            let described: BTreeSet<u32> = wire::message(proto).fields().map(|f| f.number()).collect();
            assert_eq!(numbers, described, "{file}: {rust} declares other field numbers than {proto}");
        }
    }
}

fn enum_matches<E: ProtoEnum + Into<i32>>(proto: &str) {
    let desc = wire::pool().get_enum_by_name(proto).unwrap_or_else(|| panic!("{proto} is not described"));
    let described: BTreeMap<i32, String> = desc.values().map(|v| (v.number(), v.name().to_string())).collect();
    let rust: BTreeMap<i32, String> = E::VALUES.iter().map(|(v, n)| ((*v).into(), n.to_string())).collect();
    assert_eq!(rust, described, "{proto}: names or numbers differ");
}

#[test]
fn enums_match_the_description() {
    enum_matches::<pb::NetMode>("pb.NetMode");
    enum_matches::<pb::SecurityMode>("pb.SecurityMode");
    enum_matches::<pb::MountType>("pb.MountType");
    enum_matches::<pb::MountContentCache>("pb.MountContentCache");
    enum_matches::<pb::CacheSharingOpt>("pb.CacheSharingOpt");
    enum_matches::<gw::AttestationKind>("moby.buildkit.v1.frontend.AttestationKind");
    enum_matches::<gw::InTotoSubjectKind>("moby.buildkit.v1.frontend.InTotoSubjectKind");
    let described: BTreeSet<String> = wire::pool().all_enums().map(|e| e.full_name().to_string()).collect();
    assert_eq!(described.len(), 7, "a described enum is not checked here: {described:?}");
}

#[test]
fn every_bridge_call_is_a_described_rpc() {
    let service = wire::pool().get_service_by_name("moby.buildkit.v1.frontend.LLBBridge").expect("LLBBridge");
    let rpcs: BTreeSet<String> = service.methods().map(|m| m.name().to_string()).collect();
    let client = std::fs::read_to_string(common::repo_root().join("frontend/src/gateway/client.rs")).unwrap();
    let called: BTreeSet<String> =
        client.split("bridge_path!(\"").skip(1).map(|rest| rest[..rest.find('"').unwrap()].to_string()).collect();
    assert!(!called.is_empty());
    assert_eq!(called, rpcs, "the client's calls and the described LLBBridge rpcs differ");
}
