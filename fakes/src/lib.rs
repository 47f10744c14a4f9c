//! Fakes of the outside APIs AssistChat calls, for tests. Each fake serves on loopback, speaks
//! the real wire format (so the real client crates can talk to it), records what it was sent and
//! can be told to fail in the ways the real service fails. Tests point the code under test at the
//! fake's base URL; nothing leaves the machine.
//!
//! Layout: [`openai`] fakes the OpenAI API; [`telegram`] fakes the Telegram Bot API; [`oidc`]
//! fakes an OpenID Connect provider (sign-in with Google, say); [`zoom`] fakes Zoom's OAuth token
//! endpoint and Chatbot API; `server` is the loopback HTTP server under every fake, whose
//! handlers can hang up on the client.

pub mod oidc;
pub mod openai;
mod server;
pub mod telegram;
pub mod zoom;

pub use oidc::FakeOidc;
pub use openai::{Behaviour, FakeOpenAi, Recorded};
pub use telegram::FakeTelegram;
pub use zoom::FakeZoom;
