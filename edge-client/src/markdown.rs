//! The assistant's Markdown replies, read once into styled text that every chat channel renders
//! in its own markup and cuts into messages of the size its service takes.
//!
//! [`Document::parse`] reads CommonMark (with strikethrough) into [`Run`]s: plain text, each
//! with the [`Style`]s it is shown in. Block structure is already text there: headings are bold
//! lines, list items are "• " or "1. " lines, paragraphs are apart by a blank line. Raw HTML is
//! kept as text, images become their alt text, and only links a chat may open
//! ([`LINK_SCHEMES`]) keep their address. [`Document::split`] cuts the text into pieces a
//! channel's limit takes, preferring paragraph breaks, then line breaks, then spaces, and never
//! halving a character; [`Document::render`] writes one piece in a channel's [`Markup`], every
//! style opened at its start and closed at its end, so a piece never ends inside a span.

use std::ops::Range;

use pulldown_cmark::{CodeBlockKind, Event, Options, Parser, Tag, TagEnd};

/// The link schemes kept as links; any other link (`javascript:`, `data:`, a relative path)
/// is shown as its text only.
pub const LINK_SCHEMES: [&str; 4] = ["http", "https", "mailto", "tg"];

/// What a list item starts with when its list has no numbers.
const BULLET: &str = "• ";

/// What a thematic break (`---`) is shown as.
const RULE: &str = "———";

/// The indent of each list level below the first.
const LIST_INDENT: &str = "  ";

/// How a run of text is shown. Styles nest as the Markdown nests them, outermost first.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Style {
    /// Bold, from `**strong**` and headings.
    Bold,
    /// Italic, from `*emphasis*`.
    Italic,
    /// Struck through, from `~~strikethrough~~`.
    Strike,
    /// Inline code, from `` `code` ``. Nothing nests inside it.
    Code,
    /// A code block with its language, if the fence named one. Always the run's only style:
    /// chats do not format inside code, nor put a code block inside another span.
    Pre(Option<String>),
    /// A link to this address, one of [`LINK_SCHEMES`]. Never inside another link, never around
    /// code.
    Link(String),
    /// A block quotation; quotations inside it are shown as part of it.
    Quote,
}

/// Text shown in the same styles.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Run {
    /// The text, as shown.
    pub text: String,
    /// Its styles, outermost first.
    pub styles: Vec<Style>,
}

/// A reply read from Markdown: its text in runs, trimmed of the blank space around it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Document {
    /// The runs, in order; no run is empty and neighbours differ in style.
    runs: Vec<Run>,
}

/// How a channel writes styled text: what opens and closes each style, and how text is escaped.
pub trait Markup {
    /// Writes what starts `style` (e.g. `<b>`).
    fn open(&self, style: &Style, out: &mut String);
    /// Writes what ends `style` (e.g. `</b>`).
    fn close(&self, style: &Style, out: &mut String);
    /// Writes `text`, shown in `styles` (already opened), escaped as the markup needs.
    fn text(&self, text: &str, styles: &[Style], out: &mut String);
}

impl Document {
    /// Reads `markdown` as CommonMark with strikethrough.
    pub fn parse(markdown: &str) -> Self {
        let mut reader = Reader::default();
        for event in Parser::new_ext(markdown, Options::ENABLE_STRIKETHROUGH) {
            reader.event(event);
        }
        let mut document = Document { runs: reader.runs };
        document.trim();
        document
    }

    /// `text` as it is, unstyled (trimmed of the blank space around it): to cut text sent
    /// without markup by the same rule.
    pub fn from_plain(text: &str) -> Self {
        let mut document = Document { runs: vec![Run { text: text.to_owned(), styles: Vec::new() }] };
        document.trim();
        document
    }

    /// The runs, in order.
    pub fn runs(&self) -> &[Run] {
        &self.runs
    }

    /// The whole text, without styles.
    pub fn plain(&self) -> String {
        self.runs.iter().map(|run| run.text.as_str()).collect()
    }

    /// The text of `range` (byte offsets into [`Document::plain`]), without styles.
    pub fn plain_of(&self, range: Range<usize>) -> String {
        self.pieces_of(range).map(|(text, _)| text).collect()
    }

