//! Credentials with the right reach: personal API tokens cannot change how an account is
//! reached, a password change ends everything else, tokens expire, per-account caps hold under
//! parallel bursts, and two unlinks at once cannot lock an account out.

use std::time::Duration;

use assistchat_core::store::{Store, now_millis};
use assistchat_proto::v1::{
    BeginIdentitySignInRequest, ChangePasswordRequest, CreateApiTokenRequest, CreateApiTokenResponse,
    DeleteApiTokenRequest, GetCurrentUserRequest, ListApiTokensRequest, ListSignInMethodsRequest, LoginRequest,
    UnlinkIdentityRequest, finish_identity_sign_in_response::Outcome,
};
use tonic::{Code, Status};

use crate::{
    both_backends,
    helpers::{Backend, TestApp, authed, spawn_app, spawn_app_with_edges, uuid_simple, violated_field},
    identities::{app_with_google, finish, visit_provider},
    resources::new_resource,
    test_edge::TestEdge,
};

both_backends!(
    an_api_token_is_refused_every_credential_action_a_session_may_do,
    a_password_change_ends_other_sessions_and_revokes_every_api_token,
    a_first_password_needs_a_session_signed_in_within_ten_minutes,
    an_expired_api_token_is_refused_and_listed_with_its_expiry,
    the_api_token_cap_holds_under_a_parallel_burst,
    the_resource_cap_holds_under_a_parallel_burst,
    two_parallel_unlinks_always_leave_a_way_in,
);

const PASSWORD: &str = "a long enough passphrase";

/// The test core's database, for what no RPC can do (aging a session, say).
pub async fn database(app: &TestApp) -> Store {
    Store::connect(app.config.database_url.as_deref().expect("tests set the database")).await.unwrap()
}

async fn create_token(app: &TestApp, credential: &str, name: &str) -> Result<CreateApiTokenResponse, Status> {
    let request = authed(CreateApiTokenRequest { name: name.into(), ttl: None }, credential);
    app.auth().create_api_token(request).await.map(|response| response.into_inner())
}

async fn token_count(app: &TestApp, session: &str) -> usize {
    let request = authed(ListApiTokensRequest { page_size: 100, page_token: String::new() }, session);
    app.auth().list_api_tokens(request).await.unwrap().into_inner().api_tokens.len()
}

fn assert_needs_a_session(what: &str, status: &Status) {
    assert_eq!(status.code(), Code::PermissionDenied, "{what}: {status:?}");
    assert!(status.message().contains("this needs a browser session: sign in on the web"), "{what}: {status:?}");
}

async fn an_api_token_is_refused_every_credential_action_a_session_may_do(backend: Backend) {
    let Some((app, fake)) = app_with_google(backend).await else { return };
    let (user, session) = app.register("ann").await;
    let token = create_token(&app, &session.token, "script").await.unwrap();
    let script = token.token.as_str();
    let token_id = token.api_token.unwrap().id;
    fake.set_person(assistchat_fakes::oidc::Person {
        subject: uuid_simple(),
        email: format!("ann.google.{}@example.com", &uuid_simple()[..8]),
        email_verified: true,
        name: "Ann".into(),
    });

    // Every call that changes how the account is reached, with the script's token: refused,
    // and nothing changed.
    let new_password =
        || ChangePasswordRequest { current_password: PASSWORD.into(), new_password: "taken over!".into() };
    let mut auth = app.auth();
    let refusals: Vec<(&str, Status)> = vec![
        ("CreateApiToken", create_token(&app, script, "another").await.unwrap_err()),
        (
            "DeleteApiToken",
            auth.delete_api_token(authed(DeleteApiTokenRequest { id: token_id.clone() }, script)).await.unwrap_err(),
        ),
        ("ChangePassword", auth.change_password(authed(new_password(), script)).await.unwrap_err()),
        (
            "BeginIdentitySignIn with link",
            auth.begin_identity_sign_in(authed(
                BeginIdentitySignInRequest { provider_id: "google".into(), link: true },
                script,
            ))
            .await
            .unwrap_err(),
        ),
        (
            "UnlinkIdentity",
            auth.unlink_identity(authed(UnlinkIdentityRequest { id: "any".into() }, script)).await.unwrap_err(),
        ),
        ("FinishIdentitySignIn linking", {
            // A link begun in the browser cannot be finished by the script.
            let returned = visit_provider(&app, "google", Some(&session.token)).await;
            finish(&app, &returned, Some(script)).await.unwrap_err()
        }),
    ];
    for (what, status) in &refusals {
        assert_needs_a_session(what, status);
    }
    assert_eq!(token_count(&app, &session.token).await, 1, "no token made or deleted");
    let methods = auth.list_sign_in_methods(authed(ListSignInMethodsRequest {}, &session.token)).await.unwrap();
    assert!(methods.into_inner().identities.is_empty(), "nothing linked");
    app.auth().login(LoginRequest { email: user.email.clone(), password: PASSWORD.into() }).await.unwrap();
    // What scripts are for still works.
    auth.get_current_user(authed(GetCurrentUserRequest {}, script)).await.unwrap();

    // The same calls with the browser's session do what they say.
    let second = create_token(&app, &session.token, "another").await.unwrap().api_token.unwrap();
    auth.delete_api_token(authed(DeleteApiTokenRequest { id: second.id }, &session.token)).await.unwrap();
    let returned = visit_provider(&app, "google", Some(&session.token)).await;
    let Outcome::Linked(linked) = finish(&app, &returned, Some(&session.token)).await.unwrap() else {
        panic!("linked from the session");
    };
    auth.unlink_identity(authed(UnlinkIdentityRequest { id: linked.id }, &session.token)).await.unwrap();
    let changed = auth.change_password(authed(new_password(), &session.token)).await.unwrap().into_inner();
    assert_eq!(changed.revoked_api_token_count, 1, "the script's token goes with the old password");
}

