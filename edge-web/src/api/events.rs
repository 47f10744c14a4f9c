//! A reply streamed from core as server-sent events, the same for the browser chat and for every
//! conversation: `user_message` (the stored message), `delta` (`{"text"}`, a piece of the
//! reply), `reply` (the stored reply); or, when the message gets no reply, `error`
//! (`{"code", "message", "field"?}`) and the end of the stream.

use std::{convert::Infallible, time::Duration};

use assistchat_proto::v1::{
    RegenerateReplyResponse, StreamChatMessageResponse, StreamMessageResponse, regenerate_reply_response,
    stream_chat_message_response, stream_message_response,
};
use axum::{
    http::HeaderValue,
    response::{
        IntoResponse, Response,
        sse::{Event, KeepAlive, Sse},
    },
};
use serde::Serialize;
use tokio_stream::{Stream, StreamExt};
use tonic::{Code, Status, Streaming};

use crate::{
    error::AppError,
    http::error::ApiError,
    i18n::Lang,
    view::{chat::failure_message, json},
};

/// How often a stream waiting for the model gets a comment, so that proxies keep it open.
const KEEP_ALIVE: Duration = Duration::from_secs(15);

/// One message of a reply's stream, whichever of core's streams it came from.
pub enum Piece<M> {
    /// The person's message, as stored.
    UserMessage(M),
    /// The next piece of the reply's text.
    Delta(String),
    /// The reply, as stored.
    Reply(M),
}

/// A message of one of core's reply streams.
pub trait Relayed {
    /// The JSON API's type of the messages it carries.
    type Message: Serialize;

    /// What it carries; `None` for a message without an event.
    fn piece(self) -> Option<Piece<Self::Message>>;
}

/// Makes a stream's response [`Relayed`]: each of core's reply streams carries the same three
/// events in an `Event` oneof of its own module, with its own message type.
macro_rules! relayed {
    ($response:ty, $module:ident, $message:ty) => {
        impl Relayed for $response {
            type Message = $message;

            fn piece(self) -> Option<Piece<$message>> {
                use $module::Event::{Reply, ReplyDelta, UserMessage};
                Some(match self.event? {
                    UserMessage(message) => Piece::UserMessage(<$message>::from(&message)),
                    ReplyDelta(text) => Piece::Delta(text),
                    Reply(message) => Piece::Reply(<$message>::from(&message)),
                })
            }
        }
    };
}

relayed!(StreamChatMessageResponse, stream_chat_message_response, json::ChatMessage);
relayed!(StreamMessageResponse, stream_message_response, json::Message);
relayed!(RegenerateReplyResponse, regenerate_reply_response, json::Message);

/// The answer to a call that started one of core's reply streams, as server-sent events. A call
/// core refused for the caller's credential or for the conversation (none of theirs) is a JSON
/// error with its HTTP status instead, as for any other route; every other refusal is the
/// stream's one `error` event, in the words core wrote for the person.
pub fn relay<T>(started: Result<tonic::Response<Streaming<T>>, Status>, lang: Lang) -> Result<Response, ApiError>
where
    T: Relayed + Send + 'static,
{
    let events = match started {
        Ok(response) => response.into_inner().filter_map(move |item| match item {
            Ok(message) => message.piece().and_then(event).map(Ok::<_, Infallible>),
            Err(status) => Some(Ok(error_event(status.into(), lang))),
        }),
        Err(status) if matches!(status.code(), Code::Unauthenticated | Code::NotFound) => {
            return Err(AppError::from(status).into());
        }
        Err(status) => return Ok(sse(tokio_stream::once(Ok(error_event(status.into(), lang))))),
    };
    Ok(sse(events))
}

/// `events` as the response, kept open while the model thinks.
fn sse(events: impl Stream<Item = Result<Event, Infallible>> + Send + 'static) -> Response {
    let mut response = Sse::new(events).keep_alive(KeepAlive::new().interval(KEEP_ALIVE)).into_response();
    // Proxies such as nginx would otherwise hold the pieces back until the reply is whole.
    response.headers_mut().insert("x-accel-buffering", HeaderValue::from_static("no"));
    response
}

/// One piece as an event.
fn event<M: Serialize>(piece: Piece<M>) -> Option<Event> {
    let event = Event::default();
    let event = match piece {
        Piece::UserMessage(message) => event.event("user_message").json_data(message),
        Piece::Delta(text) => event.event("delta").json_data(json::Delta { text }),
        Piece::Reply(message) => event.event("reply").json_data(message),
    };
    event.ok()
}

/// Why the message got no reply, as the last event: core's words for the person where it wrote
/// them, ours otherwise.
fn error_event(err: AppError, lang: Lang) -> Event {
    if err.status().is_server_error() {
        tracing::warn!(error = %err, "streamed reply failed");
    }
    let data = json::ErrorDetail { code: err.code(), message: failure_message(&err, lang), field: err.field() };
    let event = Event::default().event("error");
    // Serialising strings cannot fail.
    event.json_data(data).unwrap_or_else(|_| Event::default().event("error"))
}
