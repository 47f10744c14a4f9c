//! The AI client against a fake OpenAI API on loopback: the right key, base URL and model reach
//! the server, what may pass is retried within the deadline, and what cannot is told apart.

use std::time::Duration;

use assistchat_core::{
    ai::{AiClient, AiError, Piece, Reply, Role, Target, Turn},
    outbound::Policy,
};
use assistchat_fakes::{Behaviour, FakeOpenAi};

fn target(fake: &FakeOpenAi, key: &str) -> Target {
    Target { api_key: key.into(), base_url: fake.base_url(), model: "gpt-test".into() }
}

fn turns() -> Vec<Turn> {
    vec![
        Turn { role: Role::System, text: "Be brief.".into() },
        Turn { role: Role::User, text: "Hello there".into() },
        Turn { role: Role::Assistant, text: "Hi!".into() },
        Turn { role: Role::User, text: "What is two and two".into() },
    ]
}

/// A client with short waits, so that retries and deadlines take a second or two.
fn quick() -> AiClient {
    local(AiClient::new(Duration::from_secs(3), Duration::from_millis(700)))
}

/// `client` allowed to reach the fakes on 127.0.0.1, as an operator allows a local server.
fn local(client: AiClient) -> AiClient {
    client.with_outbound(Policy::new(&["127.0.0.1".into()], None).unwrap(), "https://api.openai.com/v1")
}

#[tokio::test]
async fn a_reply_comes_from_the_target_with_the_whole_conversation() {
    let fake = FakeOpenAi::start().await;
    fake.set_reply("Four.");
    let reply = quick().reply(&target(&fake, "sk-user-key-1111"), &turns()).await.unwrap();
    assert_eq!(reply.text, "Four.");
    assert!(!reply.estimated);
    assert!(reply.prompt_tokens > 0 && reply.completion_tokens > 0);
    let requests = fake.requests();
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].api_key(), Some("sk-user-key-1111"));
    assert_eq!(requests[0].model(), Some("gpt-test"));
    let roles: Vec<&str> = requests[0].messages().iter().map(|m| m["role"].as_str().unwrap()).collect();
    assert_eq!(roles, ["system", "user", "assistant", "user"]);
    assert_eq!(requests[0].messages()[3]["content"], "What is two and two");
}

#[tokio::test]
async fn usage_is_estimated_when_the_server_omits_it() {
    let fake = FakeOpenAi::start().await;
    fake.push(Behaviour::NoUsage);
    let reply = quick().reply(&target(&fake, "sk-k"), &turns()).await.unwrap();
    assert!(reply.estimated);
    assert!(reply.prompt_tokens > 0 && reply.completion_tokens > 0, "{reply:?}");
}

#[tokio::test]
async fn a_rejected_key_and_a_spent_quota_are_final() {
    let fake = FakeOpenAi::start().await;
    fake.reject_key("sk-revoked-9999");
    let err = quick().reply(&target(&fake, "sk-revoked-9999"), &turns()).await.unwrap_err();
    assert!(matches!(err, AiError::KeyRejected(_)), "{err:?}");
    assert!(!err.to_string().contains("sk-revoked-9999"), "the full key is not repeated: {err}");
    fake.push(Behaviour::NoQuota);
    let err = quick().reply(&target(&fake, "sk-good"), &turns()).await.unwrap_err();
    assert!(matches!(err, AiError::QuotaSpent(_)), "{err:?}");
    assert_eq!(fake.chat_calls(), 2, "neither is retried");
}

#[tokio::test]
async fn rate_limits_and_server_errors_are_retried_until_an_answer() {
    let fake = FakeOpenAi::start().await;
    fake.push(Behaviour::RateLimit { retry_after: Duration::from_secs(1) });
    fake.push(Behaviour::ServerError);
    fake.push(Behaviour::Reply("At last.".into()));
    let reply = quick().reply(&target(&fake, "sk-k"), &turns()).await.unwrap();
    assert_eq!(reply.text, "At last.");
    assert_eq!(fake.chat_calls(), 3, "one call per attempt: no second retry policy underneath");
}

