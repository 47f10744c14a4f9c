//! `assistchat.v1.EdgeService`: provider edges attach here with an edge credential, say who
//! they are, and from then on receive the bot manager's commands and send their reports.
//!
//! A credential has a reach ([`EdgeReach`]): a provider's own (`ASSISTCHAT_EDGE_TOKEN_<PROVIDER>`)
//! attaches only as that provider, so it describes only that provider's schema, is handed only
//! that provider's resources (and their secrets), and converses only for the resources started
//! on the instances it attached itself. The shared `ASSISTCHAT_EDGE_TOKEN` may act as any
//! provider, for a single operator who runs every edge.

mod frames;

use std::{pin::Pin, sync::Arc, time::Duration};

use assistchat_proto::v1::{
    AttachRequest, AttachResponse, ConverseRequest, ConverseResponse, EdgeHeartbeatAck, EdgeWelcome,
    ResetConversationRequest, ResetConversationResponse, attach_request, attach_response::Kind,
    edge_service_server::EdgeService,
};
use sha2::{Digest, Sha256};
use tokio::sync::mpsc;
use tokio_stream::{Stream, StreamExt, wrappers::UnboundedReceiverStream};
use tonic::{Request, Response, Status, Streaming};

use crate::{
    bot::manager::BotManager,
    conversations::{Channel, ChannelDefaults, Conversations, Inbound, MODEL_SETTING, message_text},
    error::Error,
    providers::{ProviderSpec, Registry},
    store::Store,
};

/// The shortest edge credential accepted.
pub const MIN_EDGE_TOKEN_LEN: usize = 32;
/// Heartbeat intervals of silence after which an edge is detached.
const SILENT_INTERVALS: u32 = 3;

/// What an edge credential may act as.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EdgeReach {
    /// The shared credential: any provider.
    Any,
    /// A provider's own credential: that provider only, by its [`credential_key`].
    Provider(String),
}

impl EdgeReach {
    /// Whether a credential of this reach may act as `provider`.
    pub fn allows(&self, provider: &str) -> bool {
        match self {
            Self::Any => true,
            Self::Provider(key) => *key == credential_key(provider),
        }
    }
}

/// The form of a provider's name in its credential's variable (`ASSISTCHAT_EDGE_TOKEN_<KEY>`,
/// upper-cased there): lower-case, with `_` for `-`.
pub fn credential_key(provider: &str) -> String {
    provider.trim().to_lowercase().replace('-', "_")
}

/// The gRPC face of the edge protocol.
pub struct EdgeApi {
    /// SHA-256 of each accepted edge credential, with its reach; empty when no edge may attach.
    credentials: Vec<([u8; 32], EdgeReach)>,
    /// How often edges send heartbeats.
    heartbeat: Duration,
    /// Where providers' descriptions go.
    registry: Arc<Registry>,
    /// The database, for the registry.
    store: Store,
    /// Hands out the resources.
    manager: BotManager,
    /// Answers the messages.
    conversations: Arc<Conversations>,
}

impl EdgeApi {
    /// The service, accepting edges that present one of `credentials`, each with its reach.
    pub fn new(
        credentials: &[(String, EdgeReach)],
        heartbeat: Duration,
        registry: Arc<Registry>,
        store: Store,
        manager: BotManager,
        conversations: Arc<Conversations>,
    ) -> Self {
        let credentials =
            credentials.iter().map(|(token, reach)| (Sha256::digest(token.as_bytes()).into(), reach.clone())).collect();
        Self { credentials, heartbeat, registry, store, manager, conversations }
    }

