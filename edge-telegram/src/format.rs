//! Replies in Telegram's HTML (`parse_mode=HTML`), in pieces Telegram accepts.
//!
//! Telegram takes at most [`MAX_MESSAGE_UTF16`] UTF-16 code units of text *after* it has parsed
//! the markup, so a piece is measured on its plain text, and each piece is complete HTML: the
//! spans a cut falls inside are closed at the end of one piece and opened again at the start of
//! the next (a code block cut in two is two code blocks). Only the tags Telegram supports are
//! written, with `<`, `>` and `&` escaped in text and `"` too in addresses; the Markdown reading
//! itself (what becomes a link, what stays text) is `assistchat_edge_client::markdown`'s.
//!
//! Each piece keeps its plain text too, sent instead when Telegram refuses the markup; and
//! [`split_plain`] cuts text sent without markup by the same measure.

use assistchat_edge_client::markdown::{Document, Markup, Style, utf16_len};

/// The longest text of one Telegram message, in UTF-16 code units of its text after parsing.
pub const MAX_MESSAGE_UTF16: usize = 4096;

/// One message of a reply.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Piece {
    /// The message in Telegram's HTML, or `None` to send [`Piece::plain`] without markup.
    pub html: Option<String>,
    /// What the message reads as: its text without markup.
    pub plain: String,
}

impl Piece {
    /// A message sent as plain text, without markup.
    pub fn plain(text: &str) -> Self {
        Self { html: None, plain: text.to_owned() }
    }
}

/// `markdown` as Telegram HTML messages, each at most `max` UTF-16 units of text.
pub fn pieces(markdown: &str, max: usize) -> Vec<Piece> {
    let document = Document::parse(markdown);
    let plain = document.plain();
    let ranges = document.split(|range| utf16_len(&plain[range]) <= max);
    ranges
        .into_iter()
        .map(|range| Piece { html: Some(document.render(range.clone(), &Html)), plain: plain[range].to_owned() })
        .collect()
}

/// `text`, sent without markup, in pieces of at most `max` UTF-16 units, each cut at the last
/// paragraph break, line break or space before the limit (a word longer than `max` is cut where
/// it must be, between characters).
pub fn split_plain(text: &str, max: usize) -> Vec<String> {
    let document = Document::from_plain(text);
    let text = document.plain();
    document.split(|range| utf16_len(&text[range]) <= max).into_iter().map(|range| text[range].to_owned()).collect()
}

/// Telegram's HTML style.
struct Html;

impl Markup for Html {
    fn open(&self, style: &Style, out: &mut String) {
        match style {
            Style::Bold => out.push_str("<b>"),
            Style::Italic => out.push_str("<i>"),
            Style::Strike => out.push_str("<s>"),
            Style::Code => out.push_str("<code>"),
            Style::Pre(None) => out.push_str("<pre>"),
            Style::Pre(Some(language)) => {
                out.push_str("<pre><code class=\"language-");
                escape_attribute(language, out);
                out.push_str("\">");
            }
            Style::Link(url) => {
                out.push_str("<a href=\"");
                escape_attribute(url, out);
                out.push_str("\">");
            }
            Style::Quote => out.push_str("<blockquote>"),
        }
    }

    fn close(&self, style: &Style, out: &mut String) {
        out.push_str(match style {
            Style::Bold => "</b>",
            Style::Italic => "</i>",
            Style::Strike => "</s>",
            Style::Code => "</code>",
            Style::Pre(None) => "</pre>",
            Style::Pre(Some(_)) => "</code></pre>",
            Style::Link(_) => "</a>",
            Style::Quote => "</blockquote>",
        });
    }

    fn text(&self, text: &str, _styles: &[Style], out: &mut String) {
        escape_text(text, out);
    }
}

/// Writes `text` with the three characters Telegram's HTML reads as markup escaped.
fn escape_text(text: &str, out: &mut String) {
    for c in text.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            c => out.push(c),
        }
    }
}

/// Writes `value` escaped for a double-quoted attribute.
fn escape_attribute(value: &str, out: &mut String) {
    for c in value.chars() {
        match c {
            '"' => out.push_str("&quot;"),
            c => escape_text(&c.to_string(), out),
        }
    }
}

#[cfg(test)]
mod tests {
    use assistchat_fakes::telegram::html::parse;

    use super::*;

    fn html(markdown: &str) -> String {
        let pieces = pieces(markdown, MAX_MESSAGE_UTF16);
        assert_eq!(pieces.len(), 1, "{pieces:?}");
        pieces[0].html.clone().expect("formatted")
    }

    /// Checks what Telegram would see of `markdown` cut at `max`: every piece parses, fits, reads
    /// as its plain text, and the pieces in order are the whole text, apart only by the blank
    /// space they were cut at. Returns the pieces' HTML.
    fn pieces_are_whole(markdown: &str, max: usize) -> Vec<String> {
        let pieces = pieces(markdown, max);
        let whole = Document::parse(markdown).plain();
        let mut rest = whole.as_str();
        for piece in &pieces {
            let html = piece.html.as_deref().expect("formatted");
            let parsed = parse(html).unwrap_or_else(|why| panic!("{why}: {html}"));
            assert_eq!(parsed.text, piece.plain);
            assert!(utf16_len(&parsed.text) <= max, "{} units: {html}", utf16_len(&parsed.text));
            let at = rest.find(&piece.plain).expect("the piece is the text that follows");
            assert!(rest[..at].trim().is_empty(), "nothing lost before {:?}", piece.plain);
            rest = &rest[at + piece.plain.len()..];
        }
        assert!(rest.trim().is_empty(), "nothing lost at the end: {rest:?}");
        pieces.into_iter().filter_map(|piece| piece.html).collect()
    }