#[tokio::test]
async fn each_attempt_is_one_call_with_no_retry_policy_underneath() {
    let fake = FakeOpenAi::start().await;
    fake.push(Behaviour::RateLimit { retry_after: Duration::ZERO });
    fake.push(Behaviour::Reply("Too late.".into()));
    // A deadline shorter than the first backoff: exactly one attempt.
    let once = local(AiClient::new(Duration::from_millis(200), Duration::from_millis(200)));
    let err = once.reply(&target(&fake, "sk-k"), &turns()).await.unwrap_err();
    assert!(matches!(err, AiError::Unavailable(_)), "{err:?}");
    assert_eq!(fake.chat_calls(), 1);
}

#[tokio::test]
async fn a_slow_or_failing_server_gives_up_at_the_deadline() {
    let fake = FakeOpenAi::start().await;
    fake.set_delay(Duration::from_secs(5));
    let err = quick().reply(&target(&fake, "sk-k"), &turns()).await.unwrap_err();
    assert!(matches!(err, AiError::Unavailable(_)), "{err:?}");
    assert!(fake.chat_calls() >= 2, "a hung attempt is cut off and tried again");

    let down = FakeOpenAi::start().await;
    let target = target(&down, "sk-k");
    drop(down);
    let err = quick().reply(&target, &turns()).await.unwrap_err();
    assert!(matches!(err, AiError::Unavailable(_)), "{err:?}");
}

#[tokio::test]
async fn keys_are_checked_on_the_models_endpoint() {
    let fake = FakeOpenAi::start().await;
    fake.reject_key("sk-bad");
    quick().check_key(&target(&fake, "sk-fine")).await.unwrap();
    let err = quick().check_key(&target(&fake, "sk-bad")).await.unwrap_err();
    assert!(matches!(err, AiError::KeyRejected(_)), "{err:?}");
    assert!(fake.all_requests().iter().all(|request| request.path.ends_with("/models")));
}

/// Every piece of a streamed reply, up to the end or the first error.
async fn collect(
    mut stream: tokio_stream::wrappers::ReceiverStream<Result<Piece, AiError>>,
) -> (Vec<String>, Result<Reply, AiError>) {
    use tokio_stream::StreamExt;
    let mut deltas = Vec::new();
    while let Some(piece) = stream.next().await {
        match piece {
            Ok(Piece::Delta(delta)) => deltas.push(delta),
            Ok(Piece::Done(reply)) => return (deltas, Ok(reply)),
            Err(err) => return (deltas, Err(err)),
        }
    }
    panic!("the stream ended with neither a reply nor an error");
}

#[tokio::test]
async fn a_streamed_reply_comes_in_pieces_that_make_the_whole() {
    let fake = FakeOpenAi::start().await;
    fake.set_reply("Two and two make four, as ever.");
    let stream = quick().reply_stream(&target(&fake, "sk-k"), &turns()).await.unwrap();
    let (deltas, reply) = collect(stream).await;
    let reply = reply.unwrap();
    assert!(deltas.len() > 1, "in several pieces: {deltas:?}");
    assert_eq!(deltas.concat(), "Two and two make four, as ever.");
    assert_eq!(reply.text, deltas.concat());
    assert!(!reply.estimated && reply.completion_tokens > 0, "usage from the last chunk: {reply:?}");
    let request = &fake.requests()[0];
    assert!(request.stream());
    assert_eq!(request.body["stream_options"]["include_usage"], true);
}

