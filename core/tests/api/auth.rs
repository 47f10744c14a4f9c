//! AuthService: registration, sign-in, sessions, throttling and personal API tokens.

use std::time::Duration;

use assistchat_proto::v1::{
    ChangePasswordRequest, CreateApiTokenRequest, DeleteApiTokenRequest, GetCurrentUserRequest, ListApiTokensRequest,
    LoginRequest, LogoutRequest, RegisterRequest,
};
use tonic::{Code, Request};
use tonic_types::StatusExt;

use crate::{
    both_backends,
    helpers::{Backend, TestApp, authed, spawn_app, spawn_app_with, uuid_simple, violated_field},
};

both_backends!(
    register_signs_the_new_account_in,
    register_names_the_bad_field,
    a_taken_email_is_already_exists_in_any_letter_case,
    wrong_password_and_unknown_email_get_the_same_answer,
    every_login_issues_a_new_token,
    logout_revokes_the_session_at_once,
    protected_calls_need_a_valid_token,
    failed_logins_are_throttled_per_account,
    failed_logins_are_throttled_per_address,
    forwarded_addresses_count_only_from_trusted_proxies,
    change_password_ends_the_other_sessions,
    api_tokens_are_shown_once_and_work_until_deleted,
    api_tokens_are_listed_in_pages,
    sessions_end_after_the_idle_timeout,
    sessions_end_after_their_lifetime,
);

const PASSWORD: &str = "a long enough passphrase";

fn registration(email: &str, password: &str) -> RegisterRequest {
    RegisterRequest {
        email: email.into(),
        password: password.into(),
        display_name: "Ann".into(),
        language_code: "ru".into(),
    }
}

fn login(email: &str, password: &str) -> LoginRequest {
    LoginRequest { email: email.into(), password: password.into() }
}

fn with_header<T>(message: T, header: &Option<String>) -> Request<T> {
    let mut request = Request::new(message);
    if let Some(value) = header {
        request.metadata_mut().insert("authorization", value.parse().unwrap());
    }
    request
}

fn unique_email() -> String {
    format!("ann.{}@Example.COM", &uuid_simple()[..8])
}

async fn register_signs_the_new_account_in(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let email = unique_email();
    let response = app.auth().register(registration(&format!("  {email} "), PASSWORD)).await.unwrap().into_inner();
    let user = response.user.unwrap();
    assert_eq!(user.email, email.to_lowercase(), "trimmed and lower-cased");
    assert_eq!(user.display_name, "Ann");
    assert_eq!(user.language_code, "ru");
    let session = response.session.unwrap();
    assert!(session.token.starts_with("acs_"));
    assert!(session.expire_time.unwrap().seconds > 0);

    let me = app.auth().get_current_user(authed(GetCurrentUserRequest {}, &session.token)).await.unwrap().into_inner();
    assert_eq!(me.user.unwrap().id, user.id);
}

async fn register_names_the_bad_field(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let email = unique_email();
    let cases = [
        (registration("not-an-email", PASSWORD), "email"),
        (registration("", PASSWORD), "email"),
        (registration(&email, "short"), "password"),
        (registration(&email, &"x".repeat(129)), "password"),
        (registration(&email, "password123"), "password"),
        (RegisterRequest { display_name: "  ".into(), ..registration(&email, PASSWORD) }, "display_name"),
        (RegisterRequest { language_code: "de".into(), ..registration(&email, PASSWORD) }, "language_code"),
    ];
    for (request, field) in cases {
        let status = app.auth().register(request).await.unwrap_err();
        assert_eq!(status.code(), Code::InvalidArgument, "{field}: {status:?}");
        assert_eq!(violated_field(&status), field);
        assert!(status.message().starts_with(field), "{}", status.message());
    }
    // Nothing was stored: the email is still free.
    app.auth().register(registration(&email, PASSWORD)).await.unwrap();
}

async fn a_taken_email_is_already_exists_in_any_letter_case(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let email = unique_email();
    app.auth().register(registration(&email, PASSWORD)).await.unwrap();
    let status = app.auth().register(registration(&email.to_uppercase(), PASSWORD)).await.unwrap_err();
    assert_eq!(status.code(), Code::AlreadyExists, "{status:?}");
    assert!(status.message().contains("sign in"), "{}", status.message());
}

async fn wrong_password_and_unknown_email_get_the_same_answer(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let email = unique_email();
    app.auth().register(registration(&email, PASSWORD)).await.unwrap();
    let wrong_password = app.auth().login(login(&email, "not the passphrase")).await.unwrap_err();
    let unknown_email = app.auth().login(login("nobody@example.com", PASSWORD)).await.unwrap_err();
    let not_an_email = app.auth().login(login("nobody", PASSWORD)).await.unwrap_err();
    for status in [&wrong_password, &unknown_email, &not_an_email] {
        assert_eq!(status.code(), Code::Unauthenticated);
        assert_eq!(status.message(), wrong_password.message());
    }
    let ok = app.auth().login(login(&email.to_uppercase(), PASSWORD)).await.unwrap().into_inner();
    assert_eq!(ok.user.unwrap().email, email.to_lowercase());
}

