//! Telegram's HTML style (`parse_mode=HTML`), parsed as strictly as the Bot API parses it: only
//! the tags Telegram supports, each closed in order, and in text only the entities `&lt;`,
//! `&gt;`, `&amp;`, `&quot;` and numeric ones. What it reads is the message's plain text and its
//! entities, with offsets and lengths in UTF-16 code units as Telegram gives them.
//!
//! A refusal is the reason Telegram gives after `Bad Request: can't parse entities: `, worded
//! as Telegram words it. One refusal is the fake's own: Telegram shows an `&` that starts no
//! entity as it is, while the fake refuses it, so that a client that forgets to escape `&`
//! finds out here rather than on the first unlucky reply.

use serde_json::{Value, json};

/// The tags Telegram's HTML style takes.
const SUPPORTED_TAGS: [&str; 17] = [
    "b",
    "strong",
    "i",
    "em",
    "u",
    "ins",
    "s",
    "strike",
    "del",
    "span",
    "tg-spoiler",
    "a",
    "code",
    "pre",
    "blockquote",
    "tg-emoji",
    "tg-time",
];

/// The longest entity name read after `&` before giving up on finding its `;`.
const MAX_ENTITY_NAME: usize = 10;

/// One formatted stretch of a message, as the Bot API's `MessageEntity` describes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entity {
    /// Its type, e.g. `bold`, `text_link`, `pre`.
    pub kind: String,
    /// Where it starts in the text, in UTF-16 code units.
    pub offset: usize,
    /// Its length, in UTF-16 code units.
    pub length: usize,
    /// For `text_link`, the address.
    pub url: Option<String>,
    /// For `pre`, the programming language, if given.
    pub language: Option<String>,
    /// For `custom_emoji`, the emoji's id.
    pub custom_emoji_id: Option<String>,
}

impl Entity {
    /// The entity as the Bot API sends it in a message.
    pub fn to_json(&self) -> Value {
        let mut entity = json!({"type": self.kind, "offset": self.offset, "length": self.length});
        for (key, value) in
            [("url", &self.url), ("language", &self.language), ("custom_emoji_id", &self.custom_emoji_id)]
        {
            if let Some(value) = value {
                entity[key] = json!(value);
            }
        }
        entity
    }
}

/// A message's text with its markup parsed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Parsed {
    /// The text as shown, markup removed and entities decoded.
    pub text: String,
    /// The entities, by offset, an outer one before those inside it.
    pub entities: Vec<Entity>,
}

/// A tag opened and not closed yet.
struct Open {
    /// Its name, lower case.
    name: String,
    /// Where its text starts, in UTF-16 units.
    offset: usize,
    /// Its `href`, `class`, `emoji-id` and whether it is `expandable`.
    attributes: Vec<(String, String)>,
    /// For `pre`, the language a `<code class="language-...">` inside it named.
    language: Option<String>,
}

impl Open {
    fn attribute(&self, name: &str) -> Option<&str> {
        self.attributes.iter().find(|(key, _)| key == name).map(|(_, value)| value.as_str())
    }
}

/// Parses `html` as Telegram's HTML style; `Err` is the reason Telegram gives.
pub fn parse(html: &str) -> Result<Parsed, String> {
    let mut parsed = Parsed::default();
    let mut units = 0;
    let mut open: Vec<Open> = Vec::new();
    let bytes = html.as_bytes();
    let mut at = 0;
    while at < html.len() {
        match bytes[at] {
            b'&' => {
                let (decoded, next) = entity(html, at)?;
                units += decoded.len_utf16();
                parsed.text.push(decoded);
                at = next;
            }
            b'<' if bytes.get(at + 1) == Some(&b'/') => {
                let close = html[at..]
                    .find('>')
                    .map(|end| at + end)
                    .ok_or_else(|| format!("Unclosed end tag at byte offset {at}"))?;
                let name = html[at + 2..close].trim().to_ascii_lowercase();
                let Some(tag) = open.pop() else { return Err(format!("Unexpected end tag at byte offset {at}")) };
                if tag.name != name {
                    return Err(format!(
                        "Unmatched end tag at byte offset {at}, expected \"</{}>\", found \"</{name}>\"",
                        tag.name
                    ));
                }
                finish(tag, units, &mut open, &mut parsed.entities);
                at = close + 1;
            }
            b'<' => {
                let (tag, next) = start_tag(html, at, units)?;
                open.push(tag);
                at = next;
            }
            _ => {
                let c = html[at..].chars().next().unwrap_or_default();
                units += c.len_utf16();
                parsed.text.push(c);
                at += c.len_utf8();
            }
        }
    }
    if let Some(unclosed) = open.last() {
        return Err(format!("Can't find end tag corresponding to start tag \"{}\"", unclosed.name));
    }
    parsed.entities.sort_by_key(|entity| (entity.offset, std::cmp::Reverse(entity.length)));
    Ok(parsed)
}