    /// `range` written in `markup`: each style opened where its text starts and closed where it
    /// ends, all closed at the end.
    pub fn render(&self, range: Range<usize>, markup: &impl Markup) -> String {
        let mut out = String::new();
        let mut open: &[Style] = &[];
        for (text, styles) in self.pieces_of(range) {
            let shared = open.iter().zip(styles).take_while(|(a, b)| a == b).count();
            for style in open[shared..].iter().rev() {
                markup.close(style, &mut out);
            }
            for style in &styles[shared..] {
                markup.open(style, &mut out);
            }
            markup.text(text, styles, &mut out);
            open = styles;
        }
        for style in open.iter().rev() {
            markup.close(style, &mut out);
        }
        out
    }

    /// The text cut into byte ranges of [`Document::plain`], each accepted by `fits`, which must
    /// accept any single character. A cut falls at the last paragraph break in the second half
    /// of what fits, else the last line break there, else the last space there, else where it
    /// must; the break itself belongs to neither piece, nor does blank space at a piece's end.
    pub fn split(&self, fits: impl Fn(Range<usize>) -> bool) -> Vec<Range<usize>> {
        let plain = self.plain();
        let mut pieces = Vec::new();
        let mut start = 0;
        while start < plain.len() {
            if fits(start..plain.len()) {
                pieces.push(start..plain.len());
                break;
            }
            let end = longest_fit(&plain, start, &fits);
            let (cut, next) = best_cut(&plain, start, end);
            let kept = start + plain[start..cut].trim_end().len();
            if kept > start {
                pieces.push(start..kept);
            }
            start = next;
        }
        pieces
    }

    /// The parts of runs inside `range`, with their styles.
    fn pieces_of(&self, range: Range<usize>) -> impl Iterator<Item = (&str, &[Style])> {
        let mut offset = 0;
        self.runs.iter().filter_map(move |run| {
            let (from, to) = (offset, offset + run.text.len());
            offset = to;
            let (start, end) = (range.start.max(from), range.end.min(to));
            (start < end).then(|| (&run.text[start - from..end - from], run.styles.as_slice()))
        })
    }

    /// Drops the blank space before the first and after the last visible character.
    fn trim(&mut self) {
        while let Some(first) = self.runs.first_mut() {
            let kept = first.text.trim_start().len();
            first.text.drain(..first.text.len() - kept);
            if !first.text.is_empty() {
                break;
            }
            self.runs.remove(0);
        }
        while let Some(last) = self.runs.last_mut() {
            last.text.truncate(last.text.trim_end().len());
            if !last.text.is_empty() {
                break;
            }
            self.runs.pop();
        }
    }
}

/// The end of the longest stretch from `start` that `fits`, at a character boundary past
/// `start`.
fn longest_fit(plain: &str, start: usize, fits: &impl Fn(Range<usize>) -> bool) -> usize {
    let ends: Vec<usize> = plain[start..].char_indices().skip(1).map(|(at, _)| start + at).collect();
    // The first character always fits; past it, search for the last end that fits.
    let (mut low, mut high) = (0, ends.len());
    while low < high {
        let middle = (low + high).div_ceil(2);
        if fits(start..ends[middle - 1]) {
            low = middle;
        } else {
            high = middle - 1;
        }
    }
    match low {
        0 => plain[start..].chars().next().map_or(plain.len(), |first| start + first.len_utf8()),
        found => ends[found - 1],
    }
}

/// Where to end a piece that may run from `start` to `end`, and where the next one begins.
fn best_cut(plain: &str, start: usize, end: usize) -> (usize, usize) {
    let window = &plain[start..end];
    let half = window.len() / 2;
    for separator in ["\n\n", "\n", " "] {
        if let Some(at) = window.rfind(separator).filter(|at| *at > half) {
            return (start + at, start + at + separator.len());
        }
    }
    (end, end)
}

/// The state of reading one document's events.
#[derive(Default)]
struct Reader {
    /// The runs so far.
    runs: Vec<Run>,
    /// One entry per open tag: the style it adds, if any.
    open: Vec<Option<Style>>,
    /// The open lists: the next item's number, or `None` for a bulleted list.
    lists: Vec<Option<u64>>,
    /// The language of the code block being read, if one is (`Some(None)`: no language).
    code_block: Option<Option<String>>,
    /// Whether a list item's marker was just written: the item's first block goes on its line.
    at_item_start: bool,
}

