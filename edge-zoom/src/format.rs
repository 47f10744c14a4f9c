//! Replies in Zoom Team Chat's Markdown, in messages Zoom accepts.
//!
//! Zoom's chatbot Markdown (sent with `"is_markdown_support": true`) is not CommonMark: bold is
//! `*bold*`, italic `_italic_`, struck text `~struck~`, code `` `code` ``, a link
//! `<https://address|text>`. The model writes CommonMark, so a reply is read with
//! `assistchat_edge_client::markdown` and written again in Zoom's syntax: headings become bold
//! lines, lists "• " lines, a quotation "> " lines, a code block a ```` ``` ```` fence without a
//! language. Zoom's spans do not reach across lines, so a span is closed at each line end and
//! opened again on the next line.
//!
//! A long reply is cut into messages of at most [`MAX_MESSAGE_UTF16`] units of Markdown, each
//! with its spans closed at its end and opened again at the start of the next.

use assistchat_edge_client::markdown::{Document, Markup, Style, utf16_len};

/// The longest text of one chatbot message, in UTF-16 code units of its Markdown (what Zoom's
/// JavaScript clients count). Zoom's chatbot API documents no figure of its own; 4096 is the
/// message limit Zoom's chat is known by, and the fake Zoom refuses longer messages.
pub const MAX_MESSAGE_UTF16: usize = 4096;

/// What starts each line of a quotation.
const QUOTE_PREFIX: &str = "> ";

/// `markdown` as Zoom Markdown messages, each at most `max` UTF-16 units long.
pub fn pieces(markdown: &str, max: usize) -> Vec<String> {
    let document = Document::parse(markdown);
    let ranges = document.split(|range| utf16_len(&document.render(range, &ZoomMarkdown)) <= max);
    ranges.into_iter().map(|range| document.render(range, &ZoomMarkdown)).collect()
}

/// Zoom's chatbot Markdown.
struct ZoomMarkdown;

impl ZoomMarkdown {
    /// The characters that open and close an inline style, or `None` for a block style.
    fn delimiter(style: &Style) -> Option<&'static str> {
        match style {
            Style::Bold => Some("*"),
            Style::Italic => Some("_"),
            Style::Strike => Some("~"),
            Style::Code => Some("`"),
            Style::Pre(_) | Style::Link(_) | Style::Quote => None,
        }
    }
}

impl Markup for ZoomMarkdown {
    fn open(&self, style: &Style, out: &mut String) {
        match style {
            Style::Pre(_) => out.push_str("```\n"),
            Style::Link(url) => {
                out.push('<');
                // `|` and `>` would end the address early; Zoom reads them encoded.
                out.push_str(&url.replace('|', "%7C").replace('>', "%3E"));
                out.push('|');
            }
            Style::Quote => out.push_str(QUOTE_PREFIX),
            inline => out.push_str(Self::delimiter(inline).unwrap_or_default()),
        }
    }

    fn close(&self, style: &Style, out: &mut String) {
        match style {
            Style::Pre(_) => out.push_str("\n```"),
            Style::Link(_) => out.push('>'),
            Style::Quote => {}
            inline => out.push_str(Self::delimiter(inline).unwrap_or_default()),
        }
    }

    fn text(&self, text: &str, styles: &[Style], out: &mut String) {
        if styles.iter().any(|style| matches!(style, Style::Pre(_))) {
            out.push_str(text);
            return;
        }
        let inline: Vec<&Style> = styles.iter().filter(|style| Self::delimiter(style).is_some()).collect();
        let quoted = styles.contains(&Style::Quote);
        for (index, line) in text.split('\n').enumerate() {
            if index > 0 {
                for style in inline.iter().rev() {
                    self.close(style, out);
                }
                out.push('\n');
                if quoted {
                    out.push_str(QUOTE_PREFIX);
                }
                for style in &inline {
                    self.open(style, out);
                }
            }
            out.push_str(line);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn zoom(markdown: &str) -> String {
        let pieces = pieces(markdown, MAX_MESSAGE_UTF16);
        assert_eq!(pieces.len(), 1, "{pieces:?}");
        pieces[0].clone()
    }

    #[test]
    fn commonmark_is_written_in_zooms_markdown() {
        assert_eq!(zoom("**b** *i* ~~s~~ `c`"), "*b* _i_ ~s~ `c`");
        assert_eq!(zoom("[site](https://example.test/a|b)"), "<https://example.test/a%7Cb|site>");
        assert_eq!(zoom("# Title\n\n- one\n- two"), "*Title*\n\n• one\n• two");
        assert_eq!(zoom("> first\n> second"), "> first\n> second");
        assert_eq!(zoom("```rust\nfn main() {}\n```"), "```\nfn main() {}\n```");
        assert_eq!(zoom("**bold\nacross**"), "*bold*\n*across*", "spans end with their line");
        assert_eq!(zoom("[click](javascript:alert(1))"), "click", "only safe links stay links");
    }

    #[test]
    fn long_replies_are_cut_below_the_limit_without_cutting_a_span() {
        let reply =
            format!("**{}** and `{}`\n\n{}", ["bold 😀"; 900].join(" "), ["code"; 400].join(" "), "tail ".repeat(500));
        let pieces = pieces(&reply, MAX_MESSAGE_UTF16);
        assert!(pieces.len() >= 3, "{}", pieces.len());
        for piece in &pieces {
            assert!(utf16_len(piece) <= MAX_MESSAGE_UTF16, "{}", utf16_len(piece));
            for delimiter in ['*', '`'] {
                assert_eq!(piece.matches(delimiter).count() % 2, 0, "every span closed: {piece}");
            }
        }
        assert!(pieces[1].starts_with('*'), "the span opened again: {}", &pieces[1][..20]);
    }
}
