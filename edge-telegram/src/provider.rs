//! The `telegram` provider: each started resource is one bot, checked with getMe and then served
//! by long polling until core stops it.

use std::time::Duration;

use assistchat_edge_client::{
    Provider, ProviderHello, ResourceErrorAction, ResourceStart, Session,
    check::{CheckWords, Checked},
    webhooks::fresh_secret,
};
use assistchat_proto::v1::{ResourceInfoItem, ResourceInfoKind};
use teloxide::{ApiError, Bot, RequestError, prelude::Requester};

use crate::{
    chatbot::{Chatbot, Delivered},
    polling,
    reason::Reason,
    settings,
    webhook::{self, Webhooks},
};

/// How the token's check is told on the resource's page.
const CHECK: CheckWords = CheckWords {
    starting: "Checking the token with Telegram.",
    service: "Telegram",
    rejected: (
        "Telegram rejected the token. Copy it again from @BotFather (/mybots → API Token), or make a new one with \
         /revoke, and save it here.",
        Reason::TokenRejected.code(),
    ),
    unreachable: Reason::TelegramUnreachable.code(),
};

/// How long one getUpdates call waits for updates on Telegram's side.
pub const POLL_SECONDS: u32 = 25;

/// Serves users' Telegram bots.
pub struct Telegram {
    /// Telegram's Bot API, or a self-hosted Bot API server.
    api_url: url::Url,
    /// One HTTP client for every bot, so a thousand bots share connections and memory.
    http: reqwest::Client,
    /// The webhook paths, when Telegram can reach this edge; `None` means long polling.
    webhooks: Option<std::sync::Arc<Webhooks>>,
    /// Each bot's updates answered but not yet confirmed, by bot id, kept across its runs.
    delivered: std::sync::Mutex<std::collections::HashMap<u64, Delivered>>,
}

impl Telegram {
    /// The provider, calling the Bot API at `api_url` (such as "https://api.telegram.org").
    pub fn new(api_url: &str) -> anyhow::Result<Self> {
        let api_url: url::Url = api_url.trim_end_matches('/').parse().map_err(|err| {
            anyhow::anyhow!("ASSISTCHAT_TELEGRAM_API_URL is not a URL ({err}); use https://api.telegram.org")
        })?;
        // Long polls hold a request open for POLL_SECONDS: the client waits a little longer.
        let http = teloxide::net::default_reqwest_settings()
            .timeout(Duration::from_secs(u64::from(POLL_SECONDS) + 10))
            .build()?;
        Ok(Self { api_url, http, webhooks: None, delivered: Default::default() })
    }

    /// The provider receiving updates by webhook under `public_url` (such as
    /// "https://bots.example.com"), and the router that must serve them there.
    pub fn with_webhooks(api_url: &str, public_url: &str) -> anyhow::Result<(Self, axum::Router)> {
        let public_url: url::Url = public_url.parse().map_err(|err| {
            anyhow::anyhow!("ASSISTCHAT_TELEGRAM_PUBLIC_URL is not a URL ({err}); use https://your.host")
        })?;
        anyhow::ensure!(
            public_url.scheme() == "https",
            "ASSISTCHAT_TELEGRAM_PUBLIC_URL must be https: Telegram calls webhooks over HTTPS only"
        );
        let (webhooks, router) = webhook::webhooks(public_url);
        let provider = Self { webhooks: Some(webhooks), ..Self::new(api_url)? };
        Ok((provider, router))
    }

    fn bot(&self, token: &str) -> Bot {
        Bot::with_client(token, self.http.clone()).set_api_url(self.api_url.clone())
    }
}

impl Provider for Telegram {
    fn hello(&self) -> ProviderHello {
        ProviderHello {
            name: "telegram".into(),
            display_name: "Telegram".into(),
            description: "A Telegram bot of yours, made with @BotFather, answering with the assistant.".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            settings_schema_json: settings::SCHEMA.into(),
            secret_fields: vec!["bot_token".into()],
            identity_fields: vec!["bot_token".into()],
        }
    }

    async fn run(&self, start: ResourceStart, session: Session) {
        let Ok(settings) = settings::Settings::parse(&start.settings_json) else {
            let detail = "The settings are not what this edge understands. Edit and save the resource again.";
            return session.error(detail, Reason::SettingsUnreadable.code(), ResourceErrorAction::FixSettings);
        };
        let Some(token) = start.secrets.get("bot_token").filter(|token| !token.is_empty()) else {
            let detail = "No bot token is set. Paste the token @BotFather gave you.";
            return session.error(detail, Reason::TokenMissing.code(), ResourceErrorAction::FixSettings);
        };
        let bot = self.bot(token);
        let check = || async {
            match bot.get_me().await {
                Ok(me) => Checked::Accepted(me),
                Err(RequestError::Api(ApiError::InvalidToken)) => Checked::Rejected,
                Err(err) => Checked::Unreachable(err.to_string()),
            }
        };
        let Some(me) = session.check_credentials(&CHECK, check).await else { return };
        let username = me.username.clone().unwrap_or_default();
        let info = vec![
            ResourceInfoItem {
                key: "username".into(),
                label: "Bot".into(),
                value: format!("@{username}"),
                kind: ResourceInfoKind::Text.into(),
            },
            ResourceInfoItem {
                key: "link".into(),
                label: "Open in Telegram".into(),
                value: format!("https://t.me/{username}"),
                kind: ResourceInfoKind::Link.into(),
            },
        ];
        let delivered = {
            let mut by_bot = self.delivered.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            by_bot.entry(me.user.id.0).or_default().clone()
        };
        let chatbot = Chatbot::new(bot, me.user.id, &username, settings, &session, delivered);
        match &self.webhooks {
            None => polling::serve(&chatbot, info).await,
            Some(webhooks) => {
                let secret = fresh_secret();
                webhook::serve(&chatbot, webhooks.register(&start.resource_id, &secret), secret, info).await;
            }
        }
    }
}