impl Reader {
    fn event(&mut self, event: Event<'_>) {
        match event {
            Event::Start(tag) => {
                let style = self.start(tag);
                self.open.push(style);
            }
            Event::End(end) => {
                self.open.pop();
                self.end(end);
            }
            Event::Text(text) => match &self.code_block {
                Some(language) => {
                    let styles = vec![Style::Pre(language.clone())];
                    self.push(&text, styles);
                }
                None => self.text(&text),
            },
            Event::Code(code) => {
                let mut styles = self.styles();
                // Code cannot sit inside a link: inside one it stays the link's text.
                if !styles.iter().any(|style| matches!(style, Style::Link(_))) {
                    styles.push(Style::Code);
                }
                self.push(&code, styles);
            }
            // Raw HTML is the model's text, not markup: it is shown, escaped by the channel.
            Event::Html(html) => self.text(html.trim_end_matches('\n')),
            Event::InlineHtml(html) => self.text(&html),
            Event::InlineMath(math) | Event::DisplayMath(math) => self.text(&math),
            Event::FootnoteReference(label) => self.text(&format!("[{label}]")),
            Event::SoftBreak | Event::HardBreak => self.text("\n"),
            Event::Rule => {
                self.block_break();
                self.text(RULE);
            }
            Event::TaskListMarker(done) => self.text(if done { "[x] " } else { "[ ] " }),
        }
    }

    /// Opens `tag`; returns the style it adds to its text.
    fn start(&mut self, tag: Tag<'_>) -> Option<Style> {
        match tag {
            Tag::Paragraph | Tag::HtmlBlock => {
                self.block_break();
                None
            }
            Tag::Heading { .. } => {
                self.block_break();
                Some(Style::Bold)
            }
            Tag::BlockQuote(_) => {
                self.block_break();
                (!self.styles().contains(&Style::Quote)).then_some(Style::Quote)
            }
            Tag::CodeBlock(kind) => {
                self.block_break();
                let language = match kind {
                    CodeBlockKind::Fenced(info) => info.split_whitespace().next().map(str::to_owned),
                    CodeBlockKind::Indented => None,
                };
                self.code_block = Some(language);
                None
            }
            Tag::List(first) => {
                if self.lists.is_empty() {
                    self.block_break();
                }
                self.lists.push(first);
                None
            }
            Tag::Item => {
                self.line_break();
                let depth = self.lists.len().saturating_sub(1);
                let marker = match self.lists.last_mut() {
                    Some(Some(number)) => {
                        *number += 1;
                        format!("{}. ", *number - 1)
                    }
                    _ => BULLET.to_owned(),
                };
                self.text(&format!("{}{marker}", LIST_INDENT.repeat(depth)));
                self.at_item_start = true;
                None
            }
            Tag::Emphasis => Some(Style::Italic),
            Tag::Strong => Some(Style::Bold),
            Tag::Strikethrough => Some(Style::Strike),
            Tag::Link { dest_url, .. } | Tag::Image { dest_url, .. } => self.link(&dest_url),
            _ => None,
        }
    }

    fn end(&mut self, end: TagEnd) {
        match end {
            TagEnd::CodeBlock => {
                self.code_block = None;
                // The fence's last line ends in a line break that is not part of the code.
                if let Some(last) = self.runs.last_mut().filter(|run| matches!(run.styles[..], [Style::Pre(_)])) {
                    last.text.truncate(last.text.trim_end_matches('\n').len());
                }
            }
            TagEnd::List(_) => {
                self.lists.pop();
            }
            _ => {}
        }
    }

    /// The style a link to `url` adds: a link if the address is one a chat may open and no
    /// link is open already.
    fn link(&self, url: &str) -> Option<Style> {
        let scheme = url.split_once(':').map(|(scheme, _)| scheme.to_ascii_lowercase());
        let allowed = scheme.is_some_and(|scheme| LINK_SCHEMES.contains(&scheme.as_str()));
        let in_link = self.styles().iter().any(|style| matches!(style, Style::Link(_)));
        (allowed && !in_link).then(|| Style::Link(url.to_owned()))
    }

    /// The styles of text read now.
    fn styles(&self) -> Vec<Style> {
        self.open.iter().flatten().cloned().collect()
    }

    fn text(&mut self, text: &str) {
        let styles = self.styles();
        self.push(text, styles);
    }

    /// Adds text in `styles`, to the last run when it is in the same styles.
    fn push(&mut self, text: &str, styles: Vec<Style>) {
        if text.is_empty() {
            return;
        }
        self.at_item_start = false;
        match self.runs.last_mut() {
            Some(last) if last.styles == styles => last.text.push_str(text),
            _ => self.runs.push(Run { text: text.to_owned(), styles }),
        }
    }

