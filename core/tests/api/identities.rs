//! Sign-in with an OpenID Connect provider (Google's flow, against a fake provider on loopback):
//! the code flow with state, PKCE and nonce, the ID token checks, the rules that tie identities
//! to accounts, and every way a sign-in must fail with nothing created.

use std::collections::HashMap;

use assistchat_core::config::IdentityProviderConfig;
use assistchat_fakes::oidc::{FakeOidc, Forgery, Person};
use assistchat_proto::v1::{
    BeginIdentitySignInRequest, ChangePasswordRequest, FinishIdentitySignInRequest, FinishIdentitySignInResponse,
    GetCurrentUserRequest, IdentityLinkRequired, IdentitySignedIn, LinkIdentityWithPasswordRequest, LinkedIdentity,
    ListIdentityProvidersRequest, ListSignInMethodsRequest, ListSignInMethodsResponse, LoginRequest, RegisterRequest,
    UnlinkIdentityRequest, finish_identity_sign_in_response::Outcome,
};
use tonic::{Code, Request};

use crate::{
    both_backends,
    helpers::{Backend, TestApp, authed, spawn_app, spawn_app_with, uuid_simple},
};

both_backends!(
    a_newcomer_signs_in_and_comes_back_to_the_same_account,
    an_identity_is_its_subject_not_its_email,
    a_password_account_is_linked_only_once_its_password_is_given,
    a_state_is_spent_by_its_first_use_and_bound_to_its_provider,
    every_refusal_signs_nobody_in_and_creates_nothing,
    identities_are_linked_from_the_profile_and_the_last_method_stays,
    closed_registration_refuses_new_identities_and_signs_known_ones_in,
    sign_in_starts_are_throttled_per_address,
);

const CLIENT_ID: &str = "assistchat.apps.example";
const CLIENT_SECRET: &str = "client-secret-1234";
const PASSWORD: &str = "a long enough passphrase";

/// A core with Google (the fake) as its sign-in provider, and the fake.
pub(crate) async fn app_with_google(backend: Backend) -> Option<(TestApp, FakeOidc)> {
    let fake = FakeOidc::start().await;
    let issuer = fake.issuer();
    let app = spawn_app_with(backend, |config| {
        config.google_client_id = Some(CLIENT_ID.into());
        config.google_client_secret = Some(CLIENT_SECRET.into());
        config.google_issuer_url = issuer.clone();
        // A second provider at the same issuer under another client: a second button.
        config.extra_identity_providers.push(IdentityProviderConfig {
            id: "work".into(),
            display_name: "Work SSO".into(),
            issuer_url: issuer,
            client_id: "work-client".into(),
            client_secret: "work-secret".into(),
        });
    })
    .await?;
    let public = app.config.public_url.clone();
    fake.add_client(CLIENT_ID, CLIENT_SECRET, &format!("{public}/auth/google/callback"));
    fake.add_client("work-client", "work-secret", &format!("{public}/auth/work/callback"));
    Some((app, fake))
}

fn person(email: &str) -> Person {
    Person { subject: uuid_simple(), email: email.into(), email_verified: true, name: "Alice Example".into() }
}

fn unique_email(name: &str) -> String {
    format!("{name}.{}@example.com", &uuid_simple()[..8])
}

/// What the provider sent the browser back with: the callback's query parameters.
pub(crate) struct Returned(HashMap<String, String>);

impl Returned {
    fn get(&self, name: &str) -> String {
        self.0.get(name).cloned().unwrap_or_default()
    }

    fn finish(&self, provider_id: &str) -> FinishIdentitySignInRequest {
        FinishIdentitySignInRequest {
            provider_id: provider_id.into(),
            state: self.get("state"),
            code: self.get("code"),
            error: self.get("error"),
            error_description: self.get("error_description"),
            language_code: "ru".into(),
        }
    }
}