#[tokio::test]
async fn a_stream_is_opened_with_retries_and_a_stalled_one_ends_in_an_error() {
    let fake = FakeOpenAi::start().await;
    fake.push(Behaviour::ServerError);
    fake.push(Behaviour::Stall { after: 2 });
    let stream = quick().reply_stream(&target(&fake, "sk-k"), &turns()).await.unwrap();
    let (deltas, reply) = collect(stream).await;
    assert_eq!(deltas.len(), 2, "the pieces before the stall arrive");
    assert!(matches!(reply, Err(AiError::Unavailable(_))), "{reply:?}");
    assert_eq!(fake.chat_calls(), 2);

    fake.reject_key("sk-bad");
    let err = quick().reply_stream(&target(&fake, "sk-bad"), &turns()).await.unwrap_err();
    assert!(matches!(err, AiError::KeyRejected(_)), "{err:?}");
}

#[tokio::test]
async fn targets_follow_the_users_mode_and_say_what_to_do_without_a_key() {
    use std::sync::Arc;

    use assistchat_core::{
        ai::PlatformAi,
        crypto::Keyring,
        error::Error,
        profile::{AiMode, ProfileChanges, Profiles},
        store::{Store, users::NewUser},
    };
    let dir = tempfile::TempDir::new().unwrap();
    let store = Store::open(&format!("sqlite://{}?mode=rwc", dir.path().join("t.db").display())).await.unwrap();
    let user = NewUser {
        id: "u1",
        email: "u1@example.com",
        password_hash: "x",
        display_name: "U",
        language_code: "en",
        ai_mode: "managed",
        create_time: 0,
    };
    store.create_user(&user, None).await.unwrap();
    let key = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, [7u8; 32]);
    let keyring = Arc::new(Keyring::from_keys(&key, &[]).unwrap());
    let fake = FakeOpenAi::start().await;
    let platform =
        PlatformAi { api_key: Some("sk-platform-0000".into()), base_url: fake.base_url(), model: "gpt-4o-mini".into() };
    let profiles = Profiles::new(store.clone(), keyring.clone(), platform.clone());
    let managed = profiles.ai_route("u1").await.unwrap();
    assert_eq!(managed.mode, AiMode::Managed);
    assert_eq!((managed.target.api_key.as_str(), managed.target.model.as_str()), ("sk-platform-0000", "gpt-4o-mini"));
    // The operator allows users' servers on this machine (by the name they use here).
    let local = Policy::new(&["localhost".into()], None).unwrap();
    let keyless = Profiles::new(store.clone(), keyring, PlatformAi { api_key: None, ..platform }).with_outbound(local);
    let err = keyless.ai_route("u1").await.unwrap_err();
    assert!(
        matches!(&err, Error::FailedPrecondition(message) if message.contains("own OpenAI key in Profile")),
        "{err:?}"
    );

    let byok = ProfileChanges { ai_mode: Some(AiMode::Byok), ..Default::default() };
    keyless.update("u1", &byok).await.unwrap();
    let err = keyless.ai_route("u1").await.unwrap_err();
    assert!(matches!(&err, Error::FailedPrecondition(message) if message.contains("add your OpenAI key")), "{err:?}");
    let russian = ProfileChanges { language_code: Some("ru".into()), ..Default::default() };
    keyless.update("u1", &russian).await.unwrap();
    let err = keyless.ai_route("u1").await.unwrap_err();
    assert!(matches!(&err, Error::FailedPrecondition(message) if message.contains("добавьте ключ")), "{err:?}");
    keyless.set_openai_key("u1", "sk-own-key-1234").await.unwrap();
    let own = keyless.ai_route("u1").await.unwrap();
    assert_eq!(own.mode, AiMode::Byok);
    assert_eq!(
        (own.target.api_key.as_str(), own.target.base_url.as_str()),
        ("sk-own-key-1234", fake.base_url().as_str())
    );
    let local = ProfileChanges {
        openai_base_url: Some("http://localhost:11434/v1".into()),
        openai_model: Some("llama3.1".into()),
        ..Default::default()
    };
    keyless.update("u1", &local).await.unwrap();
    let own = keyless.ai_route("u1").await.unwrap();
    assert_eq!((own.target.base_url.as_str(), own.target.model.as_str()), ("http://localhost:11434/v1", "llama3.1"));
}