/// The character of the entity at `at` (which is `&`) and where the text after it starts.
fn entity(html: &str, at: usize) -> Result<(char, usize), String> {
    let unsupported = || format!("Unsupported HTML entity at byte offset {at}");
    let rest = &html[at + 1..];
    let end = rest.char_indices().take(MAX_ENTITY_NAME + 1).find(|(_, c)| *c == ';').map(|(end, _)| end);
    let name = &rest[..end.ok_or_else(unsupported)?];
    let decoded = match name {
        "lt" => Some('<'),
        "gt" => Some('>'),
        "amp" => Some('&'),
        "quot" => Some('"'),
        _ => match name.strip_prefix('#') {
            Some(hex) if hex.starts_with(['x', 'X']) => {
                u32::from_str_radix(&hex[1..], 16).ok().and_then(char::from_u32)
            }
            Some(decimal) => decimal.parse().ok().and_then(char::from_u32),
            None => None,
        },
    };
    let decoded = decoded.filter(|c| *c != '\0').ok_or_else(unsupported)?;
    Ok((decoded, at + 1 + name.len() + 1))
}

/// Reads the start tag at `at`; returns it and where the text after it starts.
fn start_tag(html: &str, at: usize, units: usize) -> Result<(Open, usize), String> {
    let unclosed = || format!("Unclosed start tag at byte offset {at}");
    let bytes = html.as_bytes();
    let mut next = at + 1;
    while next < bytes.len() && (bytes[next].is_ascii_alphanumeric() || bytes[next] == b'-') {
        next += 1;
    }
    let name = html[at + 1..next].to_ascii_lowercase();
    if next >= bytes.len() {
        return Err(unclosed());
    }
    if !SUPPORTED_TAGS.contains(&name.as_str()) {
        return Err(format!("Unsupported start tag \"{name}\" at byte offset {at}"));
    }
    let mut attributes = Vec::new();
    loop {
        while next < bytes.len() && bytes[next].is_ascii_whitespace() {
            next += 1;
        }
        match bytes.get(next) {
            None => return Err(unclosed()),
            Some(b'>') => break,
            Some(_) => {}
        }
        let key_start = next;
        while next < bytes.len() && (bytes[next].is_ascii_alphanumeric() || matches!(bytes[next], b'-' | b'_')) {
            next += 1;
        }
        if next == key_start {
            return Err(format!("Empty attribute name in the tag \"{name}\" at byte offset {next}"));
        }
        let key = html[key_start..next].to_ascii_lowercase();
        let mut value = String::new();
        if bytes.get(next) == Some(&b'=') {
            next += 1;
            match bytes.get(next) {
                None => return Err(unclosed()),
                Some(&quote @ (b'"' | b'\'')) => {
                    let end = html[next + 1..].find(quote as char).map(|end| next + 1 + end).ok_or_else(unclosed)?;
                    value = decode_attribute(&html[next + 1..end], next + 1)?;
                    next = end + 1;
                }
                Some(_) => {
                    let start = next;
                    while next < bytes.len() && !bytes[next].is_ascii_whitespace() && bytes[next] != b'>' {
                        next += 1;
                    }
                    value = decode_attribute(&html[start..next], start)?;
                }
            }
        }
        attributes.push((key, value));
    }
    let tag = Open { name, offset: units, attributes, language: None };
    if tag.name == "span" && tag.attribute("class") != Some("tg-spoiler") {
        return Err(format!("Tag \"span\" must have class \"tg-spoiler\" at byte offset {at}"));
    }
    Ok((tag, next + 1))
}

/// An attribute's value with its entities decoded; `offset` is where it starts in the message.
fn decode_attribute(value: &str, offset: usize) -> Result<String, String> {
    let mut decoded = String::new();
    let mut at = 0;
    while at < value.len() {
        if value.as_bytes()[at] == b'&' {
            let (c, next) =
                entity(value, at).map_err(|_| format!("Unsupported HTML entity at byte offset {}", offset + at))?;
            decoded.push(c);
            at = next;
        } else {
            let c = value[at..].chars().next().unwrap_or_default();
            decoded.push(c);
            at += c.len_utf8();
        }
    }
    Ok(decoded)
}

