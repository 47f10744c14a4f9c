//! AssistChat core: the one service that owns all state and all rules.
//!
//! It serves the gRPC contracts of `assistchat-proto` on one port, as native gRPC and gRPC-web,
//! with `grpc.health.v1` and server reflection, over SQLite or PostgreSQL.
//!
//! Layout:
//! - [`startup`] builds an [`Application`] from a [`Config`] and runs it until told to stop;
//! - [`auth`], [`profile`] and [`qr`] are the services so far, each a domain with a thin tonic
//!   layer;
//! - [`store`] is the storage, [`crypto`] the password hashes, tokens and sealed secrets;
//! - [`error`] is the one domain error and its mapping to gRPC status codes;
//! - [`health`] is what `grpc.health.v1` reports, and the probe of the `healthcheck` command;
//! - [`cli`] is the `assistchat-core` command line.

pub mod ai;
pub mod auth;
pub mod bot;
pub mod call_limits;
pub mod cli;
pub mod config;
pub mod conversations;
pub mod crypto;
pub mod edge;
pub mod error;
pub mod fields;
pub mod health;
pub mod outbound;
pub mod pagination;
pub mod per_user;
pub mod profile;
pub mod providers;
pub mod qr;
pub mod resources;
pub mod rotation;
pub mod rpc;
pub mod startup;
pub mod store;
pub mod telemetry;
pub mod throttle;
pub mod words;

pub use config::Config;
pub use startup::{Application, StartError};
