//! List pagination after AIP-158: a page size with a default and a maximum, and opaque page
//! tokens that name where the previous page ended.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};

use crate::error::{Error, Result};

/// Items on a page when the caller asks for none in particular.
pub const DEFAULT_PAGE_SIZE: i64 = 50;
/// Items on a page at most; larger requests are served this many.
pub const MAX_PAGE_SIZE: i64 = 100;

/// The page size to serve for a requested one.
pub fn page_size(requested: i32) -> Result<i64> {
    match requested {
        ..0 => Err(Error::invalid("page_size", "the page size is negative; send 0 for the default or up to 100")),
        0 => Ok(DEFAULT_PAGE_SIZE),
        n => Ok(i64::from(n).min(MAX_PAGE_SIZE)),
    }
}

/// The token for the page after the item `last_id` of the list `list`.
pub fn encode_token(list: &str, last_id: &str) -> String {
    URL_SAFE_NO_PAD.encode(format!("{list}\n{last_id}"))
}

/// The item id a page token of list `list` continues after; `None` for the first page.
pub fn decode_token(list: &str, token: &str) -> Result<Option<String>> {
    if token.is_empty() {
        return Ok(None);
    }
    let bad = || Error::invalid("page_token", "the page token is not one this list gave out; start again without it");
    let text = URL_SAFE_NO_PAD.decode(token).ok().and_then(|bytes| String::from_utf8(bytes).ok()).ok_or_else(bad)?;
    match text.split_once('\n') {
        Some((name, last_id)) if name == list && !last_id.is_empty() => Ok(Some(last_id.to_owned())),
        _ => Err(bad()),
    }
}

/// Splits `limit + 1` fetched items into the page and the next page's token.
pub fn paginate<T>(mut items: Vec<T>, limit: i64, list: &str, id: impl Fn(&T) -> &str) -> (Vec<T>, String) {
    let limit = usize::try_from(limit).unwrap_or(usize::MAX);
    if items.len() <= limit {
        return (items, String::new());
    }
    items.truncate(limit);
    let token = items.last().map(|last| encode_token(list, id(last))).unwrap_or_default();
    (items, token)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_round_trip_and_are_bound_to_their_list() {
        let token = encode_token("api_tokens", "0193");
        assert_eq!(decode_token("api_tokens", &token).unwrap().as_deref(), Some("0193"));
        assert!(decode_token("resources", &token).is_err());
        assert!(decode_token("api_tokens", "%%%").is_err());
        assert_eq!(decode_token("api_tokens", "").unwrap(), None);
    }

    #[test]
    fn sizes_default_and_cap() {
        assert_eq!(page_size(0).unwrap(), DEFAULT_PAGE_SIZE);
        assert_eq!(page_size(7).unwrap(), 7);
        assert_eq!(page_size(10_000).unwrap(), MAX_PAGE_SIZE);
        assert!(page_size(-1).is_err());
    }
}