    /// Ends the text so far with a blank line, unless nothing was written yet. Inside a list
    /// a line break is enough: its items stay together.
    fn block_break(&mut self) {
        if self.at_item_start {
            return;
        }
        if self.lists.is_empty() {
            self.ends_with_newlines(2);
        } else {
            self.line_break();
        }
    }

    /// Ends the text so far with a line break, unless nothing was written yet.
    fn line_break(&mut self) {
        self.ends_with_newlines(1);
    }

    fn ends_with_newlines(&mut self, count: usize) {
        let Some(last) = self.runs.last() else { return };
        let have = last.text.chars().rev().take_while(|c| *c == '\n').count();
        if have < count {
            // Unstyled, so that the break opens or closes no span of its own.
            self.push(&"\n".repeat(count - have), Vec::new());
        }
    }
}

/// The length of `text` in UTF-16 code units, as Telegram and JavaScript clients count it.
pub fn utf16_len(text: &str) -> usize {
    text.encode_utf16().count()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn runs(markdown: &str) -> Vec<(String, Vec<Style>)> {
        Document::parse(markdown).runs.into_iter().map(|run| (run.text, run.styles)).collect()
    }

    fn run(text: &str, styles: &[Style]) -> (String, Vec<Style>) {
        (text.to_owned(), styles.to_vec())
    }

    #[test]
    fn inline_styles_nest_as_written() {
        assert_eq!(
            runs("a **b *c* ~~d~~** `e`"),
            [
                run("a ", &[]),
                run("b ", &[Style::Bold]),
                run("c", &[Style::Bold, Style::Italic]),
                run(" ", &[Style::Bold]),
                run("d", &[Style::Bold, Style::Strike]),
                run(" ", &[]),
                run("e", &[Style::Code]),
            ]
        );
    }

    #[test]
    fn blocks_become_lines() {
        let document = Document::parse("# Title\n\nSome text.\n\n- one\n- two\n  1. sub\n\n> quoted\n\n---\n\nend");
        assert_eq!(document.plain(), "Title\n\nSome text.\n\n• one\n• two\n  1. sub\n\nquoted\n\n———\n\nend");
        assert_eq!(document.runs[0], Run { text: "Title".into(), styles: vec![Style::Bold] });
        assert!(document.runs.iter().any(|run| run.text == "quoted" && run.styles == [Style::Quote]));
        assert_eq!(Document::parse("3. three\n4. four").plain(), "3. three\n4. four");
        assert_eq!(Document::parse("- loose\n\n- items\n").plain(), "• loose\n• items");
    }

    #[test]
    fn code_blocks_keep_their_language_and_lines_alone() {
        assert_eq!(
            runs("> ```rust\n> fn main() {}\n>   **x**\n> ```"),
            [run("fn main() {}\n  **x**", &[Style::Pre(Some("rust".into()))])]
        );
        assert_eq!(runs("    indented"), [run("indented", &[Style::Pre(None)])]);
    }

    #[test]
    fn only_safe_links_stay_links_and_html_stays_text() {
        assert_eq!(
            runs("[a](https://x.test/?q=\"1\") [b](javascript:alert(1)) [c](/relative) ![alt](https://i.test/p.png)"),
            [
                run("a", &[Style::Link("https://x.test/?q=\"1\"".into())]),
                run(" b c ", &[]),
                run("alt", &[Style::Link("https://i.test/p.png".into())]),
            ]
        );
        assert_eq!(runs("<script>alert(1)</script>"), [run("<script>alert(1)</script>", &[])]);
        assert_eq!(
            runs("[`code` in link](mailto:a@b.test)"),
            [run("code in link", &[Style::Link("mailto:a@b.test".into())])]
        );
    }

    #[test]
    fn splitting_prefers_paragraphs_then_lines_then_spaces_and_keeps_characters_whole() {
        let document = Document::parse(&format!("{}\n\n{}", "a".repeat(6), "b c d e"));
        let fits = |range: Range<usize>| range.len() <= 8;
        let plain = document.plain();
        let pieces: Vec<&str> = document.split(fits).into_iter().map(|range| &plain[range]).collect();
        assert_eq!(pieces, ["aaaaaa", "b c d e"]);

        let document = Document::parse(&"😀".repeat(5));
        let fits = |range: Range<usize>| utf16_len(&document.plain()[range]) <= 3;
        let pieces = document.split(fits);
        assert_eq!(pieces.len(), 5, "one emoji (two UTF-16 units) a piece: {pieces:?}");
        assert!(pieces.iter().all(|range| document.plain()[range.clone()] == *"😀"));
    }
}
