//! What every AssistChat provider edge shares. A provider implements one trait, [`Provider`]:
//! it describes itself and runs one resource until told to stop. [`EdgeClient`] does the rest:
//! it attaches to core with the edge credential, says hello, runs each resource core assigns as
//! its own task (a new generation restarts it, a stop ends it), sends reports and heartbeats,
//! and when the stream breaks (core restarting, say) stops everything and attaches again with
//! exponential backoff and jitter.
//!
//! What a chatbot channel repeats is here too, for a provider to call: [`check`] checks a
//! resource's credentials with its service before serving it, [`chatbot`] is the turn of a
//! chatbot (allow list, commands, the model's reply, what the edge says by itself), and
//! [`webhooks`] the paths a service posts to and their server, stopped with the client;
//! [`markdown`] reads the model's Markdown replies into styled text each channel writes in its
//! own markup and cuts to its message size.
//!
//! Layout: [`config`] holds the settings every edge takes; [`provider`] the trait and what a
//! running resource gets; [`client`] the attach loop; [`backoff`] the reconnect delays;
//! [`shutdown`] when an edge process is asked to stop.

pub mod backoff;
pub mod chatbot;
pub mod check;
pub mod client;
pub mod config;
pub mod markdown;
pub mod provider;
pub mod shutdown;
pub mod webhooks;

pub use assistchat_proto::v1::{
    ChannelUser, ConverseResponse, ResourceErrorAction, ResourceInfoItem, ResourceInfoKind, ResourceStopReason,
};
pub use client::EdgeClient;
pub use config::EdgeConfig;
pub use provider::{Provider, ProviderHello, ResourceStart, Session, words_for_person};
pub use webhooks::{WebhookServer, Webhooks};