/// Begins a sign-in (a link with `session`) and plays the browser at the provider: follows the
/// authorization address and reads where the provider sends it back.
pub(crate) async fn visit_provider(app: &TestApp, provider_id: &str, session: Option<&str>) -> Returned {
    let begin = BeginIdentitySignInRequest { provider_id: provider_id.into(), link: session.is_some() };
    let request = match session {
        Some(token) => authed(begin, token),
        None => Request::new(begin),
    };
    let begun = app.auth().begin_identity_sign_in(request).await.expect("sign-in begins").into_inner();
    let browser = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let response = browser.get(&begun.authorization_url).send().await.expect("the provider answers");
    assert_eq!(response.status(), 302, "{}", response.text().await.unwrap());
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    let expected = format!("{}/auth/{provider_id}/callback?", app.config.public_url);
    assert!(location.starts_with(&expected), "sent back to {location}");
    let query = reqwest::Url::parse(&location).unwrap().query_pairs().into_owned().collect::<HashMap<_, _>>();
    assert_eq!(query.get("state"), Some(&begun.state), "the state comes back as it went");
    Returned(query)
}

pub(crate) async fn finish(
    app: &TestApp,
    returned: &Returned,
    session: Option<&str>,
) -> Result<Outcome, tonic::Status> {
    let request = returned.finish("google");
    let request = match session {
        Some(token) => authed(request, token),
        None => Request::new(request),
    };
    let FinishIdentitySignInResponse { outcome } = app.auth().finish_identity_sign_in(request).await?.into_inner();
    Ok(outcome.expect("an outcome"))
}

async fn sign_in_with_google(app: &TestApp) -> Result<Outcome, tonic::Status> {
    let returned = visit_provider(app, "google", None).await;
    finish(app, &returned, None).await
}

fn signed_in(outcome: Outcome) -> IdentitySignedIn {
    match outcome {
        Outcome::SignedIn(signed_in) => signed_in,
        _ => panic!("expected a sign-in"),
    }
}

fn link_required(outcome: Outcome) -> IdentityLinkRequired {
    match outcome {
        Outcome::LinkRequired(link) => link,
        _ => panic!("expected a request for the password"),
    }
}

async fn methods(app: &TestApp, token: &str) -> ListSignInMethodsResponse {
    app.auth().list_sign_in_methods(authed(ListSignInMethodsRequest {}, token)).await.unwrap().into_inner()
}

async fn register(app: &TestApp, email: &str) -> (String, String) {
    let response = app
        .auth()
        .register(RegisterRequest {
            email: email.into(),
            password: PASSWORD.into(),
            display_name: "Ann".into(),
            language_code: String::new(),
        })
        .await
        .expect("registration succeeds")
        .into_inner();
    (response.user.unwrap().id, response.session.unwrap().token)
}

async fn a_newcomer_signs_in_and_comes_back_to_the_same_account(backend: Backend) {
    let Some((app, fake)) = app_with_google(backend).await else { return };
    let providers = app.auth().list_identity_providers(ListIdentityProvidersRequest {}).await.unwrap().into_inner();
    let shown: Vec<_> = providers.identity_providers.iter().map(|p| (p.id.as_str(), p.display_name.as_str())).collect();
    assert_eq!(shown, [("google", "Google"), ("work", "Work SSO")]);

    let email = unique_email("alice");
    fake.set_person(person(&email));
    let returned = visit_provider(&app, "google", None).await;
    let asked = &fake.requests_to("/authorize")[0];
    assert_eq!(asked.param("code_challenge_method"), Some("S256"));
    assert!(asked.param("code_challenge").is_some_and(|c| c.len() == 43) && asked.param("nonce").is_some());
    assert!(asked.param("scope").is_some_and(|scope| scope.contains("openid") && scope.contains("email")));

    let first = signed_in(finish(&app, &returned, None).await.expect("signed in"));
    assert!(first.created);
    let user = first.user.unwrap();
    assert_eq!(
        (user.email.as_str(), user.display_name.as_str(), user.language_code.as_str()),
        (email.as_str(), "Alice Example", "ru")
    );
    let token = first.session.unwrap().token;
    let current = app.auth().get_current_user(authed(GetCurrentUserRequest {}, &token)).await.unwrap().into_inner();
    assert_eq!(current.user.unwrap().id, user.id);
    // The code went back with the verifier whose challenge went out.
    let exchange = &fake.requests_to("/token")[0];
    assert!(exchange.param("code_verifier").is_some_and(|v| v.len() >= 43));

    let listed = methods(&app, &token).await;
    assert!(!listed.has_password, "an account made by Google has no password");
    assert_eq!(listed.identities.len(), 1);
    assert_eq!(
        (listed.identities[0].provider_id.as_str(), listed.identities[0].provider_display_name.as_str()),
        ("google", "Google")
    );
    // ...so no password signs it in.
    let login = app.auth().login(LoginRequest { email: email.clone(), password: String::new() }).await.unwrap_err();
    assert_eq!(login.code(), Code::Unauthenticated);

    let again = signed_in(sign_in_with_google(&app).await.expect("signed in again"));
    assert!(!again.created);
    assert_eq!(again.user.unwrap().id, user.id);
    assert_ne!(again.session.unwrap().token, token, "a new session each time");
}

