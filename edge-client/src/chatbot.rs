//! The turn of a chatbot, the same in every channel: a person not on the allow list is told so,
//! `/start`, `/help` and `/reset` (or `/new`) are answered by the edge itself, anything else goes
//! to the model through core, and core's words are the answer when it refuses for a reason the
//! person should hear. What the edge says by itself is here too, in English or Russian.

use assistchat_proto::v1::ChannelUser;
use tonic::Status;

use crate::provider::{Session, words_for_person};

/// Something a chatbot says without asking the model.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Line {
    /// `/start`.
    Greeting,
    /// `/help`.
    Help,
    /// `/reset` done.
    Forgotten,
    /// A person not on the allow list.
    NotAllowed,
    /// A photo, a sticker, a voice message...
    TextOnly,
    /// Core could not take the message.
    NotNow,
}

/// `line` in `language` (a code such as "ru" or "en-GB"; English unless it is Russian).
pub fn say(language: &str, line: Line) -> &'static str {
    let russian = language.starts_with("ru");
    match (line, russian) {
        (Line::Greeting, false) => {
            "Hello! I am an AI assistant. Write me a message and I will answer. /reset starts a new conversation, /help says more."
        }
        (Line::Greeting, true) => {
            "Здравствуйте! Я AI-ассистент. Напишите сообщение, и я отвечу. /reset начинает новый разговор, /help расскажет больше."
        }
        (Line::Help, false) => {
            "I answer your messages with an AI model and remember our conversation. /reset makes me forget it and start anew."
        }
        (Line::Help, true) => {
            "Я отвечаю на ваши сообщения с помощью модели AI и помню наш разговор. /reset — забыть его и начать заново."
        }
        (Line::Forgotten, false) => "Done: I forgot our conversation. Let's start anew.",
        (Line::Forgotten, true) => "Готово: я забыл наш разговор. Начнём заново.",
        (Line::NotAllowed, false) => "Sorry, this assistant is private: its owner has not allowed you to use it.",
        (Line::NotAllowed, true) => "Извините, это закрытый ассистент: владелец не разрешил вам им пользоваться.",
        (Line::TextOnly, false) => "I read text messages only for now: please write your question.",
        (Line::TextOnly, true) => "Пока я читаю только текстовые сообщения: напишите, пожалуйста, ваш вопрос.",
        (Line::NotNow, false) => "Sorry, I cannot answer right now. Please write again in a minute.",
        (Line::NotNow, true) => "Извините, сейчас я не могу ответить. Напишите, пожалуйста, ещё раз через минуту.",
    }
}

/// What a chatbot does with one message.
#[derive(Debug, PartialEq, Eq)]
pub enum Step<'a> {
    /// Says this, asking nobody.
    Say(Line),
    /// Forgets the chat's conversation ([`Session::reset_turn`]), then says [`Line::Forgotten`].
    Reset,
    /// Asks the model ([`Session::ask`]).
    Ask(&'a str),
    /// Nothing: a command for another bot in the same group.
    Ignore,
}

/// The step for a message: `allowed` says whether its sender is on the allow list, `text` is
/// `None` for a message without text, and `own_name` is the bot's name in commands such as
/// `/help@family_bot` (a command naming another bot is ignored), where the channel has them.
pub fn step<'a>(allowed: bool, text: Option<&'a str>, own_name: Option<&str>) -> Step<'a> {
    if !allowed {
        return Step::Say(Line::NotAllowed);
    }
    let Some(text) = text else { return Step::Say(Line::TextOnly) };
    let Some(word) = text.split_whitespace().next().and_then(|word| word.strip_prefix('/')) else {
        return Step::Ask(text);
    };
    let (name, target) = word.split_once('@').map_or((word, None), |(name, target)| (name, Some(target)));
    if let (Some(target), Some(own)) = (target, own_name)
        && !target.eq_ignore_ascii_case(own)
    {
        return Step::Ignore;
    }
    match name.to_lowercase().as_str() {
        "start" => Step::Say(Line::Greeting),
        "help" => Step::Say(Line::Help),
        "reset" | "new" => Step::Reset,
        _ => Step::Ask(text),
    }
}

/// A message core did not take for a reason of the edge or the network: the channel keeps it
/// for a later try (its service delivers it again) or says [`Line::NotNow`].
#[derive(Debug)]
pub struct Later;

impl Session {
    /// Asks the model through core: its reply, or core's words for the person when it refused
    /// for a reason they should hear (no usable key, a spent quota, a model that is down).
    pub async fn ask(
        &self,
        chat_id: &str,
        sender: ChannelUser,
        external_message_id: &str,
        text: &str,
    ) -> Result<String, Later> {
        match self.converse(chat_id, sender, external_message_id, text).await {
            Ok(answer) => Ok(answer.reply_text),
            Err(status) => for_person(&status, "core did not take a message"),
        }
    }

    /// Forgets a chat's conversation: [`Line::Forgotten`] in `language` once done.
    pub async fn reset_turn(&self, chat_id: &str, language: &str) -> Result<&'static str, Later> {
        match self.reset_conversation(chat_id).await {
            Ok(()) => Ok(say(language, Line::Forgotten)),
            Err(status) => {
                tracing::warn!(%status, "core could not reset a conversation");
                Err(Later)
            }
        }
    }
}

/// Core's words for the person, or [`Later`] with `what` logged.
fn for_person(status: &Status, what: &str) -> Result<String, Later> {
    match words_for_person(status) {
        Some(words) => Ok(words.to_owned()),
        None => {
            tracing::warn!(%status, "{what}");
            Err(Later)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_allowed_people_and_other_bots() {
        assert_eq!(step(false, Some("/help"), None), Step::Say(Line::NotAllowed), "the allow list comes first");
        assert_eq!(step(true, None, None), Step::Say(Line::TextOnly));
        assert_eq!(step(true, Some("/start"), None), Step::Say(Line::Greeting));
        assert_eq!(step(true, Some("/HELP please"), None), Step::Say(Line::Help));
        assert_eq!(step(true, Some("/new"), None), Step::Reset);
        assert_eq!(step(true, Some("/reset@Family_Bot"), Some("family_bot")), Step::Reset);
        assert_eq!(step(true, Some("/reset@other_bot"), Some("family_bot")), Step::Ignore);
        assert_eq!(step(true, Some("/reset@any"), None), Step::Reset, "a channel without bot names");
        assert_eq!(step(true, Some("/unknown thing"), None), Step::Ask("/unknown thing"));
        assert_eq!(step(true, Some("What is 2+2?"), None), Step::Ask("What is 2+2?"));
    }

    #[test]
    fn the_edge_speaks_russian_to_russian_speakers_and_english_otherwise() {
        assert!(say("ru-RU", Line::Forgotten).starts_with("Готово"));
        assert!(say("de", Line::Forgotten).starts_with("Done"));
        assert!(say("", Line::NotNow).starts_with("Sorry"));
    }
}
