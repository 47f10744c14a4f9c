//! Long replies in pieces Telegram accepts: at most 4096 characters each, cut between words.

/// The longest text of one Telegram message, in characters.
pub const MAX_MESSAGE_CHARS: usize = 4096;

/// `text` in pieces of at most `max` characters, each cut at the last line break or space before
/// the limit (a word longer than `max` is cut where it must be).
pub fn split(text: &str, max: usize) -> Vec<String> {
    let mut pieces = Vec::new();
    let mut rest = text.trim();
    while !rest.is_empty() {
        let Some((limit, _)) = rest.char_indices().nth(max) else {
            pieces.push(rest.to_owned());
            break;
        };
        let head = &rest[..limit];
        let cut = head.rfind('\n').or_else(|| head.rfind(' ')).filter(|&at| at > 0).unwrap_or(limit);
        pieces.push(rest[..cut].trim_end().to_owned());
        rest = rest[cut..].trim_start();
    }
    pieces
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pieces_fit_and_words_stay_whole() {
        let text = "word ".repeat(2000);
        let pieces = split(&text, MAX_MESSAGE_CHARS);
        assert_eq!(pieces.len(), 3);
        assert!(pieces.iter().all(|piece| piece.chars().count() <= MAX_MESSAGE_CHARS));
        assert!(pieces.iter().all(|piece| piece.split(' ').all(|word| word == "word")));
        assert_eq!(pieces.join(" "), text.trim());
    }

    #[test]
    fn short_texts_stay_whole_and_huge_words_are_cut() {
        assert_eq!(split("hello", 10), ["hello"]);
        assert_eq!(split("", 10), Vec::<String>::new());
        assert_eq!(split("abcdefghij", 4), ["abcd", "efgh", "ij"]);
        assert_eq!(split("привет мир", 7), ["привет", "мир"]);
        assert_eq!(split("line one\nline two", 12), ["line one", "line two"]);
    }
}