async fn a_password_change_ends_other_sessions_and_revokes_every_api_token(backend: Backend) {
    let Some(app) = spawn_app(backend).await else { return };
    let (user, kept) = app.register("ann").await;
    let login = || LoginRequest { email: user.email.clone(), password: PASSWORD.into() };
    let phone = app.auth().login(login()).await.unwrap().into_inner().session.unwrap().token;
    let laptop = app.auth().login(login()).await.unwrap().into_inner().session.unwrap().token;
    let scripts: Vec<String> = [
        create_token(&app, &kept.token, "ci").await.unwrap().token,
        create_token(&app, &phone, "cron").await.unwrap().token,
        create_token(&app, &laptop, "backup").await.unwrap().token,
    ]
    .into();
    let (_, bob) = app.register("bob").await;
    let bobs = create_token(&app, &bob.token, "bob's").await.unwrap().token;

    let change =
        ChangePasswordRequest { current_password: PASSWORD.into(), new_password: "a brand new passphrase".into() };
    let done = app.auth().change_password(authed(change, &kept.token)).await.unwrap().into_inner();
    assert_eq!((done.ended_session_count, done.revoked_api_token_count), (2, 3));
    for credential in scripts.iter().chain([&phone, &laptop]) {
        let status = app.auth().get_current_user(authed(GetCurrentUserRequest {}, credential)).await.unwrap_err();
        assert_eq!(status.code(), Code::Unauthenticated, "{status:?}");
    }
    assert_eq!(token_count(&app, &kept.token).await, 0);
    app.auth().get_current_user(authed(GetCurrentUserRequest {}, &kept.token)).await.expect("the caller stays");
    app.auth().get_current_user(authed(GetCurrentUserRequest {}, &bobs)).await.expect("others' tokens stay");
}

/// An account as a sign-in provider makes it: without a password, so that what needs one needs
/// a recent sign-in instead, whose time a test sets.
pub struct Passwordless {
    /// The test core's database.
    pub store: Store,
    /// The account.
    user_id: String,
}

impl Passwordless {
    /// Takes the password of account `user_id` away.
    pub async fn make(app: &TestApp, user_id: &str) -> Self {
        let store = database(app).await;
        sqlx::query("UPDATE users SET password_hash = '' WHERE id = $1")
            .bind(user_id)
            .execute(store.pool())
            .await
            .unwrap();
        Self { store, user_id: user_id.to_owned() }
    }

    /// Dates every session of the account `minutes` ago, as if it signed in then.
    pub async fn signed_in_ago(&self, minutes: i64) {
        sqlx::query("UPDATE sessions SET create_time = $1 WHERE user_id = $2")
            .bind(now_millis() - minutes * 60_000)
            .bind(&self.user_id)
            .execute(self.store.pool())
            .await
            .unwrap();
    }
}

