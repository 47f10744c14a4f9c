//! What pages and the JSON API show, made from core's messages: nothing here calls core or reads
//! a request.
//!
//! [`time`] formats times; [`account`] reads and names an account's settings; [`resource`] holds a resource's state; [`json`] is what
//! the JSON API answers; [`states`] shows
//! states on pages; [`form`] is the form model of a provider's settings and [`settings_form`]
//! its HTML; [`chat`] the browser chat's messages; [`download`] a file answered as a download; [`conversation`] a conversation's channel, title and search snippet; [`bot`] the bot's switch; [`layout`] the frame
//! of every page, its error page and notices.

pub mod account;
pub mod bot;
pub mod chat;
pub mod conversation;
pub mod download;
pub mod form;
pub mod json;
pub mod layout;
pub mod markdown;
pub mod resource;
pub mod settings_form;
pub mod states;
pub mod time;
