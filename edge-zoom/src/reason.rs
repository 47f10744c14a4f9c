//! Why a Zoom chatbot is not running, as codes its page knows: each has words in the web edge's
//! catalogue (`zoom.reason.<CODE>`), and the web edge's Zoom page lists them all, which a test of
//! the platform checks, so a code cannot fall back to the edge's English.

/// A reason this edge gives for a chatbot's state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reason {
    /// The settings are not what this edge understands.
    SettingsUnreadable,
    /// The client secret or the secret token is not set.
    SecretMissing,
    /// Zoom rejected the client id or secret.
    CredentialsRejected,
    /// Zoom cannot be reached.
    ZoomUnreachable,
    /// Zoom refused to deliver a reply.
    SendRefused,
}

impl Reason {
    /// Every reason.
    pub const ALL: [Self; 5] = [
        Self::SettingsUnreadable,
        Self::SecretMissing,
        Self::CredentialsRejected,
        Self::ZoomUnreachable,
        Self::SendRefused,
    ];

    /// The code sent in reports.
    pub const fn code(self) -> &'static str {
        match self {
            Self::SettingsUnreadable => "SETTINGS_UNREADABLE",
            Self::SecretMissing => "SECRET_MISSING",
            Self::CredentialsRejected => "CREDENTIALS_REJECTED",
            Self::ZoomUnreachable => "ZOOM_UNREACHABLE",
            Self::SendRefused => "SEND_REFUSED",
        }
    }
}