async fn a_first_password_needs_a_session_signed_in_within_ten_minutes(backend: Backend) {
    let Some(app) = spawn_app(backend).await else { return };
    let (user, session) = app.register("carol").await;
    let carol = Passwordless::make(&app, &user.id).await;
    let sign_in_ago = |minutes| carol.signed_in_ago(minutes);
    let set = || {
        authed(ChangePasswordRequest { current_password: String::new(), new_password: PASSWORD.into() }, &session.token)
    };
    let has_password = || async {
        let methods = app.auth().list_sign_in_methods(authed(ListSignInMethodsRequest {}, &session.token)).await;
        methods.unwrap().into_inner().has_password
    };

    sign_in_ago(11).await;
    let status = app.auth().change_password(set()).await.unwrap_err();
    assert_eq!(status.code(), Code::FailedPrecondition, "{status:?}");
    assert!(status.message().contains("sign in again"), "{}", status.message());
    assert!(!has_password().await, "nothing was set");

    sign_in_ago(9).await;
    app.auth().change_password(set()).await.expect("a session signed in 9 minutes ago sets it");
    assert!(has_password().await);
    // Changing an existing password does not ask for a fresh session: the current one is proof.
    sign_in_ago(60).await;
    let change = ChangePasswordRequest { current_password: PASSWORD.into(), new_password: "another passphrase".into() };
    app.auth().change_password(authed(change, &session.token)).await.unwrap();
    carol.store.close().await;
}

async fn an_expired_api_token_is_refused_and_listed_with_its_expiry(backend: Backend) {
    let Some(app) = spawn_app(backend).await else { return };
    let (_, session) = app.register("ann").await;
    let month = prost_types::Duration { seconds: 30 * 86_400, nanos: 0 };
    let request = authed(CreateApiTokenRequest { name: "monthly".into(), ttl: Some(month) }, &session.token);
    let created = app.auth().create_api_token(request).await.unwrap().into_inner();
    let described = created.api_token.unwrap();
    let expire = described.expire_time.expect("listed with its expiry");
    let create = described.create_time.unwrap();
    assert_eq!(expire.seconds - create.seconds, 30 * 86_400);
    let forever = create_token(&app, &session.token, "forever").await.unwrap();
    assert!(forever.api_token.unwrap().expire_time.is_none());
    app.auth().get_current_user(authed(GetCurrentUserRequest {}, &created.token)).await.expect("works until then");

    for (seconds, nanos) in [(30, 0), (11 * 366 * 86_400, 0), (-5, 0)] {
        let ttl = Some(prost_types::Duration { seconds, nanos });
        let request = authed(CreateApiTokenRequest { name: "odd".into(), ttl }, &session.token);
        let status = app.auth().create_api_token(request).await.unwrap_err();
        assert_eq!((status.code(), violated_field(&status)), (Code::InvalidArgument, "ttl".to_owned()), "{seconds}");
    }

    // A month later.
    let store = database(&app).await;
    sqlx::query("UPDATE api_tokens SET expire_time = $1 WHERE id = $2")
        .bind(now_millis() - 1000)
        .bind(&described.id)
        .execute(store.pool())
        .await
        .unwrap();
    let status = app.auth().get_current_user(authed(GetCurrentUserRequest {}, &created.token)).await.unwrap_err();
    assert_eq!(status.code(), Code::Unauthenticated);
    assert!(status.message().contains("expired"), "{}", status.message());
    let request = authed(ListApiTokensRequest::default(), &session.token);
    let listed = app.auth().list_api_tokens(request).await.unwrap().into_inner().api_tokens;
    let expired = listed.iter().find(|token| token.id == described.id).expect("still listed, to be deleted");
    assert!(expired.expire_time.is_some());
    app.auth().get_current_user(authed(GetCurrentUserRequest {}, &forever.token)).await.expect("others work on");
    store.close().await;
}