    /// The chat `chat_id` of a resource started on the calling instance, which must have
    /// attached with the caller's credential, of `reach`.
    async fn channel(
        &self,
        reach: &EdgeReach,
        instance_id: &str,
        resource_id: &str,
        chat_id: &str,
    ) -> Result<Channel, Status> {
        bounded("instance_id", instance_id, MAX_ID_CHARS)?;
        bounded("resource_id", resource_id, MAX_ID_CHARS)?;
        bounded("chat_id", chat_id, MAX_ID_CHARS)?;
        let not_here = || {
            Status::not_found(
                "this resource is not started on this instance; leave the message unanswered so that it reaches the \
                 instance that runs it",
            )
        };
        let Some(placed) = self.manager.placement(resource_id).filter(|placed| placed.instance_id == instance_id)
        else {
            return Err(not_here());
        };
        if placed.reach != *reach {
            return Err(Status::permission_denied(
                "this instance attached with another edge credential; converse with the credential it attached with",
            ));
        }
        let record = self.store.resource_by_id(resource_id).await.map_err(Error::from)?.ok_or_else(not_here)?;
        if !reach.allows(&record.provider) {
            return Err(Status::permission_denied(format!(
                "this edge credential is not for provider {:?}; converse with that provider's credential",
                record.provider
            )));
        }
        let settings: serde_json::Value = serde_json::from_str(&record.meta_json).unwrap_or_default();
        let setting = |name: &str| settings.get(name).and_then(|value| value.as_str()).unwrap_or_default().to_owned();
        Ok(Channel {
            user_id: record.user_id,
            resource_id: Some(record.id),
            chat_key: chat_id.to_owned(),
            defaults: ChannelDefaults { system_prompt: setting("system_prompt"), model: setting(MODEL_SETTING) },
        })
    }

    /// What the caller's edge credential may act as, or why it is refused.
    fn authenticate<T>(&self, request: &Request<T>) -> Result<EdgeReach, Status> {
        if self.credentials.is_empty() {
            return Err(Status::unauthenticated(
                "this core accepts no edges; set ASSISTCHAT_EDGE_TOKEN_<PROVIDER> on core and the same value as \
                 ASSISTCHAT_EDGE_TOKEN on that provider's edge",
            ));
        }
        let presented = request
            .metadata()
            .get("authorization")
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.strip_prefix("Bearer "))
            .ok_or_else(|| Status::unauthenticated("send authorization: Bearer <edge credential>"))?;
        // Digests of equal length, each compared in full, so the time taken says nothing about
        // the credential.
        let digest: [u8; 32] = Sha256::digest(presented.as_bytes()).into();
        let mut found = None;
        for (expected, reach) in &self.credentials {
            if digest.iter().zip(expected).fold(0u8, |diff, (a, b)| diff | (a ^ b)) == 0 {
                found = Some(reach.clone());
            }
        }
        found.ok_or_else(|| {
            Status::unauthenticated(
                "the edge credential is wrong; give the edge (as ASSISTCHAT_EDGE_TOKEN) the value of core's \
                 ASSISTCHAT_EDGE_TOKEN_<PROVIDER> for its provider",
            )
        })
    }
}

/// The longest id an edge may send (chats, messages, senders).
const MAX_ID_CHARS: usize = 200;

/// A required text of at most `max` characters.
fn bounded(field: &'static str, value: &str, max: usize) -> Result<(), Error> {
    if value.is_empty() {
        return Err(Error::invalid(field, "required; send the channel's id"));
    }
    if value.chars().count() > max {
        return Err(Error::invalid(field, format!("at most {max} characters; send a shorter id or a hash of it")));
    }
    Ok(())
}

/// The stream of core's messages to one edge.
type Outbound = Pin<Box<dyn Stream<Item = Result<AttachResponse, Status>> + Send>>;

#[tonic::async_trait]
impl EdgeService for EdgeApi {
    type AttachStream = Outbound;

