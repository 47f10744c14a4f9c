//! Throttles that hold under concurrency: sign-ins and registrations are counted before the
//! password is checked or the account made, guesses from one address never lock the owner out
//! from another, IPv6 clients are counted per /64, and the operator's registration policy.

use std::time::Duration;

use assistchat_core::{
    auth::{ACCOUNT_BURST, ACCOUNT_CEILING_BURST, REGISTRATION_BURST},
    config::RegistrationMode,
};
use assistchat_proto::v1::{ListIdentityProvidersRequest, LoginRequest, RegisterRequest, RegistrationPolicy};
use tonic::{Code, Request, Status};
use tonic_types::StatusExt;

use crate::{
    both_backends,
    helpers::{Backend, TestApp, spawn_app_with, uuid_simple},
};

both_backends!(
    parallel_wrong_passwords_are_checked_at_most_a_burst,
    the_owner_signs_in_from_a_fresh_address_while_others_guess,
    an_ipv6_client_is_counted_per_64,
    parallel_registrations_from_one_address_are_throttled,
    closed_registration_is_refused_with_what_to_do,
    registration_by_domain_admits_only_those_domains,
);

const PASSWORD: &str = "a long enough passphrase";
const WRONG: &str = "not the passphrase";

/// A core that believes `x-forwarded-for` from loopback, as it believes the web edge's, so that
/// tests can call as many client addresses.
async fn app_behind_proxy(backend: Backend, configure: impl FnOnce(&mut assistchat_core::Config)) -> Option<TestApp> {
    spawn_app_with(backend, |config| {
        config.trusted_proxies = vec!["127.0.0.1/32".parse().unwrap(), "::1/128".parse().unwrap()];
        configure(config);
    })
    .await
}

/// `message` as sent by the client at `address`, through the trusted proxy.
fn from<T>(address: &str, message: T) -> Request<T> {
    let mut request = Request::new(message);
    request.metadata_mut().insert("x-forwarded-for", address.parse().unwrap());
    request
}

fn login(email: &str, password: &str) -> LoginRequest {
    LoginRequest { email: email.into(), password: password.into() }
}

fn registration(email: &str) -> RegisterRequest {
    RegisterRequest {
        email: email.into(),
        password: PASSWORD.into(),
        display_name: "Ann".into(),
        language_code: String::new(),
    }
}

fn unique_email(domain: &str) -> String {
    format!("ann.{}@{domain}", &uuid_simple()[..8])
}

/// Registers `email` from a client address of its own, out of the way of the tested ones.
async fn account(app: &TestApp, email: &str) {
    app.auth().register(from("192.0.2.200", registration(email))).await.expect("registration succeeds");
}

/// Sends `count` logins at once, each from the address `address(n)`; returns their answers.
async fn logins_at_once(
    app: &TestApp,
    count: usize,
    email: &str,
    password: &str,
    address: impl Fn(usize) -> String,
) -> Vec<Result<(), Status>> {
    let calls = (0..count).map(|n| {
        let mut auth = app.auth();
        let request = from(&address(n), login(email, password));
        async move { auth.login(request).await.map(drop) }
    });
    futures_join_all(calls).await
}

/// Runs the futures side by side and collects their outputs in order.
async fn futures_join_all<F: std::future::Future + Send + 'static>(futures: impl Iterator<Item = F>) -> Vec<F::Output>
where
    F::Output: Send + 'static,
{
    let handles: Vec<_> = futures.map(tokio::spawn).collect();
    let mut outputs = Vec::new();
    for handle in handles {
        outputs.push(handle.await.expect("the call task"));
    }
    outputs
}

/// How many answers have `code`.
fn count(answers: &[Result<(), Status>], code: Code) -> usize {
    answers.iter().filter(|answer| answer.as_ref().err().is_some_and(|status| status.code() == code)).count()
}

/// Asserts that `status` is a throttle's refusal that says, in words and as RetryInfo, when to
/// try again.
fn assert_throttled(status: &Status) {
    assert_eq!(status.code(), Code::ResourceExhausted, "{status:?}");
    assert!(status.message().contains("try again in"), "{}", status.message());
    let retry = status.get_error_details().retry_info().expect("a RetryInfo detail").retry_delay.unwrap();
    assert!(retry > Duration::ZERO, "{retry:?}");
}

async fn parallel_wrong_passwords_are_checked_at_most_a_burst(backend: Backend) {
    let Some(app) = app_behind_proxy(backend, |_| {}).await else {
        return;
    };
    let email = unique_email("example.com");
    account(&app, &email).await;
    let answers = logins_at_once(&app, 60, &email, WRONG, |_| "203.0.113.5".into()).await;
    let checked = count(&answers, Code::Unauthenticated);
    assert!(checked >= 1 && checked <= ACCOUNT_BURST as usize, "{checked} wrong passwords were checked");
    assert_eq!(checked + count(&answers, Code::ResourceExhausted), 60, "{answers:?}");
    for refused in answers.iter().filter_map(|answer| answer.as_ref().err()) {
        if refused.code() == Code::ResourceExhausted {
            assert_throttled(refused);
        }
    }
    // Even the right password waits from that address; from another it is let in at once.
    let status = app.auth().login(from("203.0.113.5", login(&email, PASSWORD))).await.unwrap_err();
    assert_throttled(&status);
    app.auth().login(from("198.51.100.7", login(&email, PASSWORD))).await.expect("the owner signs in");
}

