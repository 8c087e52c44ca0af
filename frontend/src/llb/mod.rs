//! LLB: typed ops, content digests and deterministic marshalling. Knows nothing of the spec.