    #[test]
    fn each_markdown_construct_has_its_telegram_tag() {
        assert_eq!(html("**b** *i* ~~s~~ `c`"), "<b>b</b> <i>i</i> <s>s</s> <code>c</code>");
        assert_eq!(html("***both***"), "<i><b>both</b></i>");
        assert_eq!(html("```python\nprint(1)\n```"), "<pre><code class=\"language-python\">print(1)</code></pre>");
        assert_eq!(html("```\nplain\n```"), "<pre>plain</pre>");
        assert_eq!(html("[site](https://example.test/a)"), "<a href=\"https://example.test/a\">site</a>");
        assert_eq!(html("> quoted **bold**"), "<blockquote>quoted <b>bold</b></blockquote>");
        assert_eq!(html("## Heading\n\ntext"), "<b>Heading</b>\n\ntext");
        assert_eq!(html("- one\n- two\n\n1. first\n2. second"), "• one\n• two\n\n1. first\n2. second");
        assert_eq!(html("![a cat](https://img.test/cat.png)"), "<a href=\"https://img.test/cat.png\">a cat</a>");
        assert_eq!(html("[write](mailto:a@b.test) [me](tg://user?id=1)").matches("<a href=").count(), 2);
    }

    #[test]
    fn text_and_addresses_are_escaped() {
        assert_eq!(html("a < b && c > d"), "a &lt; b &amp;&amp; c &gt; d");
        assert_eq!(html("`<b>` & more"), "<code>&lt;b&gt;</code> &amp; more");
        assert_eq!(
            html("[q](https://x.test/?a=1&b=\"2\")"),
            "<a href=\"https://x.test/?a=1&amp;b=&quot;2&quot;\">q</a>"
        );
        let parsed = parse(&html("[q](https://x.test/?a=1&b=\"2\")")).unwrap();
        assert_eq!(parsed.entities[0].url.as_deref(), Some("https://x.test/?a=1&b=\"2\""));
    }

    #[test]
    fn scripts_images_and_script_links_in_a_reply_stay_inert_text() {
        let reply = "<script>alert(1)</script>\n\n<img src=x onerror=alert(1)> and [click](javascript:alert(1)) \
                     and [data](data:text/html,<b>x</b>) and <b>raw</b>";
        let html = html(reply);
        assert!(!html.contains("<script") && !html.contains("<img") && !html.contains("href"), "{html}");
        let parsed = parse(&html).expect("Telegram reads it");
        assert!(parsed.entities.is_empty(), "no formatting, no link: {:?}", parsed.entities);
        assert!(parsed.text.contains("<script>alert(1)</script>"), "shown as written: {}", parsed.text);
        assert!(parsed.text.contains("<img src=x onerror=alert(1)>") && parsed.text.contains("click"));
    }

    #[test]
    fn emoji_heavy_replies_are_cut_between_characters_and_counted_in_utf16_units() {
        let reply = "😀👍🏽 **bold 🎉** family 👨‍👩‍👧 ".repeat(600);
        assert!(utf16_len(&reply) > 3 * MAX_MESSAGE_UTF16);
        let pieces = pieces_are_whole(&reply, MAX_MESSAGE_UTF16);
        assert!(pieces.len() >= 4, "{} pieces", pieces.len());
        let no_spaces = "😀".repeat(5000);
        assert_eq!(pieces_are_whole(&no_spaces, MAX_MESSAGE_UTF16).len(), 3, "2048 emoji a piece");
    }

    #[test]
    fn a_long_code_block_is_cut_at_line_ends_into_code_blocks() {
        let code: String = (0..400).map(|line| format!("    let value_{line} = compute({line}) < limit;\n")).collect();
        let reply = format!("Here:\n\n```rust\n{code}```\n\nDone.");
        let pieces = pieces_are_whole(&reply, 1000);
        assert!(pieces.len() > 10);
        for piece in &pieces[1..pieces.len() - 1] {
            assert!(piece.starts_with("<pre><code class=\"language-rust\">    let"), "indent kept: {piece}");
            assert!(piece.ends_with(";</code></pre>"), "cut at a line end: {piece}");
        }
    }

    #[test]
    fn styles_cut_in_the_middle_are_closed_and_opened_again() {
        let words = ["word"; 40].join(" ");
        let reply = format!("**bold *italic {words} still italic* bold {words}** ~~struck {words}~~");
        let pieces = pieces_are_whole(&reply, 60);
        assert!(
            pieces.iter().any(|piece| piece.starts_with("<b><i>word") && piece.ends_with("</i></b>")),
            "{pieces:#?}"
        );
        assert!(pieces.iter().any(|piece| piece.starts_with("<s>")));
        let quote = format!("> {}", "quoted line\n> ".repeat(30));
        assert!(pieces_are_whole(&quote, 50).iter().all(|piece| piece.starts_with("<blockquote>")));
    }

    #[test]
    fn plain_text_is_cut_by_the_same_rule() {
        assert_eq!(split_plain("hello", 10), ["hello"]);
        assert_eq!(split_plain("  ", 10), Vec::<String>::new());
        assert_eq!(split_plain("abcdefghij", 4), ["abcd", "efgh", "ij"]);
        assert_eq!(split_plain("привет мир", 7), ["привет", "мир"]);
        assert_eq!(split_plain("line one\nline two", 12), ["line one", "line two"]);
        assert_eq!(split_plain("😀😀😀", 4), ["😀😀", "😀"], "an emoji is two units and never halved");
    }
}
