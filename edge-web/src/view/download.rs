//! A file core made (a conversation's export, a person's archive of their data), answered as a
//! download: its name kept in any language, and never cached.

use axum::{
    http::{HeaderValue, header},
    response::{IntoResponse, Response},
};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

/// What a file name may hold unencoded in `filename*`: RFC 8187's `attr-char`.
const ATTR_CHAR: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'!')
    .remove(b'#')
    .remove(b'$')
    .remove(b'&')
    .remove(b'+')
    .remove(b'-')
    .remove(b'.')
    .remove(b'^')
    .remove(b'_')
    .remove(b'`')
    .remove(b'|')
    .remove(b'~');

/// `content` of the media type `content_type` as a download named `name`.
pub fn download(name: &str, content_type: &str, content: Vec<u8>) -> Response {
    let content_type =
        HeaderValue::from_str(content_type).unwrap_or_else(|_| HeaderValue::from_static("application/octet-stream"));
    let headers = [
        (header::CONTENT_TYPE, content_type),
        (header::CONTENT_DISPOSITION, attachment(name)),
        // What core makes into a file is one person's: no cache keeps it, whatever the default
        // becomes.
        (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
    ];
    (headers, content).into_response()
}

/// `Content-Disposition` of a download named `name` (RFC 6266): an ASCII name for clients that
/// know no other, and the name itself percent-encoded (RFC 8187), so that a title in Russian
/// keeps its words.
fn attachment(name: &str) -> HeaderValue {
    let (stem, extension) = name.rsplit_once('.').unwrap_or((name, ""));
    let ascii: String = stem.chars().filter(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_')).collect();
    let ascii = match ascii.trim_matches(['-', '_']) {
        "" => "conversation",
        kept => kept,
    };
    let extension: String = extension.chars().filter(char::is_ascii_alphanumeric).collect();
    let fallback = if extension.is_empty() { ascii.to_owned() } else { format!("{ascii}.{extension}") };
    let encoded = utf8_percent_encode(name, ATTR_CHAR);
    let value = format!("attachment; filename=\"{fallback}\"; filename*=UTF-8''{encoded}");
    // Made of ASCII only, so always a valid header value.
    HeaderValue::from_str(&value).unwrap_or_else(|_| HeaderValue::from_static("attachment"))
}

#[cfg(test)]
mod tests {
    use super::attachment;

    #[test]
    fn a_download_keeps_its_name_in_any_language() {
        let value = attachment("trip-to-rome.md");
        assert_eq!(value, r#"attachment; filename="trip-to-rome.md"; filename*=UTF-8''trip-to-rome.md"#);
        let value = attachment("поездка-в-рим.md");
        assert_eq!(
            value,
            "attachment; filename=\"conversation.md\"; \
             filename*=UTF-8''%D0%BF%D0%BE%D0%B5%D0%B7%D0%B4%D0%BA%D0%B0-%D0%B2-%D1%80%D0%B8%D0%BC.md"
        );
        let value = attachment("rome-рим.json");
        assert!(value.to_str().unwrap().starts_with(r#"attachment; filename="rome.json"; filename*=UTF-8''rome-"#));
    }
}
