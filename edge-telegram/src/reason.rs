//! Why a Telegram bot is not running, as codes its page knows: each has words in the web
//! edge's catalogue (`telegram.reason.<CODE>`), and the web edge's Telegram page lists them all,
//! which a test of the platform checks, so a code cannot fall back to the edge's English.

/// A reason this edge gives for a bot's state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reason {
    /// The settings are not what this edge understands.
    SettingsUnreadable,
    /// No bot token is set.
    TokenMissing,
    /// Telegram rejected the token.
    TokenRejected,
    /// Another program takes the bot's updates.
    TelegramConflict,
    /// Telegram cannot be reached.
    TelegramUnreachable,
    /// Telegram refused the webhook's address.
    WebhookRefused,
    /// Telegram cannot deliver to the webhook.
    WebhookFailing,
}

impl Reason {
    /// Every reason.
    pub const ALL: [Self; 7] = [
        Self::SettingsUnreadable,
        Self::TokenMissing,
        Self::TokenRejected,
        Self::TelegramConflict,
        Self::TelegramUnreachable,
        Self::WebhookRefused,
        Self::WebhookFailing,
    ];

    /// The code sent in reports.
    pub const fn code(self) -> &'static str {
        match self {
            Self::SettingsUnreadable => "SETTINGS_UNREADABLE",
            Self::TokenMissing => "TOKEN_MISSING",
            Self::TokenRejected => "TOKEN_REJECTED",
            Self::TelegramConflict => "TELEGRAM_CONFLICT",
            Self::TelegramUnreachable => "TELEGRAM_UNREACHABLE",
            Self::WebhookRefused => "WEBHOOK_REFUSED",
            Self::WebhookFailing => "WEBHOOK_FAILING",
        }
    }
}
