//! A person's own data: the archive holds all of it and no secret, nor anyone else's; deleting
//! the account needs its password and a browser session, stops its channels, and leaves no row
//! of it in any table of the schema, read generically so that no table can be forgotten.

use assistchat_core::{
    crypto::tokens,
    store::{
        Backend as StoreBackend, Store,
        identities::{IdentityRecord, PendingLinkRecord, SignInFlowRecord},
        now_millis,
    },
};
use assistchat_fakes::FakeOpenAi;
use assistchat_proto::v1::{
    CreateApiTokenRequest, DeleteAccountRequest, ExportMyDataRequest, GetProfileRequest, ListConversationsRequest,
    RegisterRequest, SendChatMessageRequest, SetOpenAiKeyRequest,
    conversation_service_client::ConversationServiceClient, edge_service_client::EdgeServiceClient,
};
use serde_json::Value;
use sqlx::Row;
use tonic::Code;

use crate::{
    both_backends,
    conversations::{app_with, converse},
    credentials::{Passwordless, database},
    helpers::{Backend, TestApp, authed, eventually, violated_field},
    resources::{Running, TOKEN_A, create, new_resource, running},
    test_edge::EDGE_TOKEN,
};

both_backends!(
    the_archive_holds_every_conversation_and_no_secret_nor_anyone_elses_data,
    deleting_an_account_needs_its_password_and_a_session_then_leaves_no_row_of_it,
    an_account_without_a_password_is_deleted_only_from_a_fresh_session,
);

const PASSWORD: &str = "a long enough passphrase";
const OWN_KEY: &str = "sk-ann-own-secret-key-7x9q";

async fn say(app: &TestApp, token: &str, text: &str) {
    let request = SendChatMessageRequest { text: text.into(), client_message_id: String::new() };
    app.bot().send_chat_message(authed(request, token)).await.expect("the browser chat answers");
}

/// The id and email of the account signed in with `token`.
async fn whoami(app: &TestApp, token: &str) -> (String, String) {
    let profile = app.profile().get_profile(authed(GetProfileRequest {}, token)).await.unwrap();
    let profile = profile.into_inner().profile.unwrap();
    (profile.user_id, profile.email)
}

async fn api_token(app: &TestApp, session: &str, name: &str) -> String {
    let request = authed(CreateApiTokenRequest { name: name.into(), ttl: None }, session);
    app.auth().create_api_token(request).await.unwrap().into_inner().token
}

async fn export(app: &TestApp, token: &str) -> (String, Value) {
    let archive = app.profile().export_my_data(authed(ExportMyDataRequest {}, token)).await.unwrap().into_inner();
    assert!(archive.file_name.starts_with("assistchat-data-") && archive.file_name.ends_with(".json"));
    assert_eq!(archive.content_type, "application/json");
    let text = String::from_utf8(archive.content).expect("UTF-8");
    let json = serde_json::from_str(&text).expect("JSON");
    (text, json)
}

async fn delete(app: &TestApp, token: &str, password: &str) -> Result<(), tonic::Status> {
    let request = authed(DeleteAccountRequest { password: password.into() }, token);
    app.profile().delete_account(request).await.map(drop)
}

/// Ann, with a bit of everything: her bot on and a channel of hers running, her own key, a
/// conversation in the browser and one in the channel (so AI usage too), and an API token.
struct Ann {
    running: Running,
    id: String,
    email: String,
    script: String,
}

impl Ann {
    async fn with_everything(app: &TestApp) -> Self {
        let running = running(app).await;
        let token = running.session.token.as_str();
        let (id, email) = whoami(app, token).await;
        app.profile().set_open_ai_key(authed(SetOpenAiKeyRequest { api_key: OWN_KEY.into() }, token)).await.unwrap();
        say(app, token, "hello from the browser").await;
        let channel_message = converse(&running.resource.id, "chat-1", "u1", "hello from the channel");
        EdgeServiceClient::new(app.channel.clone()).converse(authed(channel_message, EDGE_TOKEN)).await.unwrap();
        let script = api_token(app, token, "backup").await;
        Self { running, id, email, script }
    }
}

