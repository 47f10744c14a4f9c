//! The test provider: a channel that exists only in tests, with a token that is secret and names
//! the account, a prompt, a list of allowed users, and a setting that asks for an error on start;
//! and the core its test edges attach to, which accepts their credential and notices a silent
//! one quickly.

use std::time::Duration;

use assistchat_proto::v1::EdgeHello;

/// The edge credential tests configure core with.
pub const EDGE_TOKEN: &str = "test-edge-credential-0123456789abcdef";

/// Its settings' JSON Schema.
pub const SCHEMA: &str = r#"{
  "type": "object",
  "properties": {
    "api_token": {"type": "string", "minLength": 16, "title": "API token"},
    "system_prompt": {"type": "string", "maxLength": 2000},
    "model": {"type": "string", "maxLength": 100},
    "allowed_users": {"type": "array", "items": {"type": "string"}},
    "fail_with": {"type": "string", "description": "tests: report this error on start"}
  },
  "required": ["api_token"],
  "additionalProperties": false
}"#;

/// The hello of the test provider named `provider`, instance `instance_id`.
pub fn hello(provider: &str, instance_id: &str) -> EdgeHello {
    EdgeHello {
        provider: provider.into(),
        instance_id: instance_id.into(),
        version: "0.0.1".into(),
        display_name: "Test channel".into(),
        description: "A channel that exists only in tests.".into(),
        settings_schema_json: SCHEMA.into(),
        secret_fields: vec!["api_token".into()],
        identity_fields: vec!["api_token".into()],
    }
}

/// How often a core started for the test edges wants their heartbeats: often, so that a silent
/// edge is noticed within a second.
pub const HEARTBEAT: Duration = Duration::from_millis(200);

/// Has `config` accept the test edges' credential ([`EDGE_TOKEN`]) and want their heartbeats
/// every [`HEARTBEAT`].
pub fn accept_test_edges(config: &mut assistchat_core::Config) {
    config.edge_token = Some(EDGE_TOKEN.into());
    config.edge_heartbeat = HEARTBEAT;
}

/// Waits until a core just started with [`accept_test_edges`] is past its start-up grace for edges
/// to come back (three heartbeats), so that what a test sees of edges going away is its own doing.
pub async fn past_start_up_grace() {
    tokio::time::sleep(HEARTBEAT * 4).await;
}