async fn the_owner_signs_in_from_a_fresh_address_while_others_guess(backend: Backend) {
    let Some(app) = app_behind_proxy(backend, |_| {}).await else {
        return;
    };
    let email = unique_email("example.com");
    account(&app, &email).await;
    // One address spends its guesses on the account: the owner elsewhere is not affected.
    let answers = logins_at_once(&app, ACCOUNT_BURST as usize, &email, WRONG, |_| "203.0.113.1".into()).await;
    assert_eq!(count(&answers, Code::Unauthenticated), ACCOUNT_BURST as usize, "{answers:?}");
    app.auth().login(from("198.51.100.1", login(&email, PASSWORD))).await.expect("the owner signs in");

    // Many addresses, each under its own limit, fill the account's ceiling.
    let rest = (ACCOUNT_CEILING_BURST - ACCOUNT_BURST) as usize;
    let per = ACCOUNT_BURST as usize - 2;
    let answers = logins_at_once(&app, rest, &email, WRONG, |n| format!("203.0.113.{}", 2 + n / per)).await;
    assert_eq!(count(&answers, Code::Unauthenticated), rest, "{answers:?}");
    // Over the ceiling an address that has failed is refused, though under its own limit, and
    // even with the right password...
    let status = app.auth().login(from("203.0.113.2", login(&email, PASSWORD))).await.unwrap_err();
    assert_throttled(&status);
    // ...while an address that has not failed is still checked: a guess there is answered (and
    // spends that address for the account)...
    let status = app.auth().login(from("203.0.113.100", login(&email, WRONG))).await.unwrap_err();
    assert_eq!(status.code(), Code::Unauthenticated, "{status:?}");
    let status = app.auth().login(from("203.0.113.100", login(&email, WRONG))).await.unwrap_err();
    assert_throttled(&status);
    // ...and the owner, from an address of their own, is let in.
    app.auth().login(from("198.51.100.2", login(&email, PASSWORD))).await.expect("the owner signs in over the ceiling");
}

async fn an_ipv6_client_is_counted_per_64(backend: Backend) {
    let Some(app) = app_behind_proxy(backend, |_| {}).await else {
        return;
    };
    let email = unique_email("example.com");
    account(&app, &email).await;
    // Every guess from another address of the same /64.
    let answers =
        logins_at_once(&app, 30, &email, WRONG, |n| format!("2001:db8:1:2:{:x}::{:x}", (n * 7919) % 0xffff, n + 1))
            .await;
    let checked = count(&answers, Code::Unauthenticated);
    assert!(checked >= 1 && checked <= ACCOUNT_BURST as usize, "{checked} guesses from one /64 were checked");
    let status = app.auth().login(from("2001:db8:1:2:ffff::1", login(&email, PASSWORD))).await.unwrap_err();
    assert_throttled(&status);
    // The next /64 is another client.
    app.auth().login(from("2001:db8:1:3::1", login(&email, PASSWORD))).await.expect("another /64 signs in");
}

async fn parallel_registrations_from_one_address_are_throttled(backend: Backend) {
    let Some(app) = app_behind_proxy(backend, |_| {}).await else {
        return;
    };
    let calls = (0..30).map(|_| {
        let mut auth = app.auth();
        let request = from("203.0.113.9", registration(&unique_email("example.com")));
        async move { auth.register(request).await.map(drop) }
    });
    let answers = futures_join_all(calls).await;
    let made = answers.iter().filter(|answer| answer.is_ok()).count();
    assert!(made >= 1 && made <= REGISTRATION_BURST as usize, "{made} accounts were made from one address");
    assert_eq!(made + count(&answers, Code::ResourceExhausted), 30, "{answers:?}");
    let refused = answers.iter().find_map(|answer| answer.as_ref().err()).expect("some were refused");
    assert_throttled(refused);
    // Another address registers.
    app.auth().register(from("198.51.100.9", registration(&unique_email("example.com")))).await.unwrap();
}

async fn closed_registration_is_refused_with_what_to_do(backend: Backend) {
    let Some(app) = app_behind_proxy(backend, |config| config.registration = RegistrationMode::Closed).await else {
        return;
    };
    let status = app.auth().register(registration(&unique_email("example.com"))).await.unwrap_err();
    assert_eq!(status.code(), Code::PermissionDenied, "{status:?}");
    assert!(status.message().contains("closed") && status.message().contains("operator"), "{}", status.message());
    let options = app.auth().list_identity_providers(ListIdentityProvidersRequest {}).await.unwrap().into_inner();
    assert_eq!(options.registration(), RegistrationPolicy::Closed);
    assert!(options.registration_domains.is_empty());
}

async fn registration_by_domain_admits_only_those_domains(backend: Backend) {
    let Some(app) = app_behind_proxy(backend, |config| {
        config.registration = RegistrationMode::Domains;
        config.registration_domains = vec!["example.org".into(), "@Staff.Example.net".into()];
    })
    .await
    else {
        return;
    };
    app.auth().register(registration(&unique_email("example.org"))).await.expect("an allowed domain registers");
    app.auth().register(registration(&unique_email("STAFF.example.net"))).await.expect("in any letter case");
    let status = app.auth().register(registration(&unique_email("example.com"))).await.unwrap_err();
    assert_eq!(status.code(), Code::PermissionDenied, "{status:?}");
    assert!(status.message().contains("example.org, staff.example.net"), "{}", status.message());
    let options = app.auth().list_identity_providers(ListIdentityProvidersRequest {}).await.unwrap().into_inner();
    assert_eq!(options.registration(), RegistrationPolicy::Domains);
    assert_eq!(options.registration_domains, ["example.org", "staff.example.net"]);
}
