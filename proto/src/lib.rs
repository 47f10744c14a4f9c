//! The gRPC contracts of AssistChat, compiled for Rust.
//!
//! The `.proto` files in `assistchat/v1/` are the source of truth and the integrators' manual;
//! this crate compiles them (with protox, so no system `protoc` is needed) into prost messages
//! and tonic clients and servers, and exports the encoded file descriptor set for reflection.
//!
//! Layout: everything lives in [`v1`], the `assistchat.v1` package; `redact` writes the `Debug`
//! of the messages that carry a password, token or key, so that none of them ever prints one.

/// The `assistchat.v1` package: messages, enums, clients and servers.
#[allow(clippy::doc_lazy_continuation, clippy::doc_overindented_list_items)]
pub mod v1 {
    tonic::include_proto!("assistchat.v1");
}

mod redact;

/// The encoded `FileDescriptorSet` of every contract, for gRPC server reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/assistchat_descriptor.bin"));