async fn the_archive_holds_every_conversation_and_no_secret_nor_anyone_elses_data(backend: Backend) {
    let fake = FakeOpenAi::start().await;
    let Some(app) = app_with(backend, &fake, |_| {}).await else { return };
    let Ann { running: ann, id: ann_id, email: ann_email, script } = Ann::with_everything(&app).await;
    let token = ann.session.token.as_str();
    let (_, bob) = app.register("bob").await;
    say(&app, &bob.token, "bob's own plans").await;

    let (text, archive) = export(&app, token).await;
    assert_eq!(archive["profile"]["user_id"], ann_id.as_str());
    assert_eq!(archive["profile"]["email"], ann_email.as_str());
    assert_eq!(archive["profile"]["openai_key_state"], "set");
    assert_eq!(archive["profile"]["bot_enabled"], true);
    let conversations = archive["conversations"].as_array().unwrap();
    assert_eq!(conversations.len(), 2, "the browser's and the channel's: {conversations:#?}");
    let said: Vec<&str> = conversations
        .iter()
        .flat_map(|conversation| conversation["messages"].as_array().unwrap())
        .map(|message| message["text"].as_str().unwrap())
        .collect();
    for text in ["hello from the browser", "You said: hello from the browser", "hello from the channel"] {
        assert!(said.contains(&text), "{text:?} in {said:?}");
    }
    let channels = archive["channels"].as_array().unwrap();
    assert_eq!(channels.len(), 1);
    assert_eq!(channels[0]["name"], "Shop");
    assert_eq!(channels[0]["secret_settings"], serde_json::json!(["api_token"]), "secrets by name only");
    assert_eq!(archive["api_tokens"][0]["name"], "backup");
    let usage = archive["usage"].as_array().unwrap();
    assert!(usage.iter().any(|day| day["request_count"].as_i64() >= Some(2)), "{usage:?}");
    // No secret, not even masked, and nothing of Bob's.
    for secret in [TOKEN_A, "...1111", OWN_KEY, "7x9q", script.as_str(), token] {
        assert!(!text.contains(secret), "the archive holds a secret: {secret}");
    }
    assert!(!text.contains("bob's own plans"), "another person's data");
    // The archive is Bob's to take too, and holds only his.
    let (bobs, _) = export(&app, &bob.token).await;
    assert!(bobs.contains("bob's own plans") && !bobs.contains("hello from the browser"));
    // Reading is what scripts do: an API token may export.
    export(&app, &script).await;
}

/// Every table of the schema with a column naming an account (`user_id`, `owner`, `*_user_id`),
/// by table, with those columns: read from the database itself, so that a table added later is
/// read too.
async fn owner_columns(store: &Store) -> Vec<(String, Vec<String>)> {
    let sql = match store.backend() {
        StoreBackend::Sqlite => {
            "SELECT m.name AS table_name, c.name AS column_name FROM sqlite_master m, pragma_table_info(m.name) c \
             WHERE m.type = 'table' ORDER BY m.name, c.cid"
        }
        StoreBackend::Postgres => {
            "SELECT table_name::text AS table_name, column_name::text AS column_name FROM information_schema.columns \
             WHERE table_schema = current_schema() ORDER BY table_name, ordinal_position"
        }
    };
    let mut tables: Vec<(String, Vec<String>)> = Vec::new();
    for row in sqlx::query(sql).fetch_all(store.pool()).await.unwrap() {
        let (table, column): (String, String) = (row.get("table_name"), row.get("column_name"));
        if !(column == "user_id" || column == "owner" || column.ends_with("_user_id")) {
            continue;
        }
        match tables.last_mut() {
            Some((last, columns)) if *last == table => columns.push(column),
            _ => tables.push((table, vec![column])),
        }
    }
    tables
}

