//! The bot: each user's switch that runs their active resources, and the manager that keeps
//! every resource's observed state true.
//!
//! Layout: [`manager`] is the controller, whose decisions [`board`] makes; [`status`] is a
//! user's bot status and its watch; [`service`] is the tonic layer of BotService, with [`chat`]
//! turning the browser chat and usage into its messages.

pub mod board;
pub mod chat;
pub mod manager;
pub mod service;
pub mod status;
