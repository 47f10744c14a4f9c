//! Answering one message a person wrote to a chatbot: who may talk, the commands, the model's
//! reply through core, and sending it back where it was written.

use std::{
    collections::{HashSet, VecDeque},
    sync::{Mutex, PoisonError},
};

use assistchat_edge_client::{
    ResourceErrorAction, Session,
    chatbot::{Line, Step, say, step},
};
use assistchat_proto::v1::ChannelUser;

use crate::{
    event::BotNotification,
    format::{MAX_MESSAGE_UTF16, pieces},
    messages::{Messages, Outgoing, SendError},
    reason::Reason,
    settings::Settings,
    token::TokenError,
};

/// Messages remembered as taken, per chatbot, in case Zoom posts one again.
const REMEMBERED: usize = 1000;

/// What the resource shows when Zoom refuses the credentials.
pub const CREDENTIALS_REJECTED: &str = "Zoom rejected the client id or secret. Copy both again from your app's \
                                        Basic Information page in the Zoom App Marketplace and save them here.";

/// What the resource shows when Zoom refuses to deliver replies although it gave a token.
pub const SEND_REFUSED: &str = "Zoom refused to deliver the chatbot's reply. In the Zoom App Marketplace, check that the \
                                app has the imchat:bot scope and is added to your account, then save the chatbot here \
                                again.";

/// The messages of one chatbot already taken for an answer: a second post of one of them is
/// acknowledged and dropped. Kept across the chatbot's runs, so that a message answered before a
/// pause is not answered again after it.
#[derive(Debug, Default)]
pub struct Taken(Mutex<Remembered>);

#[derive(Debug, Default)]
struct Remembered {
    ids: HashSet<String>,
    /// The same ids, oldest first, to forget the oldest.
    order: VecDeque<String>,
}

impl Taken {
    /// Takes the message `id`; false if it was taken already.
    pub fn claim(&self, id: &str) -> bool {
        let mut remembered = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        if !remembered.ids.insert(id.to_owned()) {
            return false;
        }
        remembered.order.push_back(id.to_owned());
        if remembered.order.len() > REMEMBERED
            && let Some(oldest) = remembered.order.pop_front()
        {
            remembered.ids.remove(&oldest);
        }
        true
    }

    /// Gives the message `id` back, so that a later post of it is answered.
    pub fn release(&self, id: &str) {
        let mut remembered = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        if remembered.ids.remove(id) {
            remembered.order.retain(|taken| taken != id);
        }
    }
}

/// One chatbot and what it needs to answer.
pub struct Chatbot {
    session: Session,
    settings: Settings,
    messages: Messages,
    taken: std::sync::Arc<Taken>,
    /// The owner's language, for what the chatbot says by itself.
    language: String,
}

impl Chatbot {
    /// The chatbot of `session`'s resource.
    pub fn new(
        session: Session,
        settings: Settings,
        messages: Messages,
        taken: std::sync::Arc<Taken>,
        language: &str,
    ) -> Self {
        Self { session, settings, messages, taken, language: language.to_owned() }
    }

    /// Answers one message, unless it was taken already.
    pub async fn answer(&self, event: BotNotification) {
        let id = event.external_id();
        if !self.taken.claim(&id) {
            tracing::debug!(id, "a message Zoom posted again was dropped");
            return;
        }
        let text = event.cmd.trim();
        if text.is_empty() {
            return;
        }
        let allowed = self.settings.allows(&event.user_id, &event.user_jid);
        let reply = match step(allowed, Some(text), None) {
            Step::Say(line) => say(&self.language, line).to_owned(),
            Step::Reset => match self.session.reset_turn(&event.chat_id(), &self.language).await {
                Ok(forgotten) => forgotten.to_owned(),
                Err(_) => self.not_now(&id),
            },
            Step::Ask(text) => self.ask(&event, &id, text).await,
            Step::Ignore => return,
        };
        self.send(&event, &reply).await;
    }

    /// Core's reply to a person's text, or what to tell them instead.
    async fn ask(&self, event: &BotNotification, id: &str, text: &str) -> String {
        let sender = ChannelUser {
            id: if event.user_jid.is_empty() { event.user_id.clone() } else { event.user_jid.clone() },
            display_name: event.user_name.clone(),
            username: String::new(),
        };
        match self.session.ask(&event.chat_id(), sender, id, text).await {
            Ok(reply) => reply,
            Err(_) => self.not_now(id),
        }
    }

    /// A message core did not take: given back, so that Zoom's next post of it is answered,
    /// and the person told to write again.
    fn not_now(&self, id: &str) -> String {
        self.taken.release(id);
        say(&self.language, Line::NotNow).to_owned()
    }

    /// Sends `text` (Markdown) where `event` was written, in Zoom's Markdown and in as many
    /// messages as its length needs; a failure is logged and ends the reply, and refused
    /// credentials show on the resource.
    async fn send(&self, event: &BotNotification, text: &str) {
        let account_id = if event.account_id.is_empty() { &self.settings.account_id } else { &event.account_id };
        for piece in pieces(text, MAX_MESSAGE_UTF16) {
            let outgoing = Outgoing { to_jid: &event.to_jid, account_id, text: &piece, reply_to: event.thread() };
            match self.messages.send(&outgoing).await {
                Ok(_) => continue,
                Err(SendError::Token(TokenError::Rejected)) => {
                    self.session.error(
                        CREDENTIALS_REJECTED,
                        Reason::CredentialsRejected.code(),
                        ResourceErrorAction::FixSettings,
                    );
                }
                // Refused with a token just renewed: the app itself may not send (a missing scope,
                // an app removed from the account), which every later reply would meet too.
                Err(SendError::Refused(status @ (401 | 403), why)) => {
                    tracing::warn!(status, why, "Zoom refused a reply with a fresh token");
                    self.session.error(SEND_REFUSED, Reason::SendRefused.code(), ResourceErrorAction::FixSettings);
                }
                Err(err) => tracing::warn!(error = %err, "a reply could not be sent"),
            }
            // The rest of the reply would meet the same refusal.
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_message_is_taken_once_until_given_back_and_old_ones_are_forgotten() {
        let taken = Taken::default();
        assert!(taken.claim("a"));
        assert!(!taken.claim("a"));
        taken.release("a");
        assert!(taken.claim("a"));
        for index in 0..REMEMBERED {
            assert!(taken.claim(&index.to_string()));
        }
        assert!(taken.claim("a"), "the oldest was forgotten");
        assert!(!taken.claim("999"));
    }
}
