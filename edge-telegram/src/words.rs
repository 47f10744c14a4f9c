//! What the bot says by itself, in the language of the person's Telegram app (English or
//! Russian).

/// Something the bot says without asking the model.
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
}

/// `line` for a person whose Telegram app speaks `language_code`.
pub fn say(language_code: Option<&str>, line: Line) -> &'static str {
    let russian = language_code.is_some_and(|code| code.starts_with("ru"));
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
    }
}