/// The tables holding a row of `user_id`, each with how many: in every column naming an
/// account, `users` by its id, and on SQLite every full-text index by its owner's word.
async fn rows_of(store: &Store, user_id: &str) -> Vec<(String, i64)> {
    let mut found = Vec::new();
    let count = |sql: String| async move {
        let row =
            sqlx::query(&sql).bind(user_id).fetch_one(store.pool()).await.unwrap_or_else(|e| panic!("{sql}: {e}"));
        row.get::<i64, _>(0)
    };
    let mut tables = owner_columns(store).await;
    tables.push(("users".into(), vec!["id".into()]));
    for (table, columns) in tables {
        let condition = columns.iter().map(|column| format!("{column} = $1")).collect::<Vec<_>>().join(" OR ");
        let rows = count(format!("SELECT COUNT(*) FROM {table} WHERE {condition}")).await;
        if rows > 0 {
            found.push((table, rows));
        }
    }
    if store.backend() == StoreBackend::Sqlite {
        // An external-content index reads its columns from its table; what it indexed is found by
        // matching: a row deleted without the index hearing of it would still match.
        let indexes: Vec<String> =
            sqlx::query_scalar("SELECT name FROM sqlite_master WHERE type = 'table' AND sql LIKE '%USING fts5%'")
                .fetch_all(store.pool())
                .await
                .unwrap();
        for index in indexes {
            let matched =
                count(format!("SELECT COUNT(*) FROM {index} WHERE {index} MATCH 'user_id : \"' || $1 || '\"'"));
            let matched = matched.await;
            if matched > 0 {
                found.push((format!("{index} (index)"), matched));
            }
        }
    }
    found
}

/// Gives the account a row in the tables no RPC of this test fills: an identity with its
/// pending link, a sign-in being linked, and an operator's sign-in link.
async fn sign_in_rows(store: &Store, user_id: &str, email: &str) {
    let later = now_millis() + 600_000;
    let identity = IdentityRecord {
        id: format!("identity-{user_id}"),
        user_id: user_id.into(),
        provider_id: "google".into(),
        issuer: "https://accounts.example.com".into(),
        subject: format!("subject-{user_id}"),
        email: email.into(),
        create_time: now_millis(),
    };
    store.insert_identity(&identity).await.unwrap();
    let flow = SignInFlowRecord {
        provider_id: "google".into(),
        pkce_verifier: "verifier".into(),
        nonce: "nonce".into(),
        user_id: Some(user_id.into()),
        expire_time: later,
    };
    store.insert_sign_in_flow(&tokens::hash(&format!("state-{user_id}")), &flow).await.unwrap();
    let pending = PendingLinkRecord {
        user_id: user_id.into(),
        provider_id: "google".into(),
        issuer: "https://accounts.example.com".into(),
        subject: format!("other-{user_id}"),
        email: email.into(),
        expire_time: later,
    };
    store.insert_pending_link(&tokens::hash(&format!("pending-{user_id}")), &pending).await.unwrap();
    store.insert_sign_in_link(&tokens::hash(&format!("link-{user_id}")), user_id, later).await.unwrap();
}