async fn every_login_issues_a_new_token(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let email = unique_email();
    let registered = app.auth().register(registration(&email, PASSWORD)).await.unwrap().into_inner();
    let first = app.auth().login(login(&email, PASSWORD)).await.unwrap().into_inner().session.unwrap();
    let second = app.auth().login(login(&email, PASSWORD)).await.unwrap().into_inner().session.unwrap();
    let tokens = [registered.session.unwrap().token, first.token, second.token];
    assert!(tokens[0] != tokens[1] && tokens[1] != tokens[2] && tokens[0] != tokens[2]);
    for token in &tokens {
        app.auth().get_current_user(authed(GetCurrentUserRequest {}, token)).await.unwrap();
    }
}

async fn logout_revokes_the_session_at_once(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let (_, session) = app.register("ann").await;
    let (_, other) = app.register("bob").await;
    app.auth().logout(authed(LogoutRequest {}, &session.token)).await.unwrap();
    let status = app.auth().get_current_user(authed(GetCurrentUserRequest {}, &session.token)).await.unwrap_err();
    assert_eq!(status.code(), Code::Unauthenticated);
    // Other sessions are untouched.
    app.auth().get_current_user(authed(GetCurrentUserRequest {}, &other.token)).await.unwrap();
    // An API token cannot log out: it is revoked by deleting it.
    let api =
        app.auth().create_api_token(authed(CreateApiTokenRequest { name: "ci".into(), ttl: None }, &other.token)).await;
    let status = app.auth().logout(authed(LogoutRequest {}, &api.unwrap().into_inner().token)).await.unwrap_err();
    assert_eq!(status.code(), Code::FailedPrecondition);
}

async fn protected_calls_need_a_valid_token(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let (_, session) = app.register("ann").await;
    let revoked = {
        let (_, s) = app.register("bob").await;
        app.auth().logout(authed(LogoutRequest {}, &s.token)).await.unwrap();
        s.token
    };
    let headers: [Option<String>; 6] = [
        None,
        Some("Bearer".into()),
        Some(format!("Basic {}", session.token)),
        Some("Bearer acs_not-a-real-token".into()),
        Some("Bearer something-else".into()),
        Some(format!("Bearer {revoked}")),
    ];
    for header in headers {
        let mut auth = app.auth();
        let statuses = [
            auth.get_current_user(with_header(GetCurrentUserRequest {}, &header)).await.unwrap_err(),
            auth.logout(with_header(LogoutRequest {}, &header)).await.unwrap_err(),
            auth.change_password(with_header(ChangePasswordRequest::default(), &header)).await.unwrap_err(),
            auth.create_api_token(with_header(CreateApiTokenRequest { name: "x".into(), ttl: None }, &header))
                .await
                .unwrap_err(),
            auth.list_api_tokens(with_header(ListApiTokensRequest::default(), &header)).await.unwrap_err(),
            auth.delete_api_token(with_header(DeleteApiTokenRequest { id: "x".into() }, &header)).await.unwrap_err(),
        ];
        for status in statuses {
            assert_eq!(status.code(), Code::Unauthenticated, "{header:?}: {status:?}");
            assert!(!status.message().is_empty());
        }
    }
}

async fn failed_logins_are_throttled_per_account(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let email = unique_email();
    app.auth().register(registration(&email, PASSWORD)).await.unwrap();
    let other = unique_email();
    app.auth().register(registration(&other, PASSWORD)).await.unwrap();
    for _ in 0..5 {
        let status = app.auth().login(login(&email, "a wrong passphrase")).await.unwrap_err();
        assert_eq!(status.code(), Code::Unauthenticated);
    }
    // Now even the right password is refused until the wait is over.
    let status = app.auth().login(login(&email, PASSWORD)).await.unwrap_err();
    assert_eq!(status.code(), Code::ResourceExhausted, "{status:?}");
    let retry = status.get_error_details().retry_info().expect("RetryInfo detail").retry_delay.unwrap();
    assert!(retry > Duration::ZERO && retry <= Duration::from_secs(60), "{retry:?}");
    assert!(status.message().contains("try again in"), "{}", status.message());
    // Another account is not affected.
    app.auth().login(login(&other, PASSWORD)).await.unwrap();
}

