//! What the chatbot says by itself, in its owner's language (English or Russian): Zoom does not
//! say which language the person writing uses.

/// Something the chatbot says without asking the model.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Line {
    /// `/help`.
    Help,
    /// `/reset` done.
    Forgotten,
    /// A person not on the allow list.
    NotAllowed,
    /// Core could not take the message.
    NotNow,
}

/// `line` for a chatbot whose owner speaks `language_code`.
pub fn say(language_code: &str, line: Line) -> &'static str {
    let russian = language_code.starts_with("ru");
    match (line, russian) {
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
        (Line::NotNow, false) => "Sorry, I cannot answer right now. Please write again in a minute.",
        (Line::NotNow, true) => "Извините, сейчас я не могу ответить. Напишите, пожалуйста, ещё раз через минуту.",
    }
}