async fn the_api_token_cap_holds_under_a_parallel_burst(backend: Backend) {
    let Some(app) = spawn_app(backend).await else { return };
    let (_, session) = app.register("ann").await;
    let mut burst = tokio::task::JoinSet::new();
    for i in 0..60 {
        let (mut auth, session) = (app.auth(), session.token.clone());
        burst.spawn(async move {
            let request = authed(CreateApiTokenRequest { name: format!("burst {i}"), ttl: None }, &session);
            auth.create_api_token(request).await
        });
    }
    let results = burst.join_all().await;
    let made = results.iter().filter(|result| result.is_ok()).count();
    let refused: Vec<&Status> = results.iter().filter_map(|result| result.as_ref().err()).collect();
    assert_eq!(made, 50, "exactly the cap is made: {refused:?}");
    for status in &refused {
        assert_eq!(status.code(), Code::ResourceExhausted, "{status:?}");
        assert!(status.message().contains("delete some"), "{}", status.message());
    }
    assert_eq!(token_count(&app, &session.token).await, 50);
    // Another account has its own cap.
    let (_, bob) = app.register("bob").await;
    create_token(&app, &bob.token, "bob's").await.unwrap();
}

async fn the_resource_cap_holds_under_a_parallel_burst(backend: Backend) {
    let Some(app) = spawn_app_with_edges(backend).await else { return };
    let (_, session) = app.register("ann").await;
    let _edge = TestEdge::attach(app.channel.clone(), "testchan", "one").await;
    let mut burst = tokio::task::JoinSet::new();
    for i in 0..110 {
        let (mut resources, session) = (app.resources(), session.token.clone());
        burst.spawn(async move {
            let request = new_resource(&format!("shop {i}"), "{}", &format!("tok-burst-{i:04}-aaaaaaaaaaaaaaaa"));
            resources.create_resource(authed(request, &session)).await
        });
    }
    let results = burst.join_all().await;
    let made = results.iter().filter(|result| result.is_ok()).count();
    let refused: Vec<&Status> = results.iter().filter_map(|result| result.as_ref().err()).collect();
    assert_eq!(made, 100, "exactly the cap is made: {:?}", refused.first());
    for status in &refused {
        assert_eq!(status.code(), Code::ResourceExhausted, "{status:?}");
        assert!(status.message().contains("delete some"), "{}", status.message());
    }
    let store = database(&app).await;
    let stored: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM resources").fetch_one(store.pool()).await.unwrap();
    assert_eq!(stored, 100);
    let (_, bob) = app.register("bob").await;
    let request = new_resource("bob's shop", "{}", "tok-bob-000000000000000000");
    app.resources().create_resource(authed(request, &bob.token)).await.expect("another account has its own cap");
    store.close().await;
}

async fn two_parallel_unlinks_always_leave_a_way_in(backend: Backend) {
    let Some(app) = spawn_app(backend).await else { return };
    let (user, session) = app.register("dave").await;
    let store = database(&app).await;
    // As an account made by a sign-in provider: no password, so its identities are its way in.
    sqlx::query("UPDATE users SET password_hash = '' WHERE id = $1")
        .bind(&user.id)
        .execute(store.pool())
        .await
        .unwrap();
    let link = |store: Store, user_id: String| async move {
        let id = uuid_simple();
        sqlx::query(
            "INSERT INTO identities (id, user_id, provider_id, issuer, subject, email, create_time) \
             VALUES ($1, $2, 'google', 'https://issuer.test', $3, 'dave@example.com', $4)",
        )
        .bind(&id)
        .bind(user_id)
        .bind(uuid_simple())
        .bind(now_millis())
        .execute(store.pool())
        .await
        .unwrap();
        id
    };
    let mut first = link(store.clone(), user.id.clone()).await;
    for round in 0..25 {
        let second = link(store.clone(), user.id.clone()).await;
        let unlink = |id: String| {
            let (mut auth, token) = (app.auth(), session.token.clone());
            async move { auth.unlink_identity(authed(UnlinkIdentityRequest { id }, &token)).await }
        };
        let (a, b) = tokio::join!(unlink(first.clone()), unlink(second.clone()));
        let left: Vec<String> = sqlx::query_scalar("SELECT id FROM identities WHERE user_id = $1")
            .bind(&user.id)
            .fetch_all(store.pool())
            .await
            .unwrap();
        assert_eq!(left.len(), 1, "round {round}: one way in is left, whatever the order ({a:?}, {b:?})");
        let refused = match (a, b) {
            (Err(refused), _) | (Ok(_), Err(refused)) => refused,
            (Ok(_), Ok(_)) => unreachable!("one way in is left, so one unlink was refused"),
        };
        assert_eq!(refused.code(), Code::FailedPrecondition, "round {round}: {refused:?}");
        assert!(refused.message().contains("only way to sign in"), "{}", refused.message());
        first = left.into_iter().next().unwrap();
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    store.close().await;
}