/// Closes `tag` where the text is `units` long: its entity, if it covers any text, joins
/// `entities`. A `<code class="language-x">` right inside `<pre>` names the block's language
/// instead of being an entity of its own.
fn finish(tag: Open, units: usize, open: &mut [Open], entities: &mut Vec<Entity>) {
    let length = units - tag.offset;
    let mut entity =
        Entity { kind: String::new(), offset: tag.offset, length, url: None, language: None, custom_emoji_id: None };
    entity.kind = match tag.name.as_str() {
        "b" | "strong" => "bold",
        "i" | "em" => "italic",
        "u" | "ins" => "underline",
        "s" | "strike" | "del" => "strikethrough",
        "span" | "tg-spoiler" => "spoiler",
        "a" => {
            entity.url = tag.attribute("href").filter(|href| !href.is_empty()).map(str::to_owned);
            if entity.url.is_none() {
                return;
            }
            "text_link"
        }
        "code" => {
            if let Some(pre) = open.last_mut().filter(|parent| parent.name == "pre") {
                let language = tag.attribute("class").and_then(|class| class.strip_prefix("language-"));
                pre.language = language.filter(|language| !language.is_empty()).map(str::to_owned);
                return;
            }
            "code"
        }
        "pre" => {
            entity.language = tag.language.clone();
            "pre"
        }
        "blockquote" if tag.attribute("expandable").is_some() => "expandable_blockquote",
        "blockquote" => "blockquote",
        "tg-emoji" => {
            entity.custom_emoji_id = tag.attribute("emoji-id").map(str::to_owned);
            "custom_emoji"
        }
        "tg-time" => "date_time",
        _ => return,
    }
    .to_owned();
    if length > 0 {
        entities.push(entity);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entity(kind: &str, offset: usize, length: usize) -> Entity {
        Entity { kind: kind.into(), offset, length, url: None, language: None, custom_emoji_id: None }
    }

    #[test]
    fn reads_text_and_entities_in_utf16_units() {
        let parsed = parse(
            "😀 <b>bold <i>both</i></b> <a href=\"https://x.test/?a=1&amp;b=&quot;2&quot;\">link</a> &lt;&#62;&#x26;",
        )
        .unwrap();
        assert_eq!(parsed.text, "😀 bold both link <>&");
        let mut link = entity("text_link", 13, 4);
        link.url = Some("https://x.test/?a=1&b=\"2\"".into());
        assert_eq!(parsed.entities, [entity("bold", 3, 9), entity("italic", 8, 4), link]);
    }

    #[test]
    fn a_code_block_takes_its_language_from_the_code_inside() {
        let parsed = parse("<pre><code class=\"language-rust\">fn main() {}</code></pre><code>x</code>").unwrap();
        let mut pre = entity("pre", 0, 12);
        pre.language = Some("rust".into());
        assert_eq!(parsed.entities, [pre, entity("code", 12, 1)]);
        assert_eq!(parse("<pre>plain</pre>").unwrap().entities, [entity("pre", 0, 5)]);
    }

    #[test]
    fn refuses_what_telegram_refuses() {
        let refusals = [
            ("<p>x</p>", "Unsupported start tag \"p\" at byte offset 0"),
            ("<b>x", "Can't find end tag corresponding to start tag \"b\""),
            ("<b><i>x</b></i>", "Unmatched end tag at byte offset 7, expected \"</i>\", found \"</b>\""),
            ("x</b>", "Unexpected end tag at byte offset 1"),
            ("<b", "Unclosed start tag at byte offset 0"),
            ("<a href=\"x>y</a>", "Unclosed start tag at byte offset 0"),
            ("<span>x</span>", "Tag \"span\" must have class \"tg-spoiler\" at byte offset 0"),
            ("a & b", "Unsupported HTML entity at byte offset 2"),
            ("&nbsp;", "Unsupported HTML entity at byte offset 0"),
            ("<script>alert(1)</script>", "Unsupported start tag \"script\" at byte offset 0"),
        ];
        for (html, reason) in refusals {
            assert_eq!(parse(html), Err(reason.to_owned()), "{html}");
        }
        assert!(parse("<blockquote expandable>q</blockquote><span class=\"tg-spoiler\">s</span>").is_ok());
    }
}