async fn an_identity_is_its_subject_not_its_email(backend: Backend) {
    let Some((app, fake)) = app_with_google(backend).await else { return };
    let mut alice = person(&unique_email("alice"));
    fake.set_person(alice.clone());
    let first = signed_in(sign_in_with_google(&app).await.unwrap()).user.unwrap();

    // She changes her address at Google: still her account.
    alice.email = unique_email("alice.new");
    fake.set_person(alice.clone());
    let renamed = signed_in(sign_in_with_google(&app).await.unwrap());
    assert_eq!(renamed.user.unwrap().id, first.id);
    let listed = methods(&app, &renamed.session.unwrap().token).await;
    assert_eq!(listed.identities[0].email, alice.email, "the address it came with last");

    // Someone else at Google with her account's address is not let in: the account's owner
    // must prove it, and an account made by Google has no password to prove.
    fake.set_person(person(&first.email));
    let link = link_required(sign_in_with_google(&app).await.unwrap());
    assert_eq!(link.email, first.email);
    let refused = app
        .auth()
        .link_identity_with_password(LinkIdentityWithPasswordRequest {
            link_token: link.link_token,
            password: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::Unauthenticated);
}

async fn a_password_account_is_linked_only_once_its_password_is_given(backend: Backend) {
    let Some((app, fake)) = app_with_google(backend).await else { return };
    let email = unique_email("ann");
    let (user_id, password_session) = register(&app, &email).await;
    fake.set_person(person(&email.to_uppercase()));

    let link = link_required(sign_in_with_google(&app).await.expect("asks for the password"));
    assert_eq!((link.email.as_str(), link.provider_display_name.as_str()), (email.as_str(), "Google"));
    assert!(methods(&app, &password_session).await.identities.is_empty(), "nothing linked silently");

    let wrong =
        LinkIdentityWithPasswordRequest { link_token: link.link_token.clone(), password: "not the password".into() };
    assert_eq!(app.auth().link_identity_with_password(wrong).await.unwrap_err().code(), Code::Unauthenticated);
    assert!(methods(&app, &password_session).await.identities.is_empty());
    // A link token is no bearer token.
    let as_bearer = app.auth().get_current_user(authed(GetCurrentUserRequest {}, &link.link_token)).await.unwrap_err();
    assert_eq!(as_bearer.code(), Code::Unauthenticated);

    let right = LinkIdentityWithPasswordRequest { link_token: link.link_token.clone(), password: PASSWORD.into() };
    let linked = app.auth().link_identity_with_password(right.clone()).await.expect("linked").into_inner();
    assert_eq!(linked.user.unwrap().id, user_id);
    let LinkedIdentity { provider_id, email: linked_email, .. } = linked.linked.unwrap();
    assert_eq!((provider_id.as_str(), linked_email.as_str()), ("google", email.as_str()));
    let listed = methods(&app, &linked.session.unwrap().token).await;
    assert!(listed.has_password);
    assert_eq!(listed.identities.len(), 1);
    let spent = app.auth().link_identity_with_password(right).await.unwrap_err();
    assert_eq!(spent.code(), Code::FailedPrecondition, "{}", spent.message());

    let next = signed_in(sign_in_with_google(&app).await.expect("straight in now"));
    assert_eq!((next.user.unwrap().id, next.created), (user_id, false));
}

async fn a_state_is_spent_by_its_first_use_and_bound_to_its_provider(backend: Backend) {
    let Some((app, fake)) = app_with_google(backend).await else { return };
    fake.set_person(person(&unique_email("alice")));
    let returned = visit_provider(&app, "google", None).await;
    signed_in(finish(&app, &returned, None).await.expect("the first use signs in"));
    let replay = finish(&app, &returned, None).await.unwrap_err();
    assert_eq!(replay.code(), Code::FailedPrecondition);
    assert!(replay.message().contains("already used"), "{}", replay.message());

    let unknown = Returned(HashMap::from([("state".into(), "made-up".into()), ("code".into(), "c".into())]));
    assert_eq!(finish(&app, &unknown, None).await.unwrap_err().code(), Code::FailedPrecondition);

    // A sign-in begun with one provider cannot be finished as another's (a mix-up).
    let tokens_before = fake.requests_to("/token").len();
    let returned = visit_provider(&app, "google", None).await;
    let mixed = app.auth().finish_identity_sign_in(returned.finish("work")).await.unwrap_err();
    assert_eq!(mixed.code(), Code::FailedPrecondition);
    assert!(mixed.message().contains("another provider"), "{}", mixed.message());
    assert_eq!(fake.requests_to("/token").len(), tokens_before, "the code was never redeemed");
    assert_eq!(finish(&app, &returned, None).await.unwrap_err().code(), Code::FailedPrecondition, "and it is spent");

    let unknown_provider = BeginIdentitySignInRequest { provider_id: "facebook".into(), link: false };
    assert_eq!(app.auth().begin_identity_sign_in(unknown_provider).await.unwrap_err().code(), Code::NotFound);
}

async fn every_refusal_signs_nobody_in_and_creates_nothing(backend: Backend) {
    let Some((app, fake)) = app_with_google(backend).await else { return };
    let email = unique_email("mallory");
    fake.set_person(person(&email));
    let expect = |result: Result<Outcome, tonic::Status>, code: Code, words: &str| {
        let status = result.err().unwrap_or_else(|| panic!("refused with {words:?}"));
        assert_eq!(status.code(), code, "{}", status.message());
        assert!(status.message().contains(words), "{:?} lacks {words:?}", status.message());
    };

    fake.deny_consent();
    expect(sign_in_with_google(&app).await, Code::FailedPrecondition, "did not allow Google");

    fake.set_person(Person { email_verified: false, ..person(&email) });
    expect(sign_in_with_google(&app).await, Code::FailedPrecondition, "not verified");

    fake.set_person(person(&email));
    for forgery in
        [Forgery::WrongSignature, Forgery::WrongAudience, Forgery::WrongNonce, Forgery::WrongIssuer, Forgery::Expired]
    {
        fake.forge_next_id_token(forgery);
        expect(sign_in_with_google(&app).await, Code::PermissionDenied, "failed a check");
    }

    let returned = visit_provider(&app, "google", None).await;
    fake.expire_codes();
    expect(finish(&app, &returned, None).await, Code::PermissionDenied, "refused the sign-in");

    fake.fail_token_endpoint(Some(reqwest::StatusCode::INTERNAL_SERVER_ERROR));
    expect(sign_in_with_google(&app).await, Code::Unavailable, "try again");
    fake.fail_token_endpoint(None);

    // The provider goes away between the start and the end of a sign-in, then altogether.
    let returned = visit_provider(&app, "google", None).await;
    drop(fake);
    expect(finish(&app, &returned, None).await, Code::Unavailable, "cannot be reached");
    let app = app.restart().await; // forgets the discovery document read before
    let begin = BeginIdentitySignInRequest { provider_id: "google".into(), link: false };
    let unreachable = app.auth().begin_identity_sign_in(begin).await.unwrap_err();
    assert_eq!(unreachable.code(), Code::Unavailable);
    assert!(unreachable.message().contains("email and password"), "{}", unreachable.message());

    // None of it made an account: the address is free.
    register(&app, &email).await;
}

async fn identities_are_linked_from_the_profile_and_the_last_method_stays(backend: Backend) {
    let Some((app, fake)) = app_with_google(backend).await else { return };
    let (ann, ann_session) = register(&app, &unique_email("ann")).await;
    let (_, bob_session) = register(&app, &unique_email("bob")).await;
    // Ann's Google account has another address: linking from her profile does not mind.
    let anns_google = person(&unique_email("ann.private"));
    fake.set_person(anns_google.clone());

    let without_session = BeginIdentitySignInRequest { provider_id: "google".into(), link: true };
    assert_eq!(app.auth().begin_identity_sign_in(without_session).await.unwrap_err().code(), Code::Unauthenticated);

    // A link begun by Ann cannot be finished by Bob's session, nor by nobody's.
    let returned = visit_provider(&app, "google", Some(&ann_session)).await;
    let by_bob = finish(&app, &returned, Some(&bob_session)).await.unwrap_err();
    assert_eq!(by_bob.code(), Code::FailedPrecondition, "{}", by_bob.message());
    let returned = visit_provider(&app, "google", Some(&ann_session)).await;
    assert_eq!(finish(&app, &returned, None).await.unwrap_err().code(), Code::FailedPrecondition);
    assert!(methods(&app, &ann_session).await.identities.is_empty());

    let returned = visit_provider(&app, "google", Some(&ann_session)).await;
    let Outcome::Linked(linked) = finish(&app, &returned, Some(&ann_session)).await.expect("linked") else {
        panic!("expected a link");
    };
    assert_eq!(linked.email, anns_google.email);
    let signed = signed_in(sign_in_with_google(&app).await.unwrap());
    assert_eq!(signed.user.unwrap().id, ann, "her Google account now signs her in");

    // The same Google account cannot also be Bob's.
    let returned = visit_provider(&app, "google", Some(&bob_session)).await;
    let taken = finish(&app, &returned, Some(&bob_session)).await.unwrap_err();
    assert_eq!(taken.code(), Code::FailedPrecondition);
    assert!(taken.message().contains("another account"), "{}", taken.message());

    // Bob cannot see or remove Ann's link; Ann, who has a password, can.
    let unlink = |id: &str, token: &str| authed(UnlinkIdentityRequest { id: id.into() }, token);
    assert_eq!(app.auth().unlink_identity(unlink(&linked.id, &bob_session)).await.unwrap_err().code(), Code::NotFound);
    app.auth().unlink_identity(unlink(&linked.id, &ann_session)).await.expect("unlinked");
    assert!(methods(&app, &ann_session).await.identities.is_empty());

    // An account made by Google keeps its only way in until it has another.
    fake.set_person(person(&unique_email("carol")));
    let carol = signed_in(sign_in_with_google(&app).await.unwrap());
    let carol_session = carol.session.unwrap().token;
    let only = methods(&app, &carol_session).await.identities.remove(0);
    let refused = app.auth().unlink_identity(unlink(&only.id, &carol_session)).await.unwrap_err();
    assert_eq!(refused.code(), Code::FailedPrecondition);
    assert!(refused.message().contains("only way to sign in"), "{}", refused.message());
    let set_password = ChangePasswordRequest { current_password: String::new(), new_password: PASSWORD.into() };
    app.auth().change_password(authed(set_password, &carol_session)).await.expect("a first password is set");
    assert!(methods(&app, &carol_session).await.has_password);
    app.auth().unlink_identity(unlink(&only.id, &carol_session)).await.expect("unlinked once a password exists");
    let login = LoginRequest { email: carol.user.unwrap().email, password: PASSWORD.into() };
    app.auth().login(login).await.expect("the password signs her in");
}

#[tokio::test]
async fn with_no_provider_configured_there_is_nothing_to_sign_in_with() {
    let Some(app) = spawn_app(Backend::Sqlite).await else { return };
    let providers = app.auth().list_identity_providers(ListIdentityProvidersRequest {}).await.unwrap().into_inner();
    assert!(providers.identity_providers.is_empty());
    let begin = BeginIdentitySignInRequest { provider_id: "google".into(), link: false };
    let status = app.auth().begin_identity_sign_in(begin).await.unwrap_err();
    assert_eq!(status.code(), Code::NotFound);
    assert!(status.message().contains("email and password"), "{}", status.message());
}

async fn closed_registration_refuses_new_identities_and_signs_known_ones_in(backend: Backend) {
    let Some((app, fake)) = app_with_google(backend).await else { return };
    let known = person(&unique_email("known"));
    fake.set_person(known.clone());
    assert!(signed_in(sign_in_with_google(&app).await.expect("signed in")).created);
    let password_account = unique_email("ann");
    register(&app, &password_account).await;
    // The operator closes registration.
    let mut app = app;
    app.config.registration = assistchat_core::config::RegistrationMode::Closed;
    let app = app.restart().await;

    fake.set_person(known);
    let again = signed_in(sign_in_with_google(&app).await.expect("a linked account still signs in"));
    assert!(!again.created);
    // An identity with the email of an existing account is asked for its password, as before.
    fake.set_person(person(&password_account));
    link_required(sign_in_with_google(&app).await.expect("asked for the password"));
    // A newcomer is refused, in words saying what to do, and nothing is made.
    let newcomer = unique_email("newcomer");
    fake.set_person(person(&newcomer));
    let status = sign_in_with_google(&app).await.unwrap_err();
    assert_eq!(status.code(), Code::FailedPrecondition, "{status:?}");
    let message = status.message();
    assert!(message.contains(&newcomer) && message.contains("closed") && message.contains("operator"), "{message}");
    let status = app.auth().login(LoginRequest { email: newcomer, password: PASSWORD.into() }).await.unwrap_err();
    assert_eq!(status.code(), Code::Unauthenticated);
}

async fn sign_in_starts_are_throttled_per_address(backend: Backend) {
    let Some((app, _fake)) = app_with_google(backend).await else { return };
    let begin = |address: &'static str| {
        let mut auth = app.auth();
        async move {
            let mut request = Request::new(BeginIdentitySignInRequest { provider_id: "google".into(), link: false });
            request.metadata_mut().insert("x-forwarded-for", address.parse().unwrap());
            auth.begin_identity_sign_in(request).await.map(drop)
        }
    };
    // Without a trusted proxy every call is the test's own address, whatever it forwards.
    let calls: Vec<_> = (0..60).map(|_| tokio::spawn(begin("203.0.113.7"))).collect();
    let mut begun = 0;
    let mut refused = Vec::new();
    for call in calls {
        match call.await.unwrap() {
            Ok(()) => begun += 1,
            Err(status) => refused.push(status),
        }
    }
    let burst = assistchat_core::auth::identities::SIGN_IN_START_BURST as usize;
    assert!(begun >= 1 && begun <= burst + 1, "{begun} sign-ins begun at once from one address");
    assert_eq!(begun + refused.len(), 60);
    for status in &refused {
        assert_eq!(status.code(), Code::ResourceExhausted, "{status:?}");
        assert!(status.message().contains("try again in"), "{}", status.message());
        let retry = tonic_types::StatusExt::get_error_details(status).retry_info().unwrap().retry_delay.unwrap();
        assert!(retry > std::time::Duration::ZERO);
    }
}
