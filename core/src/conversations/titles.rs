//! A conversation's title from its first exchange: a few words the model suggests, or the
//! first words of the person's message.

use crate::ai::{Role, Turn};

/// The longest title kept, in characters.
pub const MAX_TITLE_CHARS: usize = 80;
/// How many of the first words make a title when the model gives none.
const TITLE_WORDS: usize = 6;
/// How much of each side of the exchange the model is shown for a title, in characters.
const EXCERPT_CHARS: usize = 1000;

/// The turns asking the model for a title of an exchange, in the person's language.
pub fn prompt(language_code: &str, question: &str, reply: &str) -> Vec<Turn> {
    let language = if language_code == "ru" { "Russian" } else { "the language of the conversation" };
    let instructions = format!(
        "You name conversations. Answer with a title of at most {TITLE_WORDS} words for the conversation below, \
         in {language}, without quotes or punctuation at the end, and nothing else."
    );
    let exchange = format!("Person: {}\n\nAssistant: {}", excerpt(question), excerpt(reply));
    vec![Turn { role: Role::System, text: instructions }, Turn { role: Role::User, text: exchange }]
}

/// The model's answer as a title: its first line, without quotes, Markdown marks or a final
/// full stop; `None` when nothing is left.
pub fn clean(answer: &str) -> Option<String> {
    let line = answer.lines().map(str::trim).find(|line| !line.is_empty())?;
    let line = line.trim_start_matches(['#', '*', '_', ' ']).trim_end_matches(['*', '_', ' ']);
    let line = line.strip_prefix("Title:").unwrap_or(line).trim();
    let line = line.trim_matches(['"', '\'', '«', '»', '“', '”', '`']).trim_end_matches('.').trim();
    let title = shorten(line);
    (!title.is_empty()).then_some(title)
}

/// The first words of a message as a title.
pub fn from_words(text: &str) -> String {
    let words: Vec<&str> = text.split_whitespace().collect();
    let mut title = shorten(&words[..words.len().min(TITLE_WORDS)].join(" "));
    if words.len() > TITLE_WORDS && title.chars().count() < MAX_TITLE_CHARS {
        title.push('…');
    }
    title
}

/// `text` cut to [`MAX_TITLE_CHARS`] characters, with an ellipsis where it was cut.
fn shorten(text: &str) -> String {
    match text.char_indices().nth(MAX_TITLE_CHARS - 1) {
        Some((at, _)) => format!("{}…", text[..at].trim_end()),
        None => text.to_owned(),
    }
}

fn excerpt(text: &str) -> &str {
    text.char_indices().nth(EXCERPT_CHARS).map_or(text, |(at, _)| &text[..at])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_models_answer_is_cleaned_into_one_line() {
        assert_eq!(clean("\"Trip to Rome.\"\nMore text").as_deref(), Some("Trip to Rome"));
        assert_eq!(clean("## **Поездка в Рим**").as_deref(), Some("Поездка в Рим"));
        assert_eq!(clean("Title: Baking bread").as_deref(), Some("Baking bread"));
        assert_eq!(clean("  \n \"\" "), None);
        assert_eq!(clean(&"word ".repeat(40)).unwrap().chars().count(), MAX_TITLE_CHARS);
    }

    #[test]
    fn the_first_words_title_a_conversation_the_model_did_not() {
        assert_eq!(from_words("How do I bake bread?"), "How do I bake bread?");
        assert_eq!(from_words("one two three four five six seven"), "one two three four five six…");
        assert_eq!(from_words("  многострочное\nсообщение  "), "многострочное сообщение");
        assert_eq!(from_words(&"x".repeat(500)).chars().count(), MAX_TITLE_CHARS);
    }

    #[test]
    fn the_prompt_asks_in_the_persons_language_with_the_exchange() {
        let turns = prompt("ru", "Как испечь хлеб?", "Вот рецепт");
        assert!(turns[0].text.contains("Russian"));
        assert!(turns[1].text.contains("Как испечь хлеб?") && turns[1].text.contains("Вот рецепт"));
    }
}
