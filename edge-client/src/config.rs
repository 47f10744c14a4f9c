//! The settings every provider edge takes, with the same names everywhere.

use clap::Args;

/// Where core is and how to prove being an edge.
#[derive(Clone, Args)]
#[group(id = "edge")]
pub struct EdgeConfig {
    /// Core's gRPC address.
    #[arg(long, env = "ASSISTCHAT_CORE_URL", default_value = "http://127.0.0.1:50051")]
    pub core_url: String,

    /// The edge credential, the same as core's ASSISTCHAT_EDGE_TOKEN.
    #[arg(long, env = "ASSISTCHAT_EDGE_TOKEN", hide_env_values = true)]
    pub edge_token: String,

    /// This instance's id among the provider's instances; unset means one made at start.
    #[arg(long, env = "ASSISTCHAT_EDGE_INSTANCE_ID")]
    pub instance_id: Option<String>,
}

// The credential must never reach a log line.
impl std::fmt::Debug for EdgeConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EdgeConfig")
            .field("core_url", &self.core_url)
            .field("edge_token", &"<redacted>")
            .field("instance_id", &self.instance_id)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::EdgeConfig;

    #[test]
    fn the_edge_credential_never_shows_in_debug_output() {
        let config = EdgeConfig {
            core_url: "http://127.0.0.1:50051".into(),
            edge_token: "edge-credential-that-must-stay-secret".into(),
            instance_id: Some("edge-1".into()),
        };
        let shown = format!("{config:?}");
        assert!(!shown.contains("edge-credential-that-must-stay-secret"), "{shown}");
        assert!(shown.contains("<redacted>") && shown.contains("edge-1"), "{shown}");
    }
}