/// Fails sign-ins from one address (across many accounts, each under its own limit) until
/// the address is throttled; returns how many failures it took.
async fn fail_until_throttled(app: &TestApp, forwarded_for: Option<&str>) -> usize {
    for attempt in 0..60 {
        let mut request = Request::new(login(&format!("victim{}@example.com", attempt / 3), "guess-guess"));
        if let Some(hop) = forwarded_for {
            // A forged header varies per attempt; a proxy's stays the same.
            let hop = hop.replace("{n}", &attempt.to_string());
            request.metadata_mut().insert("x-forwarded-for", hop.parse().unwrap());
        }
        let status = app.auth().login(request).await.unwrap_err();
        match status.code() {
            Code::Unauthenticated => {}
            Code::ResourceExhausted => return attempt,
            other => panic!("attempt {attempt}: {other:?}"),
        }
    }
    panic!("never throttled");
}

fn login_from(email: &str, forwarded_for: &str) -> Request<LoginRequest> {
    let mut request = Request::new(login(email, "guess-guess"));
    request.metadata_mut().insert("x-forwarded-for", forwarded_for.parse().unwrap());
    request
}

async fn failed_logins_are_throttled_per_address(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let email = unique_email();
    app.auth().register(registration(&email, PASSWORD)).await.unwrap();
    let failures = fail_until_throttled(&app, None).await;
    assert!(failures >= 30, "30 failures are allowed before throttling, got {failures}");
    let status = app.auth().login(login(&email, PASSWORD)).await.unwrap_err();
    assert_eq!(status.code(), Code::ResourceExhausted, "{status:?}");
}

async fn forwarded_addresses_count_only_from_trusted_proxies(backend: Backend) {
    // Trusted (as the web edge would be): each browser address has its own budget.
    let trusting =
        |config: &mut assistchat_core::Config| config.trusted_proxies = vec!["127.0.0.1/32".parse().unwrap()];
    let Some(app) = spawn_app_with(backend, trusting).await else {
        return;
    };
    fail_until_throttled(&app, Some("203.0.113.5")).await;
    // A hop the browser claimed itself, left of the one the proxy saw, is not believed.
    let spoofed = login_from("other@example.com", "198.51.100.99, 203.0.113.5");
    let status = app.auth().login(spoofed).await.unwrap_err();
    assert_eq!(status.code(), Code::ResourceExhausted, "the guessing browser is throttled");
    let status = app.auth().login(login_from("other@example.com", "198.51.100.7")).await.unwrap_err();
    assert_eq!(status.code(), Code::Unauthenticated, "another browser behind the same proxy is not");

    // Untrusted: a forged header, different every time, changes nothing: the peer is counted.
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    fail_until_throttled(&app, Some("198.51.100.{n}")).await;
    let status = app.auth().login(login_from("other@example.com", "192.0.2.1")).await.unwrap_err();
    assert_eq!(status.code(), Code::ResourceExhausted);
}

async fn change_password_ends_the_other_sessions(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let email = unique_email();
    let kept = app.auth().register(registration(&email, PASSWORD)).await.unwrap().into_inner().session.unwrap();
    let other = app.auth().login(login(&email, PASSWORD)).await.unwrap().into_inner().session.unwrap();
    let change = |current: &str, new: &str| {
        authed(ChangePasswordRequest { current_password: current.into(), new_password: new.into() }, &kept.token)
    };

    let status = app.auth().change_password(change("not the passphrase", "a brand new passphrase")).await.unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    assert_eq!(violated_field(&status), "current_password");
    let status = app.auth().change_password(change(PASSWORD, "12345678")).await.unwrap_err();
    assert_eq!(violated_field(&status), "new_password");
    // Both failures changed nothing.
    app.auth().get_current_user(authed(GetCurrentUserRequest {}, &other.token)).await.unwrap();

    let done = app.auth().change_password(change(PASSWORD, "a brand new passphrase")).await.unwrap().into_inner();
    assert_eq!(done.ended_session_count, 1);
    let status = app.auth().get_current_user(authed(GetCurrentUserRequest {}, &other.token)).await.unwrap_err();
    assert_eq!(status.code(), Code::Unauthenticated);
    app.auth().get_current_user(authed(GetCurrentUserRequest {}, &kept.token)).await.unwrap();
    assert_eq!(app.auth().login(login(&email, PASSWORD)).await.unwrap_err().code(), Code::Unauthenticated);
    app.auth().login(login(&email, "a brand new passphrase")).await.unwrap();
}

