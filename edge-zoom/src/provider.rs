//! The `zoom` provider: each started resource is one Team Chat chatbot, checked by getting a
//! chatbot token, then served at its webhook path until core stops it.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex, PoisonError},
    time::Duration,
};

use assistchat_edge_client::{
    Provider, ProviderHello, ResourceErrorAction, ResourceInfoItem, ResourceInfoKind, ResourceStart, Session,
    check::{CheckWords, Checked},
    webhooks::Registration,
};
use tokio::task::JoinSet;

use crate::{
    chatbot::{CREDENTIALS_REJECTED, Chatbot, Taken},
    event::BotNotification,
    messages::Messages,
    reason::Reason,
    settings::{self, SECRET_FIELDS, Settings},
    token::{TokenError, Tokens},
    webhook::{self, Webhooks},
};

/// How long one call to Zoom may take.
const HTTP_TIMEOUT: Duration = Duration::from_secs(20);

/// How the check of the client id and secret is told on the resource's page.
const CHECK: CheckWords = CheckWords {
    starting: "Checking the client id and secret with Zoom.",
    service: "Zoom",
    rejected: (CREDENTIALS_REJECTED, Reason::CredentialsRejected.code()),
    unreachable: Reason::ZoomUnreachable.code(),
};

/// Serves users' Zoom Team Chat chatbots.
pub struct Zoom {
    /// One HTTP client for every chatbot, so that they share connections.
    http: reqwest::Client,
    /// Zoom's OAuth server, ending in "/".
    oauth_url: url::Url,
    /// Zoom's API, ending in "/".
    api_url: url::Url,
    /// The webhook paths.
    webhooks: Arc<Webhooks>,
    /// Each chatbot's messages already taken, by resource, kept across its runs.
    taken: Mutex<HashMap<String, Arc<Taken>>>,
}

impl Zoom {
    /// The provider, getting tokens from `oauth_url` (such as "https://zoom.us"), sending to
    /// `api_url` (such as "https://api.zoom.us") and receiving under `public_url` (such as
    /// "https://zoom.example.com"); and the router that must serve the webhooks there.
    pub fn new(oauth_url: &str, api_url: &str, public_url: &str) -> anyhow::Result<(Self, axum::Router)> {
        let oauth_url = base_url(oauth_url, "ASSISTCHAT_ZOOM_OAUTH_URL", "https://zoom.us")?;
        let api_url = base_url(api_url, "ASSISTCHAT_ZOOM_API_URL", "https://api.zoom.us")?;
        let public_url = base_url(public_url, "ASSISTCHAT_ZOOM_PUBLIC_URL", "https://zoom.example.com")?;
        if public_url.scheme() != "https" {
            tracing::warn!(%public_url, "Zoom posts to https URLs only: set ASSISTCHAT_ZOOM_PUBLIC_URL");
        }
        let http = reqwest::Client::builder().timeout(HTTP_TIMEOUT).build()?;
        let (webhooks, router) = webhook::webhooks(public_url);
        let provider = Self { http, oauth_url, api_url, webhooks, taken: Mutex::default() };
        Ok((provider, router))
    }

    fn taken(&self, resource_id: &str) -> Arc<Taken> {
        let mut by_resource = self.taken.lock().unwrap_or_else(PoisonError::into_inner);
        by_resource.entry(resource_id.to_owned()).or_default().clone()
    }
}

/// `url` as a base to join paths to, or an error naming the variable.
fn base_url(url: &str, variable: &str, example: &str) -> anyhow::Result<url::Url> {
    let parsed: url::Url = format!("{}/", url.trim().trim_end_matches('/'))
        .parse()
        .map_err(|err| anyhow::anyhow!("{variable} is not a URL ({err}); use such as {example}"))?;
    anyhow::ensure!(matches!(parsed.scheme(), "http" | "https"), "{variable} must be an http or https URL");
    Ok(parsed)
}

impl Provider for Zoom {
    fn hello(&self) -> ProviderHello {
        ProviderHello {
            name: "zoom".into(),
            display_name: "Zoom Team Chat".into(),
            description:
                "A Team Chat chatbot of yours, made in the Zoom App Marketplace, answering with the assistant.".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            settings_schema_json: settings::SCHEMA.into(),
            secret_fields: SECRET_FIELDS.map(String::from).to_vec(),
            identity_fields: vec!["bot_jid".into()],
        }
    }

    async fn run(&self, start: ResourceStart, session: Session) {
        let Ok(settings) = Settings::parse(&start.settings_json) else {
            let detail = "The settings are not what this edge understands. Edit and save the resource again.";
            return session.error(detail, Reason::SettingsUnreadable.code(), ResourceErrorAction::FixSettings);
        };
        let secret = |name: &str| start.secrets.get(name).filter(|value| !value.is_empty());
        let (Some(client_secret), Some(secret_token)) = (secret("client_secret"), secret("webhook_secret_token"))
        else {
            let detail = "The client secret or the secret token is not set. Copy them from your app's pages in the \
                          Zoom App Marketplace and save them here.";
            return session.error(detail, Reason::SecretMissing.code(), ResourceErrorAction::FixSettings);
        };
        let tokens = Arc::new(Tokens::new(self.http.clone(), &self.oauth_url, &settings.client_id, client_secret));
        let check = || async {
            match tokens.get().await {
                Ok(_) => Checked::Accepted(()),
                Err(TokenError::Rejected) => Checked::Rejected,
                Err(TokenError::Unavailable(why)) => Checked::Unreachable(why),
            }
        };
        if session.check_credentials(&CHECK, check).await.is_none() {
            return;
        }
        let registration = self.webhooks.register(&start.resource_id, secret_token);
        let detail = if registration.url.scheme() == "https" {
            "Receiving messages at the webhook URL."
        } else {
            "Running, but Zoom posts to https URLs only: the operator sets ASSISTCHAT_ZOOM_PUBLIC_URL."
        };
        let info = vec![ResourceInfoItem {
            key: "webhook_url".into(),
            label: "Bot endpoint URL and event notification endpoint URL".into(),
            value: registration.url.to_string(),
            kind: ResourceInfoKind::Copyable.into(),
        }];
        session.ready(detail, info);
        let messages = Messages::new(self.http.clone(), &self.api_url, &settings.bot_jid, tokens);
        let taken = self.taken(&start.resource_id);
        let chatbot = Chatbot::new(session.clone(), settings, messages, taken, &start.owner_language_code);
        serve(Arc::new(chatbot), registration, &session).await;
    }
}

/// Answers the chatbot's messages, each in its own task, until core stops the resource; then
/// its path goes and the answers under way are dropped, so nothing more is sent.
async fn serve(chatbot: Arc<Chatbot>, mut registration: Registration<BotNotification>, session: &Session) {
    let mut answering = JoinSet::new();
    loop {
        tokio::select! {
            event = registration.queue.recv() => {
                let Some(event) = event else { return };
                let chatbot = chatbot.clone();
                answering.spawn(async move { chatbot.answer(event).await });
            }
            Some(_) = answering.join_next(), if !answering.is_empty() => {}
            () = session.cancelled() => {
                drop(registration);
                answering.abort_all();
                return;
            }
        }
    }
}
