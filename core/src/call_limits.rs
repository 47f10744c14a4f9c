//! The limits every gRPC connection and call is held to, so that no client can exhaust the
//! server with calls that never end or connections that never speak.
//!
//! - At most [`MAX_CONCURRENT_CALLS`] calls run at once across all connections; more wait.
//! - One connection carries at most `ASSISTCHAT_GRPC_MAX_STREAMS_PER_CONNECTION` calls at once
//!   (HTTP/2 `SETTINGS_MAX_CONCURRENT_STREAMS`): a client opening more waits for one to end. The
//!   web edge carries every browser's calls on one connection, so the default is generous.
//! - HTTP/2 keep-alive pings every [`KEEPALIVE_INTERVAL`] find a peer that went away without
//!   closing: no answer within [`KEEPALIVE_TIMEOUT`] closes the connection and ends its calls.
//! - A unary call runs at most `ASSISTCHAT_RPC_TIMEOUT` (or the client's own `grpc-timeout`,
//!   when shorter) and then ends with `DEADLINE_EXCEEDED`; the calls that wait for a model
//!   ([`MODEL_WAITING`]) get `ASSISTCHAT_AI_DEADLINE` on top of it. Streaming calls are meant
//!   to live long (an edge's `Attach`, `WatchBotStatus`, `StreamChatMessage`) and have no
//!   timeout here: which methods stream is read from the served services' descriptors, so a
//!   new streaming method needs no list kept by hand.

use std::{
    collections::HashSet,
    future::Future,
    pin::Pin,
    sync::Arc,
    task::{Context, Poll},
    time::Duration,
};

use prost::Message as _;
use tower::{Layer, Service};

/// Calls running at once across all connections; more wait for one to end. Long-lived streams
/// count too, so this is far above what the per-user caps let people hold open.
pub const MAX_CONCURRENT_CALLS: usize = 10_000;
/// The default of `ASSISTCHAT_GRPC_MAX_STREAMS_PER_CONNECTION`.
pub const MAX_STREAMS_PER_CONNECTION: u32 = 4096;
/// The default of `ASSISTCHAT_RPC_TIMEOUT`: how long a unary call may run.
pub const RPC_TIMEOUT: Duration = Duration::from_secs(30);
/// How often an HTTP/2 connection is pinged to see that its peer is still there.
pub const KEEPALIVE_INTERVAL: Duration = Duration::from_secs(30);
/// How long a ping may go unanswered before the connection is closed.
pub const KEEPALIVE_TIMEOUT: Duration = Duration::from_secs(10);
/// TCP keep-alive probes, for connections (gRPC-web over HTTP/1.1) HTTP/2 pings cannot reach.
pub const TCP_KEEPALIVE: Duration = Duration::from_secs(60);
/// The unary calls that wait for a model to answer: their timeout is the model's deadline plus
/// the ordinary one.
pub const MODEL_WAITING: [&str; 5] = [
    "/assistchat.v1.BotService/SendChatMessage",
    "/assistchat.v1.EdgeService/Converse",
    // These three may ask a byok user's server which models it offers.
    "/assistchat.v1.ConversationService/ListModels",
    "/assistchat.v1.ConversationService/CreateConversation",
    "/assistchat.v1.ConversationService/UpdateConversation",
];

/// The paths (`/package.Service/Method`) of every streaming method in these encoded
/// descriptor sets.
pub fn streaming_methods(descriptor_sets: &[&[u8]]) -> HashSet<String> {
    let mut streaming = HashSet::new();
    for encoded in descriptor_sets {
        let set = prost_types::FileDescriptorSet::decode(*encoded).expect("the embedded descriptor sets are valid");
        for file in set.file {
            let package = file.package();
            for service in &file.service {
                for method in &service.method {
                    if method.client_streaming() || method.server_streaming() {
                        let service = service.name();
                        let path = if package.is_empty() {
                            format!("/{service}/{}", method.name())
                        } else {
                            format!("/{package}.{service}/{}", method.name())
                        };
                        streaming.insert(path);
                    }
                }
            }
        }
    }
    streaming
}

/// Ends unary calls that run too long with `DEADLINE_EXCEEDED`, and leaves streams alone.
#[derive(Clone, Debug)]
pub struct UnaryTimeoutLayer {
    rules: Arc<Rules>,
}

#[derive(Debug)]
struct Rules {
    /// The streaming methods' paths.
    streaming: HashSet<String>,
    /// The timeout of an ordinary unary call.
    unary: Duration,
    /// The timeout of a call in [`MODEL_WAITING`].
    model_waiting: Duration,
}

impl UnaryTimeoutLayer {
    /// Unary calls get `unary`, those in [`MODEL_WAITING`] `model_waiting`; the methods in
    /// `streaming` none.
    pub fn new(streaming: HashSet<String>, unary: Duration, model_waiting: Duration) -> Self {
        Self { rules: Arc::new(Rules { streaming, unary, model_waiting }) }
    }