async fn api_tokens_are_shown_once_and_work_until_deleted(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let (ann, ann_session) = app.register("ann").await;
    let (_, bob_session) = app.register("bob").await;
    let created = app
        .auth()
        .create_api_token(authed(CreateApiTokenRequest { name: " home server ".into(), ttl: None }, &ann_session.token))
        .await
        .unwrap()
        .into_inner();
    assert!(created.token.starts_with("acp_"));
    let described = created.api_token.unwrap();
    assert_eq!(described.name, "home server");
    assert!(described.last_use_time.is_none());

    let unnamed = authed(CreateApiTokenRequest { name: String::new(), ttl: None }, &ann_session.token);
    assert_eq!(violated_field(&app.auth().create_api_token(unnamed).await.unwrap_err()), "name");

    // The token acts for its owner.
    let me = app.auth().get_current_user(authed(GetCurrentUserRequest {}, &created.token)).await.unwrap();
    assert_eq!(me.into_inner().user.unwrap().id, ann.id);

    let list = |token: &str| {
        let (mut auth, request) = (app.auth(), authed(ListApiTokensRequest::default(), token));
        async move { auth.list_api_tokens(request).await }
    };
    let listed = list(&ann_session.token).await.unwrap().into_inner();
    assert_eq!(listed.api_tokens.len(), 1);
    assert_eq!(listed.api_tokens[0].id, described.id);
    assert!(listed.api_tokens[0].last_use_time.is_some(), "use was recorded");
    assert!(!format!("{listed:?}").contains(&created.token[4..]), "the secret is never listed");
    assert!(list(&bob_session.token).await.unwrap().into_inner().api_tokens.is_empty());

    // Someone else's token is not found, and stays valid.
    let delete = |id: &str, token: &str| {
        let (mut auth, request) = (app.auth(), authed(DeleteApiTokenRequest { id: id.into() }, token));
        async move { auth.delete_api_token(request).await }
    };
    assert_eq!(delete(&described.id, &bob_session.token).await.unwrap_err().code(), Code::NotFound);
    app.auth().get_current_user(authed(GetCurrentUserRequest {}, &created.token)).await.unwrap();

    delete(&described.id, &ann_session.token).await.unwrap();
    let status = app.auth().get_current_user(authed(GetCurrentUserRequest {}, &created.token)).await.unwrap_err();
    assert_eq!(status.code(), Code::Unauthenticated);
    assert_eq!(delete(&described.id, &ann_session.token).await.unwrap_err().code(), Code::NotFound);
}

async fn api_tokens_are_listed_in_pages(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let (_, session) = app.register("ann").await;
    let mut created = Vec::new();
    for i in 0..5 {
        let request = authed(CreateApiTokenRequest { name: format!("token {i}"), ttl: None }, &session.token);
        created.push(app.auth().create_api_token(request).await.unwrap().into_inner().api_token.unwrap().id);
    }
    let mut seen = Vec::new();
    let mut page_token = String::new();
    loop {
        let request = ListApiTokensRequest { page_size: 2, page_token: page_token.clone() };
        let page = app.auth().list_api_tokens(authed(request, &session.token)).await.unwrap().into_inner();
        assert!(page.api_tokens.len() <= 2);
        seen.extend(page.api_tokens.into_iter().map(|t| t.id));
        if page.next_page_token.is_empty() {
            break;
        }
        page_token = page.next_page_token;
    }
    created.reverse();
    assert_eq!(seen, created, "every token once, newest first");

    let bad = ListApiTokensRequest { page_size: 2, page_token: "bm90IGEgdG9rZW4".into() };
    let status = app.auth().list_api_tokens(authed(bad, &session.token)).await.unwrap_err();
    assert_eq!(violated_field(&status), "page_token");
}

async fn sessions_end_after_the_idle_timeout(backend: Backend) {
    let idle = Duration::from_millis(1200);
    let Some(app) = spawn_app_with(backend, |config| config.session_idle_timeout = idle).await else {
        return;
    };
    let (_, session) = app.register("ann").await;
    // Use keeps the session alive well past one idle timeout.
    for _ in 0..8 {
        tokio::time::sleep(Duration::from_millis(250)).await;
        app.auth().get_current_user(authed(GetCurrentUserRequest {}, &session.token)).await.unwrap();
    }
    tokio::time::sleep(idle + Duration::from_millis(300)).await;
    let status = app.auth().get_current_user(authed(GetCurrentUserRequest {}, &session.token)).await.unwrap_err();
    assert_eq!(status.code(), Code::Unauthenticated);
    assert!(status.message().contains("expired"), "{}", status.message());
}

async fn sessions_end_after_their_lifetime(backend: Backend) {
    let Some(app) = spawn_app_with(backend, |config| config.session_lifetime = Duration::from_millis(700)).await else {
        return;
    };
    let (_, session) = app.register("ann").await;
    let expire = session.expire_time.unwrap();
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64;
    assert!(expire.seconds <= now + 1, "the lifetime is reported: {expire:?}");
    tokio::time::sleep(Duration::from_millis(900)).await;
    let status = app.auth().get_current_user(authed(GetCurrentUserRequest {}, &session.token)).await.unwrap_err();
    assert_eq!(status.code(), Code::Unauthenticated);
}
