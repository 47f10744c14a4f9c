//! Integration tests: each starts the real core on port 0 with a fresh database and talks to it
//! over gRPC, once on SQLite and once on PostgreSQL.

mod helpers;

mod ai;
mod auth;
mod call_limits;
mod conversation_service;
mod conversations;
mod credentials;
mod edge_credentials;
mod identities;
mod outbound;
mod own_data;
mod process;
mod profile;
mod qr;
mod reflection_client;
mod resources;
mod server;
mod spending;
mod store;
mod test_edge;
mod throttles;