    /// The timeout of a call to `path`; `None` for a streaming method.
    pub fn timeout_of(&self, path: &str) -> Option<Duration> {
        if self.rules.streaming.contains(path) {
            None
        } else if MODEL_WAITING.contains(&path) {
            Some(self.rules.model_waiting)
        } else {
            Some(self.rules.unary)
        }
    }
}

impl<S> Layer<S> for UnaryTimeoutLayer {
    type Service = UnaryTimeout<S>;

    fn layer(&self, inner: S) -> Self::Service {
        UnaryTimeout { inner, layer: self.clone() }
    }
}

/// The service of [`UnaryTimeoutLayer`].
#[derive(Clone, Debug)]
pub struct UnaryTimeout<S> {
    inner: S,
    layer: UnaryTimeoutLayer,
}

impl<S, ReqBody, ResBody> Service<http::Request<ReqBody>> for UnaryTimeout<S>
where
    S: Service<http::Request<ReqBody>, Response = http::Response<ResBody>>,
    S::Future: Send + 'static,
    ResBody: Default + Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<S::Response, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<ReqBody>) -> Self::Future {
        let Some(limit) = self.layer.timeout_of(request.uri().path()) else {
            return Box::pin(self.inner.call(request));
        };
        // A client asking for less than the server allows gets what it asked for.
        let limit = client_timeout(request.headers()).map_or(limit, |asked| asked.min(limit));
        let call = self.inner.call(request);
        Box::pin(async move {
            match tokio::time::timeout(limit, call).await {
                Ok(answered) => answered,
                Err(_) => Ok(tonic::Status::deadline_exceeded(format!(
                    "the call ran out of its time ({} s) and was stopped; try again, and if it keeps \
                     happening, ask for less at once",
                    limit.as_secs_f64()
                ))
                .into_http()),
            }
        })
    }
}

/// The `grpc-timeout` header: digits and a unit (`H`, `M`, `S`, `m`, `u`, `n`).
fn client_timeout(headers: &http::HeaderMap) -> Option<Duration> {
    let value = headers.get("grpc-timeout")?.to_str().ok()?;
    let (digits, unit) = value.split_at(value.len().checked_sub(1)?);
    let amount: u64 = digits.parse().ok().filter(|_| digits.len() <= 8)?;
    Some(match unit {
        "H" => Duration::from_secs(amount.saturating_mul(3600)),
        "M" => Duration::from_secs(amount.saturating_mul(60)),
        "S" => Duration::from_secs(amount),
        "m" => Duration::from_millis(amount),
        "u" => Duration::from_micros(amount),
        "n" => Duration::from_nanos(amount),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layer() -> UnaryTimeoutLayer {
        let streaming = streaming_methods(&[
            assistchat_proto::FILE_DESCRIPTOR_SET,
            tonic_health::pb::FILE_DESCRIPTOR_SET,
            tonic_reflection::pb::v1::FILE_DESCRIPTOR_SET,
        ]);
        UnaryTimeoutLayer::new(streaming, Duration::from_secs(30), Duration::from_secs(150))
    }

    #[test]
    fn streams_have_no_timeout_and_model_calls_the_longer_one() {
        let layer = layer();
        for stream in [
            "/assistchat.v1.EdgeService/Attach",
            "/assistchat.v1.BotService/WatchBotStatus",
            "/assistchat.v1.BotService/StreamChatMessage",
            "/grpc.health.v1.Health/Watch",
            "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
        ] {
            assert_eq!(layer.timeout_of(stream), None, "{stream}");
        }
        assert_eq!(layer.timeout_of("/assistchat.v1.AuthService/Login"), Some(Duration::from_secs(30)));
        assert_eq!(layer.timeout_of("/grpc.health.v1.Health/Check"), Some(Duration::from_secs(30)));
        for model in MODEL_WAITING {
            assert_eq!(layer.timeout_of(model), Some(Duration::from_secs(150)), "{model}");
        }
    }

    #[test]
    fn the_clients_grpc_timeout_is_read_in_every_unit() {
        let timeout = |value: &str| {
            let mut headers = http::HeaderMap::new();
            headers.insert("grpc-timeout", value.parse().unwrap());
            client_timeout(&headers)
        };
        assert_eq!(timeout("5S"), Some(Duration::from_secs(5)));
        assert_eq!(timeout("250m"), Some(Duration::from_millis(250)));
        assert_eq!(timeout("2M"), Some(Duration::from_secs(120)));
        assert_eq!(timeout("1H"), Some(Duration::from_secs(3600)));
        assert_eq!(timeout("100u"), Some(Duration::from_micros(100)));
        assert_eq!(timeout("S"), None);
        assert_eq!(timeout("123456789S"), None, "at most eight digits");
        assert_eq!(timeout("5x"), None);
    }
}
