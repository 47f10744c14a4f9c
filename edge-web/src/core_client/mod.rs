//! Calls to core: the one gRPC channel, the metadata every call carries (the caller's
//! credential, the HTTP request's id and the browser's address), and the calls that pages and the
//! JSON API share ([`resources`], [`conversations`], the QR tool's form in [`qr`]).

pub mod conversations;
pub mod qr;
pub mod resources;

use std::{net::IpAddr, time::Duration};

use assistchat_proto::v1::{
    auth_service_client::AuthServiceClient, bot_service_client::BotServiceClient,
    conversation_service_client::ConversationServiceClient, profile_service_client::ProfileServiceClient,
    qr_service_client::QrServiceClient, resource_service_client::ResourceServiceClient,
};
use tonic::{metadata::MetadataValue, transport::Channel};
use tonic_health::pb::{HealthCheckRequest, health_check_response::ServingStatus, health_client::HealthClient};

/// The largest QR image taken from core: a 4096-pixel code with a photo for a logo comes to about
/// 7 MiB, over tonic's default limit of 4 MiB.
const MAX_QR_IMAGE_BYTES: usize = 32 * 1024 * 1024;

/// The largest archive of a person's data taken from core: every conversation with all its
/// messages, which for years of use passes tonic's default limit of 4 MiB.
const MAX_ARCHIVE_BYTES: usize = 256 * 1024 * 1024;

/// How long an ordinary call to core may take.
const CALL_TIMEOUT: Duration = Duration::from_secs(30);

/// How long a call that waits for the AI model's reply may take. Core gives up on the model
/// within about a minute and then answers with what to do, in words; waiting a little longer
/// lets that answer, rather than our own timeout, reach the person.
pub const CHAT_TIMEOUT: Duration = Duration::from_secs(90);

/// How long `/readyz` waits for core's health check: whoever probes wants an answer quickly,
/// and a core that takes longer is not one to send people to.
pub const READY_TIMEOUT: Duration = Duration::from_secs(2);

/// Clients of core's services, sharing one channel.
#[derive(Clone, Debug)]
pub struct Core {
    /// The channel; it reconnects by itself when core comes back.
    channel: Channel,
    /// The channel for calls that wait for the AI model, with the longer [`CHAT_TIMEOUT`].
    chat_channel: Channel,
}

impl Core {
    /// A channel to `url` that connects on first use, so the web edge starts (and shows a
    /// friendly page) while core is down.
    pub fn connect_lazy(url: &str) -> Result<Self, tonic::transport::Error> {
        let endpoint = tonic::transport::Endpoint::from_shared(url.to_owned())?.connect_timeout(Duration::from_secs(3));
        Ok(Self {
            channel: endpoint.clone().timeout(CALL_TIMEOUT).connect_lazy(),
            chat_channel: endpoint.timeout(CHAT_TIMEOUT).connect_lazy(),
        })
    }

    /// Whether core answers its health check (`grpc.health.v1`, the whole server) as serving
    /// within [`READY_TIMEOUT`]; why not, in words, when it does not.
    pub async fn ready(&self) -> Result<(), String> {
        let mut request = tonic::Request::new(HealthCheckRequest { service: String::new() });
        request.set_timeout(READY_TIMEOUT);
        let mut health = HealthClient::new(self.channel.clone());
        match tokio::time::timeout(READY_TIMEOUT, health.check(request)).await {
            Ok(Ok(answer)) => match answer.into_inner().status() {
                ServingStatus::Serving => Ok(()),
                other => Err(format!("core is {}", other.as_str_name())),
            },
            Ok(Err(status)) => Err(format!("core does not answer: {:?}: {}", status.code(), status.message())),
            Err(_) => Err(format!("core does not answer within {} ms", READY_TIMEOUT.as_millis())),
        }
    }

    /// The account service.
    pub fn auth(&self) -> AuthServiceClient<Channel> {
        AuthServiceClient::new(self.channel.clone())
    }

    /// The profile service.
    pub fn profile(&self) -> ProfileServiceClient<Channel> {
        ProfileServiceClient::new(self.channel.clone())
    }

    /// The profile service for a person's archive of all their data, which may be large.
    pub fn own_data(&self) -> ProfileServiceClient<Channel> {
        ProfileServiceClient::new(self.channel.clone()).max_decoding_message_size(MAX_ARCHIVE_BYTES)
    }

    /// The public QR code service.
    pub fn qr(&self) -> QrServiceClient<Channel> {
        QrServiceClient::new(self.channel.clone()).max_decoding_message_size(MAX_QR_IMAGE_BYTES)
    }

    /// The bot service: the switch and the live state of the resources.
    pub fn bot(&self) -> BotServiceClient<Channel> {
        BotServiceClient::new(self.channel.clone())
    }

    /// The bot service for the browser chat, whose calls wait for the model's reply.
    pub fn chat(&self) -> BotServiceClient<Channel> {
        BotServiceClient::new(self.chat_channel.clone())
    }

    /// The conversation service for calls that return at once.
    pub fn conversations(&self) -> ConversationServiceClient<Channel> {
        ConversationServiceClient::new(self.channel.clone())
    }

    /// The conversation service for calls that wait for the model: sending a message,
    /// regenerating a reply, listing the models a person's server offers.
    pub fn conversation_replies(&self) -> ConversationServiceClient<Channel> {
        ConversationServiceClient::new(self.chat_channel.clone())
    }

    /// The resource service.
    pub fn resources(&self) -> ResourceServiceClient<Channel> {
        ResourceServiceClient::new(self.channel.clone())
    }
}

/// What each gRPC call of one HTTP request carries.
#[derive(Clone, Default)]
pub struct CallMeta {
    /// The HTTP request's id, logged by core too.
    pub request_id: String,
    /// The browser's address, for core's login throttling.
    pub client_ip: Option<IpAddr>,
    /// The bearer token (session or API token), when the caller has one.
    pub token: Option<String>,
}

redacted_debug!(CallMeta { request_id, client_ip ; token });

impl CallMeta {
    /// `message` as a gRPC request with this call's metadata.
    pub fn request<T>(&self, message: T) -> tonic::Request<T> {
        let mut request = tonic::Request::new(message);
        let metadata = request.metadata_mut();
        if let Ok(value) = MetadataValue::try_from(self.request_id.as_str()) {
            metadata.insert("x-request-id", value);
        }
        if let Some(ip) = self.client_ip
            && let Ok(value) = MetadataValue::try_from(ip.to_string())
        {
            metadata.insert("x-forwarded-for", value);
        }
        if let Some(token) = &self.token
            && let Ok(value) = MetadataValue::try_from(format!("Bearer {token}"))
        {
            metadata.insert("authorization", value);
        }
        request
    }
}

#[cfg(test)]
mod tests {
    use super::CallMeta;

    #[test]
    fn the_callers_token_never_shows_in_debug_output() {
        let meta = CallMeta { request_id: "req-1".into(), client_ip: None, token: Some("sess_secret_value".into()) };
        let shown = format!("{meta:?}");
        assert!(!shown.contains("sess_secret_value"), "{shown}");
        assert!(shown.contains("req-1") && shown.contains("<redacted>"), "{shown}");
    }
}