async fn deleting_an_account_needs_its_password_and_a_session_then_leaves_no_row_of_it(backend: Backend) {
    let fake = FakeOpenAi::start().await;
    let Some(app) = app_with(backend, &fake, |_| {}).await else { return };
    let Ann { running: ann, id: ann_id, email: ann_email, script } = Ann::with_everything(&app).await;
    let token = ann.session.token.as_str();
    let store = database(&app).await;
    sign_in_rows(&store, &ann_id, &ann_email).await;
    let (bob_user, bob) = app.register("bob").await;
    say(&app, &bob.token, "bob stays").await;
    let before: Vec<String> = rows_of(&store, &ann_id).await.into_iter().map(|(table, _)| table).collect();
    let mut seeded = vec![
        "api_tokens",
        "chats",
        "conversations",
        "identities",
        "messages",
        "pending_links",
        "profiles",
        "resources",
        "sessions",
        "sign_in_flows",
        "sign_in_links",
        "usage_days",
        "users",
    ];
    if backend == Backend::Sqlite {
        seeded.push("message_search (index)");
    }
    for table in &seeded {
        assert!(before.iter().any(|found| found == table), "the test gives the account a row in {table}: {before:?}");
    }

    // A script's token may not delete the account, even with the password.
    let refused = delete(&app, &script, PASSWORD).await.unwrap_err();
    assert_eq!(refused.code(), Code::PermissionDenied, "{refused:?}");
    assert!(refused.message().contains("needs a browser session"), "{}", refused.message());
    // Nor the session without the right password.
    for wrong in ["not the passphrase", ""] {
        let refused = delete(&app, token, wrong).await.unwrap_err();
        assert_eq!(refused.code(), Code::InvalidArgument, "{refused:?}");
        assert_eq!(violated_field(&refused), "password");
    }
    assert_eq!(rows_of(&store, &ann_id).await.len(), before.len(), "nothing was deleted");

    delete(&app, token, PASSWORD).await.expect("the owner, in person, deletes the account");
    let left = rows_of(&store, &ann_id).await;
    assert!(left.is_empty(), "rows of the deleted account are left: {left:?}");
    // Its channel was stopped where it ran.
    eventually("the edge stopping the deleted account's resource", || async {
        if ann.edge.stops(&ann.resource.id).is_empty() { Err("no stop yet") } else { Ok(()) }
    })
    .await;
    // Its credentials are refused, and its email may register again, with the same channel.
    for credential in [token, script.as_str()] {
        let status = app.profile().get_profile(authed(GetProfileRequest {}, credential)).await.unwrap_err();
        assert_eq!(status.code(), Code::Unauthenticated, "{status:?}");
    }
    let again = RegisterRequest {
        email: ann_email.clone(),
        password: PASSWORD.into(),
        display_name: "Ann again".into(),
        language_code: String::new(),
    };
    let again = app.auth().register(again).await.expect("the email is free").into_inner().session.unwrap();
    create(&app, &again.token, new_resource("Shop", "{}", TOKEN_A)).await;
    let (new_id, _) = whoami(&app, &again.token).await;
    assert_ne!(new_id, ann_id);
    let listed = ConversationServiceClient::new(app.channel.clone())
        .list_conversations(authed(ListConversationsRequest::default(), &again.token))
        .await
        .unwrap();
    assert!(listed.into_inner().results.is_empty(), "the new account starts empty");
    // Bob keeps everything.
    let bobs: Vec<String> = rows_of(&store, &bob_user.id).await.into_iter().map(|(table, _)| table).collect();
    for table in ["users", "profiles", "sessions", "conversations", "messages"] {
        assert!(bobs.iter().any(|found| found == table), "Bob's {table}: {bobs:?}");
    }
    store.close().await;
}

async fn an_account_without_a_password_is_deleted_only_from_a_fresh_session(backend: Backend) {
    let fake = FakeOpenAi::start().await;
    let Some(app) = app_with(backend, &fake, |_| {}).await else { return };
    let (user, session) = app.register("carol").await;
    let carol = Passwordless::make(&app, &user.id).await;
    carol.signed_in_ago(11).await;
    let stale = delete(&app, &session.token, "").await.unwrap_err();
    assert_eq!(stale.code(), Code::FailedPrecondition, "{stale:?}");
    assert!(stale.message().contains("sign in again"), "{}", stale.message());
    let given = delete(&app, &session.token, "a password it never had").await.unwrap_err();
    assert_eq!(violated_field(&given), "password", "an account without a password gives none");
    carol.signed_in_ago(9).await;
    delete(&app, &session.token, "").await.expect("a session signed in 9 minutes ago deletes it");
    assert!(rows_of(&carol.store, &user.id).await.is_empty());
    carol.store.close().await;
}
