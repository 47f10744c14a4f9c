//! A conversation as pages show it: its channel's name, its title, and a search snippet with the
//! words searched for marked.

use assistchat_proto::v1::{Conversation, MessageRole};
use maud::{Markup, html};

use crate::i18n::Lang;

/// The channel of browser conversations, as core names it.
pub const BROWSER: &str = "browser";

/// The name of a conversation's channel: "Browser" in the person's language, or the provider's
/// own name ("Telegram", "Zoom").
pub fn channel_label(channel: &str, lang: Lang) -> String {
    if channel == BROWSER {
        return lang.t("chat.channel_browser").into();
    }
    let mut chars = channel.chars();
    chars.next().map(|first| first.to_uppercase().chain(chars).collect()).unwrap_or_default()
}

/// A conversation's title, or the words for one that has none yet.
pub fn title(conversation: &Conversation, lang: Lang) -> String {
    match conversation.title.trim() {
        "" => lang.t("chat.untitled").into(),
        title => title.into(),
    }
}

/// `user` or `assistant` (or `unknown`).
pub fn role_name(role: MessageRole) -> &'static str {
    match role {
        MessageRole::User => "user",
        MessageRole::Assistant => "assistant",
        MessageRole::Unspecified => "unknown",
    }
}

/// The words of a search query, lower-cased, as core matches them: whole words in any case.
pub fn query_words(query: &str) -> Vec<String> {
    query.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()).map(str::to_lowercase).collect()
}

/// `snippet` as HTML with every word of `words` in a `<mark>`; everything else is text.
pub fn highlighted(snippet: &str, words: &[String]) -> Markup {
    let mut pieces: Vec<(bool, &str)> = Vec::new();
    let mut start = 0;
    let mut in_word = false;
    for (at, c) in snippet.char_indices().chain([(snippet.len(), ' ')]) {
        if c.is_alphanumeric() != in_word {
            if at > start {
                let piece = &snippet[start..at];
                pieces.push((in_word && words.contains(&piece.to_lowercase()), piece));
            }
            start = at;
            in_word = !in_word;
        }
    }
    html! {
        @for (marked, piece) in pieces {
            @if marked { mark { (piece) } } @else { (piece) }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn searched_words_are_marked_in_any_case_and_the_rest_stays_text() {
        let words = query_words("Rome, поезд");
        assert_eq!(words, ["rome", "поезд"]);
        let html = highlighted("…to ROME by <b>Поезд</b>; romeo stays", &words).into_string();
        assert_eq!(html, "…to <mark>ROME</mark> by &lt;b&gt;<mark>Поезд</mark>&lt;/b&gt;; romeo stays");
        assert_eq!(highlighted("", &words).into_string(), "");
    }

    #[test]
    fn channels_are_named_for_people() {
        assert_eq!(channel_label("browser", Lang::En), "Browser");
        assert_eq!(channel_label("browser", Lang::Ru), "Браузер");
        assert_eq!(channel_label("telegram", Lang::Ru), "Telegram");
        let untitled = Conversation { title: "  ".into(), ..Default::default() };
        assert_eq!(title(&untitled, Lang::En), Lang::En.t("chat.untitled"));
    }
}
