//! The Telegram provider edge: a separate process that attaches to core as provider `telegram`
//! and answers in users' Telegram bots, many bots in one process, each its own task.
//!
//! Layout: [`provider`] checks a bot's token and hands it to [`polling`], which receives updates
//! with its own offset and answers through core; [`settings`] is a resource's settings schema,
//! [`split`] cuts long replies, [`words`] is what the bot says by itself.

pub mod polling;
pub mod provider;
pub mod settings;
pub mod split;
pub mod words;

pub use provider::Telegram;