    #[tracing::instrument(skip_all)]
    async fn attach(&self, request: Request<Streaming<AttachRequest>>) -> Result<Response<Outbound>, Status> {
        let reach = self.authenticate(&request)?;
        let silence = self.heartbeat * SILENT_INTERVALS;
        let mut inbound = request.into_inner();
        let first = tokio::time::timeout(silence, inbound.message())
            .await
            .map_err(|_| Status::deadline_exceeded("no hello came; send EdgeHello first"))??;
        let Some(AttachRequest { kind: Some(attach_request::Kind::Hello(hello)) }) = first else {
            return Err(Status::failed_precondition("the first message must be a hello"));
        };
        let spec = ProviderSpec::from_hello(&hello)?;
        if !reach.allows(&spec.name) {
            tracing::warn!(provider = %spec.name, "an edge credential of another provider tried to attach");
            return Err(Status::permission_denied(format!(
                "this edge credential is not for provider {:?}; attach with the credential core has as \
                 ASSISTCHAT_EDGE_TOKEN_{}",
                spec.name,
                credential_key(&spec.name).to_uppercase()
            )));
        }
        self.registry.describe(&self.store, spec.clone()).await.map_err(Error::from)?;
        // Two sources of frames: this stream's own (the welcome first, heartbeat acks, its
        // refusals) and the manager's commands.
        let (sender, own) = mpsc::unbounded_channel();
        let (commands, from_manager) = mpsc::unbounded_channel();
        let welcome = EdgeWelcome {
            heartbeat_interval: Some(prost_types::Duration::try_from(self.heartbeat).unwrap_or_default()),
            core_version: env!("CARGO_PKG_VERSION").into(),
        };
        let welcome = tokio_stream::once(Ok(AttachResponse { kind: Some(Kind::Welcome(welcome)) }));
        let connection = self.manager.attach(spec, hello.instance_id, reach, commands).await;
        let manager = self.manager.clone();
        tokio::spawn(async move {
            loop {
                let message = match tokio::time::timeout(silence, inbound.message()).await {
                    Err(_) => {
                        let _ = sender.send(Err(Status::deadline_exceeded(
                            "no message for three heartbeat intervals; attach again",
                        )));
                        break;
                    }
                    Ok(Ok(Some(message))) => message,
                    Ok(Ok(None) | Err(_)) => break,
                };
                match message.kind {
                    Some(attach_request::Kind::Report(report)) => manager.report(connection, frames::report(report)),
                    Some(attach_request::Kind::Heartbeat(beat)) => {
                        let ack = EdgeHeartbeatAck { sequence: beat.sequence };
                        let _ = sender.send(Ok(AttachResponse { kind: Some(Kind::HeartbeatAck(ack)) }));
                    }
                    Some(attach_request::Kind::Hello(_)) => {
                        let _ = sender.send(Err(Status::failed_precondition("a stream takes one hello only")));
                        break;
                    }
                    None => {}
                }
            }
            manager.detach(connection);
        });
        let commands = UnboundedReceiverStream::new(from_manager).map(frames::frame);
        let outbound = welcome.chain(UnboundedReceiverStream::new(own).merge(commands));
        Ok(Response::new(Box::pin(outbound)))
    }

    #[tracing::instrument(skip_all, fields(resource_id = %request.get_ref().resource_id))]
    async fn converse(&self, request: Request<ConverseRequest>) -> Result<Response<ConverseResponse>, Status> {
        let reach = self.authenticate(&request)?;
        let request = request.into_inner();
        let sender = request.sender.unwrap_or_default();
        bounded("sender.id", &sender.id, MAX_ID_CHARS)?;
        bounded("external_message_id", &request.external_message_id, MAX_ID_CHARS)?;
        message_text("text", &request.text)?;
        let channel = self.channel(&reach, &request.instance_id, &request.resource_id, &request.chat_id).await?;
        let sender_name = match (sender.display_name.as_str(), sender.username.as_str()) {
            ("", "") => String::new(),
            ("", handle) => format!("@{handle}"),
            (name, _) => name.to_owned(),
        };
        let inbound = Inbound {
            text: request.text,
            external_id: Some(request.external_message_id),
            sender_id: sender.id,
            sender_name,
        };
        let answer = self.conversations.converse(channel, inbound).await?;
        Ok(Response::new(ConverseResponse { reply_text: answer.reply.text, redelivered: answer.redelivered }))
    }

    #[tracing::instrument(skip_all, fields(resource_id = %request.get_ref().resource_id))]
    async fn reset_conversation(
        &self,
        request: Request<ResetConversationRequest>,
    ) -> Result<Response<ResetConversationResponse>, Status> {
        let reach = self.authenticate(&request)?;
        let request = request.into_inner();
        let channel = self.channel(&reach, &request.instance_id, &request.resource_id, &request.chat_id).await?;
        self.conversations.reset(&channel).await?;
        Ok(Response::new(ResetConversationResponse {}))
    }
}
