//! The wire table: decant's own `.proto` description of the part of BuildKit's API it uses
//! (`frontend/proto/`), compiled here in the tests only (decant's Rust wire types are written by
//! hand; see README "The wire layer").

use std::sync::OnceLock;

use prost_reflect::{DescriptorPool, MessageDescriptor};

/// The descriptions, compiled once per test binary.
pub fn pool() -> &'static DescriptorPool {
    static POOL: OnceLock<DescriptorPool> = OnceLock::new();
    POOL.get_or_init(|| {
        let dir = super::repo_root().join("frontend/proto");
        let files = protox::compile(["pb.proto", "gateway.proto"], [&dir]).unwrap_or_else(|e| panic!("{e:?}"));
        DescriptorPool::from_file_descriptor_set(files).expect("a consistent descriptor set")
    })
}

/// The message `name` (full name, e.g. `pb.ExecOp`).
pub fn message(name: &str) -> MessageDescriptor {
    pool().get_message_by_name(name).unwrap_or_else(|| panic!("{name} is not in frontend/proto"))
}
