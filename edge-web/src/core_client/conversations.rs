//! Conversation calls that pages and the API share: the person's current browser conversation,
//! and a streamed reply waited for to its end (for forms sent without JavaScript).

use assistchat_proto::v1::{Conversation, ListConversationsRequest};
use tokio_stream::{Stream, StreamExt};

use super::{CallMeta, Core};

/// How many browser conversations are looked through for the current one: it is almost always
/// the newest, and a person who has written in a hundred older ones since has none to show.
const CURRENT_LOOKUP: i32 = 100;

/// Core's filter for the conversations whose `field` (`channel` or `resource_id`) is `value`;
/// `None` when the value holds a quote or a backslash, which would end the filter's string
/// early: no channel's or resource's name has one.
pub fn filter(field: &str, value: &str) -> Option<String> {
    (!value.contains(['"', '\\'])).then(|| format!("{field} = \"{value}\""))
}

/// The caller's current browser conversation (the one `BotService`'s chat calls use); `None`
/// when a new one has just been asked for and has no message yet.
pub async fn current_browser(core: &Core, meta: &CallMeta) -> Result<Option<Conversation>, tonic::Status> {
    let request = ListConversationsRequest {
        page_size: CURRENT_LOOKUP,
        filter: filter("channel", "browser").unwrap_or_default(),
        ..Default::default()
    };
    let response = core.conversations().list_conversations(meta.request(request)).await?.into_inner();
    Ok(response.results.into_iter().filter_map(|result| result.conversation).find(|c| c.current))
}

/// Reads a reply's stream to its end: `Ok` once the reply is stored, or the status it ended with.
pub async fn drain<T>(stream: impl Stream<Item = Result<T, tonic::Status>>) -> Result<(), tonic::Status> {
    tokio::pin!(stream);
    while let Some(item) = stream.next().await {
        item?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_filter_names_its_value_or_refuses_one_that_would_end_its_string() {
        assert_eq!(super::filter("channel", "telegram").as_deref(), Some("channel = \"telegram\""));
        assert_eq!(super::filter("resource_id", "x\" OR 1"), None);
        assert_eq!(super::filter("resource_id", "x\\"), None);
    }
}
