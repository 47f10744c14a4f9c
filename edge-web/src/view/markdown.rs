//! The assistant's replies as formatted text: Markdown rendered on the server with
//! pulldown-cmark, then sanitised with ammonia, so that a reply (whatever the model or a person
//! steering it wrote) can carry no script, no raw HTML and no `javascript:` or `data:` link.
//! People's own messages stay plain text.

use std::collections::HashSet;

use pulldown_cmark::{Event, Options, Parser, html};

/// The reply `text` as safe HTML.
pub fn reply_html(text: &str) -> String {
    let options = Options::ENABLE_STRIKETHROUGH | Options::ENABLE_TABLES | Options::ENABLE_TASKLISTS;
    // Raw HTML in the Markdown is shown as the text it is, never as markup.
    let events = Parser::new_ext(text, options).map(|event| match event {
        Event::Html(raw) | Event::InlineHtml(raw) => Event::Text(raw),
        other => other,
    });
    let mut rendered = String::with_capacity(text.len() * 3 / 2);
    html::push_html(&mut rendered, events);
    sanitiser().clean(&rendered).to_string()
}

/// What a reply may keep: ammonia's safe tags but images (which would load from anywhere, and
/// the page's policy refuses them anyway), links to the web and mail only, opened without the
/// page's context, and the language of a code block.
fn sanitiser() -> ammonia::Builder<'static> {
    let mut builder = ammonia::Builder::default();
    builder
        .rm_tags(["img"])
        .url_schemes(HashSet::from(["http", "https", "mailto"]))
        .link_rel(Some("noopener noreferrer nofollow"))
        .add_tag_attributes("code", ["class"])
        .attribute_filter(|element, attribute, value| match (element, attribute) {
            ("code", "class") => language_class(value).map(Into::into),
            _ => Some(value.into()),
        });
    builder
}

/// `class` of a code block when it only names its language, such as `language-rust`.
fn language_class(class: &str) -> Option<&str> {
    let language = class.strip_prefix("language-")?;
    let plain = !language.is_empty() && language.bytes().all(|b| b.is_ascii_alphanumeric() || b"+-_#".contains(&b));
    plain.then_some(class)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markdown_becomes_formatted_text() {
        let html = reply_html("**bold** and *italic*\n\n- one\n- two\n\n```rust\nlet x = 1 < 2;\n```\n\n~~gone~~");
        assert!(html.contains("<strong>bold</strong>") && html.contains("<em>italic</em>"), "{html}");
        assert!(html.contains("<ul>") && html.contains("<li>one</li>"), "{html}");
        assert!(html.contains("<pre><code class=\"language-rust\">let x = 1 &lt; 2;\n</code></pre>"), "{html}");
        assert!(html.contains("<del>gone</del>"), "{html}");
        let odd = reply_html("```x\" onmouseover=\"alert(1)\nhi\n```");
        assert!(!odd.contains("onmouseover") && odd.contains("<pre><code>hi"), "{odd}");
    }

    #[test]
    fn nothing_active_survives() {
        let hostile = "<script>alert(1)</script>\n\n<img src=x onerror=alert(2)>\n\n[click](javascript:alert(3)) \
                       [data](data:text/html;base64,PHNjcmlwdD4=) <a href=\"https://x.example\" onclick=\"alert(4)\">a</a>\n\n\
                       ![pic](javascript:alert(5))";
        let html = reply_html(hostile);
        // Every tag left, with its attributes: none runs anything.
        let tags: Vec<&str> = html.split('<').skip(1).map(|rest| rest.split('>').next().unwrap_or_default()).collect();
        for tag in &tags {
            let name = tag.split_whitespace().next().unwrap_or_default();
            assert!(!["script", "img", "iframe", "object"].contains(&name), "<{tag}> in {html}");
            assert!(
                !tag.contains(" on") && !tag.contains("javascript:") && !tag.contains("data:"),
                "<{tag}> in {html}"
            );
        }
        assert!(html.contains("&lt;script&gt;"), "raw HTML is shown as text: {html}");
    }

    #[test]
    fn links_open_without_the_pages_context() {
        let html = reply_html("[docs](https://docs.example.com/a)");
        assert!(
            html.contains(r#"<a href="https://docs.example.com/a" rel="noopener noreferrer nofollow">docs</a>"#),
            "{html}"
        );
    }
}
