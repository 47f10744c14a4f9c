//! What Zoom posts to a chatbot's endpoint, as far as this edge reads it: the envelope
//! (`event`, `payload`, `event_ts`), the URL validation challenge, and `bot_notification`, a
//! person writing to the chatbot.

use serde::Deserialize;
use serde_json::Value;

/// The event of a URL validation challenge.
pub const URL_VALIDATION: &str = "endpoint.url_validation";
/// The event of a person writing to the chatbot.
pub const BOT_NOTIFICATION: &str = "bot_notification";

/// Where channel JIDs live; a person's own chat with the chatbot has a user JID instead.
const CHANNEL_JID_DOMAIN: &str = "@conference.xmpp.zoom.us";
/// The longest id core takes for a message or a chat.
const MAX_ID_CHARS: usize = 200;

/// Any post, before its payload is read.
#[derive(Debug, Deserialize)]
pub struct Envelope {
    /// The event's name, such as `bot_notification`.
    pub event: String,
    /// The event's fields.
    #[serde(default)]
    pub payload: Value,
    /// When Zoom made the event, in Unix milliseconds.
    #[serde(default)]
    pub event_ts: Option<i64>,
}

/// The challenge Zoom sends when an endpoint URL is saved, and every few days after.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UrlValidation {
    /// The text to answer signed.
    pub plain_token: String,
}

/// A person wrote to the chatbot, in its own chat or in a channel it is in.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct BotNotification {
    /// The person's account.
    pub account_id: String,
    /// What they wrote.
    pub cmd: String,
    /// The chatbot written to.
    pub robot_jid: String,
    /// When they wrote it, in Unix milliseconds.
    pub timestamp: Option<i64>,
    /// Where to answer: the person's JID in their own chat with the chatbot, or the channel's.
    pub to_jid: String,
    /// The person's user id.
    pub user_id: String,
    /// The person's JID.
    pub user_jid: String,
    /// The person's name.
    pub user_name: String,
    /// The channel's name, in a channel.
    pub channel_name: String,
    /// The id of the message written, where Zoom sends it: a reply in a channel goes to its
    /// thread.
    pub message_id: Option<String>,
    /// The envelope's `event_ts`, copied here by [`BotNotification::read`].
    #[serde(skip)]
    pub event_ts: Option<i64>,
}

impl BotNotification {
    /// The notification in an envelope, if its payload reads as one.
    pub fn read(envelope: &Envelope) -> Option<Self> {
        let mut notification: Self = serde_json::from_value(envelope.payload.clone()).ok()?;
        notification.event_ts = envelope.event_ts;
        Some(notification)
    }

    /// The message's id for core, the same in every delivery of the same message: who wrote and
    /// when they wrote it (the payload's `timestamp`, else the envelope's `event_ts`). Nobody
    /// writes twice in one millisecond, and both come from the body Zoom posts again as it was,
    /// unlike the request's own headers, which are new on each delivery.
    pub fn external_id(&self) -> String {
        let when = self.timestamp.or(self.event_ts).unwrap_or_default();
        let who = if self.user_id.is_empty() { &self.user_jid } else { &self.user_id };
        format!("{when}:{who}").chars().take(MAX_ID_CHARS).collect()
    }

    /// The conversation it belongs to: the channel, or the person's own chat with the chatbot.
    pub fn chat_id(&self) -> String {
        self.to_jid.chars().take(MAX_ID_CHARS).collect()
    }

    /// The message a reply threads under: the one written, when it was written in a channel.
    pub fn thread(&self) -> Option<&str> {
        let in_channel = self.to_jid.to_ascii_lowercase().ends_with(CHANNEL_JID_DOMAIN);
        self.message_id.as_deref().filter(|id| in_channel && !id.is_empty())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(body: &str) -> BotNotification {
        BotNotification::read(&serde_json::from_str(body).unwrap()).unwrap()
    }

    #[test]
    fn a_notification_reads_with_a_stable_id_and_its_thread_in_channels_only() {
        let direct = read(
            r#"{"event":"bot_notification","event_ts":1700000000999,"payload":{"accountId":"acct","cmd":"hi",
            "robotJid":"bot@xmpp.zoom.us","timestamp":1700000000123,"toJid":"zoe@xmpp.zoom.us","userId":"zoe1",
            "userJid":"zoe@xmpp.zoom.us","userName":"Zoe","messageId":"m1"}}"#,
        );
        assert_eq!((direct.cmd.as_str(), direct.external_id().as_str()), ("hi", "1700000000123:zoe1"));
        assert_eq!(direct.chat_id(), "zoe@xmpp.zoom.us");
        assert_eq!(direct.thread(), None, "a person's own chat has no threads");

        let channel = read(
            r#"{"event":"bot_notification","event_ts":1700000000999,"payload":{"cmd":"hi all",
            "toJid":"team@conference.xmpp.zoom.us","userJid":"max@xmpp.zoom.us","messageId":"m2"}}"#,
        );
        assert_eq!(channel.external_id(), "1700000000999:max@xmpp.zoom.us");
        assert_eq!(channel.thread(), Some("m2"));
    }
}
