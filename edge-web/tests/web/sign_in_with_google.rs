//! "Sign in with Google": a real core and web edge in front of a fake OpenID Connect provider,
//! with a cookie-keeping client playing the browser and the test playing the person at Google.
//! Newcomers, returning people, every way a sign-in can fail (each ending signed out with a
//! message), linking to an existing password account, the profile's sign-in methods, and a real
//! browser clicking the button.

use assistchat_core::config::RegistrationMode;
use assistchat_fakes::oidc::{FakeOidc, Forgery, Person};
use reqwest::{Client, Response, StatusCode, header};

use crate::{
    browser::{Browser, run},
    helpers::{TestWeb, free_port},
};

const CLIENT_ID: &str = "assistchat-web.apps.example.com";
const CLIENT_SECRET: &str = "google-client-secret-9911";
const PASSWORD: &str = "a long enough passphrase";

/// The platform with "Sign in with Google" pointing at a fake Google.
struct Platform {
    web: TestWeb,
    google: FakeOidc,
}

impl Platform {
    /// Core configured with the fake as Google, and the web edge on the public address core
    /// sends Google's visitors back to.
    async fn start() -> Self {
        Self::start_with(|_| {}).await
    }

    /// [`Platform::start`] with core's configuration further changed by `configure`.
    async fn start_with(configure: impl FnOnce(&mut assistchat_core::Config)) -> Self {
        let port = free_port();
        let public_url = format!("http://127.0.0.1:{port}");
        let redirect_uri = format!("{public_url}/auth/google/callback");
        let google = FakeOidc::start_with_client(CLIENT_ID, CLIENT_SECRET, &redirect_uri).await;
        let issuer = google.issuer();
        let web = TestWeb::start_on(&format!("127.0.0.1:{port}"), |config| {
            config.public_url = public_url;
            config.google_client_id = Some(CLIENT_ID.into());
            config.google_client_secret = Some(CLIENT_SECRET.into());
            config.google_issuer_url = issuer;
            configure(config);
        })
        .await;
        Self { web, google }
    }

    /// Follows "Sign in with Google" from `client` to the provider and back: the address the
    /// provider sends the browser back to, not yet visited.
    async fn callback_url(&self, client: &Client, start: Response) -> String {
        assert_eq!(start.status(), StatusCode::SEE_OTHER, "{}", start.text().await.unwrap());
        let state_cookie = set_cookie(&start, "assistchat_sign_in=").expect("the sign-in state is kept in a cookie");
        for attribute in ["HttpOnly", "SameSite=Lax", "Path=/auth", "Max-Age=600"] {
            assert!(state_cookie.contains(attribute), "{attribute} missing: {state_cookie}");
        }
        assert!(!state_cookie.contains("Secure"), "plain HTTP: {state_cookie}");
        let authorize = location(&start);
        assert!(authorize.starts_with(&format!("{}/authorize?", self.google.issuer())), "{authorize}");
        let back = client.get(&authorize).send().await.unwrap();
        assert_eq!(back.status(), StatusCode::FOUND, "{}", back.text().await.unwrap());
        let callback = location(&back);
        assert!(callback.starts_with(&self.web.url("/auth/google/callback?")), "{callback}");
        callback
    }

    /// "Sign in with Google" clicked in `client`, up to the page the browser is sent back to.
    async fn sign_in(&self, client: &Client) -> Response {
        let start = client.get(self.web.url("/auth/google")).send().await.unwrap();
        let callback = self.callback_url(client, start).await;
        client.get(callback).send().await.unwrap()
    }

    /// Signs in with Google in a new client that must land on the dashboard, signed in.
    async fn signed_in_client(&self) -> Client {
        let client = self.web.browser();
        let landed = self.sign_in(&client).await;
        assert_signed_in(&landed);
        client
    }

    /// The account `client` is signed in to: its id and name.
    async fn account(&self, client: &Client) -> (String, String) {
        let profile = client.get(self.web.url("/api/profile")).send().await.unwrap();
        assert_eq!(profile.status(), StatusCode::OK);
        let profile: serde_json::Value = profile.json().await.unwrap();
        (profile["user_id"].as_str().unwrap().to_owned(), profile["display_name"].as_str().unwrap().to_owned())
    }

    /// A page's HTML as `client` sees it.
    async fn page(&self, client: &Client, path: &str) -> String {
        let response = client.get(self.web.url(path)).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{path}");
        response.text().await.unwrap()
    }

    /// Registers a password account with the form, signed in in `client`.
    async fn register(&self, client: &Client, name: &str, email: &str) {
        let form = [("display_name", name), ("email", email), ("password", PASSWORD)];
        let registered = client.post(self.web.url("/register")).form(&form).send().await.unwrap();
        assert_eq!(registered.status(), StatusCode::SEE_OTHER, "{}", registered.text().await.unwrap());
    }

    /// Whether `client` is signed in, as the profile page answers.
    async fn is_signed_in(&self, client: &Client) -> bool {
        let profile = client.get(self.web.url("/profile")).send().await.unwrap();
        match profile.status() {
            StatusCode::OK => true,
            StatusCode::SEE_OTHER => false,
            other => panic!("the profile answered {other}"),
        }
    }

    /// How many times the fake's token endpoint was asked.
    fn token_requests(&self) -> usize {
        self.google.requests_to("/token").len()
    }

    /// Sign `client` out with the form.
    async fn sign_out(&self, client: &Client) {
        let csrf = csrf_in(&self.page(client, "/profile").await);
        let out = client.post(self.web.url("/logout")).form(&[("csrf", csrf.as_str())]).send().await.unwrap();
        assert_eq!(out.status(), StatusCode::SEE_OTHER);
        assert!(!self.is_signed_in(client).await);
    }
}

/// The person at Google, with a verified address.
fn person(subject: &str, email: &str, name: &str) -> Person {
    Person { subject: subject.into(), email: email.into(), email_verified: true, name: name.into() }
}

/// The `Location` of a redirect.
fn location(response: &Response) -> String {
    response.headers()[header::LOCATION].to_str().unwrap().to_owned()
}

/// The first `Set-Cookie` of `response` starting with `prefix`.
fn set_cookie(response: &Response, prefix: &str) -> Option<String> {
    response
        .headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .map(|value| value.to_str().unwrap().to_owned())
        .find(|cookie| cookie.starts_with(prefix))
}

/// The value of the hidden field `name` in a page.
fn field_in(html: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html.find(&marker).unwrap_or_else(|| panic!("no field {name} in {html}")) + marker.len();
    html[start..].split('"').next().unwrap().to_owned()
}

/// The CSRF token of a signed-in page.
fn csrf_in(html: &str) -> String {
    field_in(html, "csrf")
}

/// A response that signs the browser in and sends it to the dashboard.
fn assert_signed_in(response: &Response) {
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(response), "/");
    let session = set_cookie(response, "assistchat_session=").expect("a session cookie");
    assert!(session.starts_with("assistchat_session=acs_") && session.contains("HttpOnly"), "{session}");
}

/// A failed sign-in: the login page with `message`, the given status, no session, and the
/// state cookie removed. Returns the page.
async fn assert_refused(response: Response, status: StatusCode, message: &str) -> String {
    assert_eq!(response.status(), status);
    assert!(set_cookie(&response, "assistchat_session=").is_none(), "no session cookie on a failed sign-in");
    let removed = set_cookie(&response, "assistchat_sign_in=").expect("the state cookie is removed");
    assert!(removed.contains("Max-Age=0") && removed.contains("Path=/auth"), "{removed}");
    let page = response.text().await.unwrap();
    assert!(page.contains("form method=\"post\" action=\"/login\""), "the login page: {page}");
    assert!(page.contains(message), "{message:?} not in {page}");
    page
}

#[tokio::test]
async fn a_newcomer_signs_up_with_google_and_comes_back_to_the_same_account() {
    let platform = Platform::start().await;
    platform.google.set_person(person("google-sub-ann", "ann@example.com", "Ann Newcomer"));
    let client = platform.web.browser();

    for path in ["/login", "/register"] {
        let page = platform.page(&client, path).await;
        assert!(page.contains(r#"href="/auth/google""#) && page.contains("Sign in with Google"), "{page}");
    }
    let russian = client.get(platform.web.url("/login")).header(header::ACCEPT_LANGUAGE, "ru").send().await;
    assert!(russian.unwrap().text().await.unwrap().contains("Войти через Google"));

    // Behind an HTTPS proxy the state cookie is Secure, with the prefix that makes browsers insist.
    let https = platform.web.browser().get(platform.web.url("/auth/google")).header("x-forwarded-proto", "https");
    let https = https.send().await.unwrap();
    assert_eq!(https.status(), StatusCode::SEE_OTHER);
    let secure = set_cookie(&https, "__Secure-assistchat_sign_in=").expect("the secure state cookie");
    assert!(secure.contains("Secure") && secure.contains("HttpOnly") && secure.contains("Path=/auth"), "{secure}");

    let landed = platform.sign_in(&client).await;
    assert_signed_in(&landed);
    let removed = set_cookie(&landed, "assistchat_sign_in=").expect("the state cookie is removed");
    assert!(removed.contains("Max-Age=0"), "{removed}");
    let dashboard = platform.page(&client, "/").await;
    assert!(dashboard.contains("Hello, Ann Newcomer"), "{dashboard}");
    let (id, name) = platform.account(&client).await;
    assert_eq!(name, "Ann Newcomer");
    let token_request = &platform.google.requests_to("/token")[0];
    assert!(token_request.param("code_verifier").is_some(), "PKCE is used");

    // Later, in another browser, the same Google account reaches the same platform account.
    platform.sign_out(&client).await;
    let again = platform.signed_in_client().await;
    assert_eq!(platform.account(&again).await.0, id);
}

#[tokio::test]
async fn with_registration_closed_the_register_page_says_the_providers_still_sign_accounts_in() {
    let closed = |core: &mut assistchat_core::Config| core.registration = RegistrationMode::Closed;
    let platform = Platform::start_with(closed).await;
    let client = platform.web.browser();
    for (lang, words) in [
        ("en", "The sign-in providers below still sign existing accounts in."),
        ("ru", "Кнопки входа ниже по-прежнему открывают уже существующие аккаунты."),
    ] {
        let page = client.get(platform.web.url("/register")).header(header::ACCEPT_LANGUAGE, lang).send().await;
        let page = page.unwrap().text().await.unwrap();
        assert!(page.contains(r#"data-policy="closed""#) && page.contains(words), "{lang}: {page}");
        assert!(page.contains(r#"href="/auth/google""#), "{lang}: the button the words point to: {page}");
        assert!(!page.contains(r#"action="/register""#), "{lang}: no form that cannot work: {page}");
    }
    // What the page says holds: Google makes no account for a newcomer.
    platform.google.set_person(person("google-sub-new", "newcomer@example.com", "New Comer"));
    let refused = platform.sign_in(&client).await;
    let page = assert_refused(refused, StatusCode::BAD_REQUEST, "newcomer@example.com").await;
    assert!(page.contains("closed"), "{page}");
}

#[tokio::test]
async fn without_a_provider_configured_there_is_no_button_and_no_way_in() {
    let web = TestWeb::start().await;
    let client = web.browser();
    let login = client.get(web.url("/login")).send().await.unwrap().text().await.unwrap();
    assert!(!login.contains("/auth/") && !login.contains("Sign in with"), "{login}");
    assert!(login.contains("form method=\"post\" action=\"/login\""));

    let begun = client.get(web.url("/auth/google")).send().await.unwrap();
    assert_eq!(begun.status(), StatusCode::NOT_FOUND);
    assert!(set_cookie(&begun, "assistchat_sign_in=").is_none_or(|cookie| cookie.contains("Max-Age=0")));
    let page = begun.text().await.unwrap();
    assert!(page.contains("Signing in with “google” is not set up on this platform"), "{page}");
    assert!(page.contains("form method=\"post\" action=\"/login\""), "the password form still works");
}

#[tokio::test]
async fn a_refused_consent_ends_signed_out_on_the_login_page() {
    let platform = Platform::start().await;
    platform.google.deny_consent();
    let client = platform.web.browser();
    let back = platform.sign_in(&client).await;
    assert_refused(back, StatusCode::FORBIDDEN, "You did not allow Google to share your account").await;
    assert!(!platform.is_signed_in(&client).await);
    assert_eq!(platform.token_requests(), 0);

    // In Russian too.
    let start =
        client.get(platform.web.url("/auth/google")).header(header::ACCEPT_LANGUAGE, "ru").send().await.unwrap();
    let callback = platform.callback_url(&client, start).await;
    let back = client.get(callback).header(header::ACCEPT_LANGUAGE, "ru").send().await.unwrap();
    assert_refused(back, StatusCode::FORBIDDEN, "Вы не разрешили Google передать нам данные аккаунта").await;
}

#[tokio::test]
async fn a_sign_in_finishes_only_once_and_only_in_the_browser_that_began_it() {
    let platform = Platform::start().await;
    let client = platform.web.browser();
    let start = client.get(platform.web.url("/auth/google")).send().await.unwrap();
    let callback = platform.callback_url(&client, start).await;

    // The same address opened in another browser (no state cookie) is refused before core.
    let other = platform.web.browser();
    let elsewhere = other.get(&callback).send().await.unwrap();
    assert_refused(elsewhere, StatusCode::BAD_REQUEST, "was not started in this browser or has expired").await;
    assert!(!platform.is_signed_in(&other).await);
    assert_eq!(platform.token_requests(), 0);

    // A browser whose cookie holds another sign-in's state is refused too.
    let mixed = platform.web.browser();
    let first = mixed.get(platform.web.url("/auth/google")).send().await.unwrap();
    let first_callback = platform.callback_url(&mixed, first).await;
    let second = mixed.get(platform.web.url("/auth/google")).send().await.unwrap();
    assert_eq!(second.status(), StatusCode::SEE_OTHER);
    let mismatched = mixed.get(&first_callback).send().await.unwrap();
    assert_refused(mismatched, StatusCode::BAD_REQUEST, "was not started in this browser").await;
    assert!(!platform.is_signed_in(&mixed).await);
    assert_eq!(platform.token_requests(), 0);

    // The browser that began it finishes it, once; the same address again is refused: on the
    // profile for the person now signed in there, and on the login page elsewhere.
    assert_signed_in(&client.get(&callback).send().await.unwrap());
    assert_eq!(platform.token_requests(), 1);
    let (id, _) = platform.account(&client).await;
    let again = client.get(&callback).send().await.unwrap();
    assert_eq!(again.status(), StatusCode::BAD_REQUEST);
    assert!(set_cookie(&again, "assistchat_session=").is_none());
    let page = again.text().await.unwrap();
    assert!(page.contains("Sign-in methods") && page.contains("was not started in this browser"), "{page}");
    assert_eq!(platform.account(&client).await.0, id, "still signed in to the same account");
    let fresh = platform.web.browser();
    let replay = fresh.get(&callback).send().await.unwrap();
    assert_refused(replay, StatusCode::BAD_REQUEST, "was not started in this browser").await;
    assert_eq!(platform.token_requests(), 1);
}

#[tokio::test]
async fn a_callback_replayed_with_its_cookie_is_refused_by_core() {
    let platform = Platform::start().await;
    let client = platform.web.browser();
    let start = client.get(platform.web.url("/auth/google")).send().await.unwrap();
    let callback = platform.callback_url(&client, start).await;
    assert_signed_in(&client.get(&callback).send().await.unwrap());

    // Someone who captured both the address and the cookie: the state is spent at core.
    let url = reqwest::Url::parse(&callback).unwrap();
    let state = url.query_pairs().find(|(name, _)| name == "state").unwrap().1.into_owned();
    let replayed =
        platform.web.browser().get(&callback).header(header::COOKIE, format!("assistchat_sign_in=s.{state}"));
    let replayed = replayed.send().await.unwrap();
    let page = assert_refused(replayed, StatusCode::BAD_REQUEST, "Signing in with Google did not finish").await;
    assert!(page.contains("What the platform said:"), "core's words are shown: {page}");
    assert_eq!(platform.token_requests(), 1);
}

#[tokio::test]
async fn an_unverified_email_is_refused() {
    let platform = Platform::start().await;
    platform.google.set_person(Person { email_verified: false, ..person("sub-unverified", "eve@example.com", "Eve") });
    let client = platform.web.browser();
    let back = platform.sign_in(&client).await;
    let page = assert_refused(back, StatusCode::BAD_REQUEST, "Signing in with Google did not finish").await;
    assert!(page.contains("verified"), "core says the email is not verified: {page}");
    assert!(!platform.is_signed_in(&client).await);
}

#[tokio::test]
async fn forged_id_tokens_are_refused() {
    let platform = Platform::start().await;
    for forgery in [Forgery::WrongSignature, Forgery::WrongAudience, Forgery::WrongNonce] {
        platform.google.forge_next_id_token(forgery);
        let client = platform.web.browser();
        let back = platform.sign_in(&client).await;
        let refused = assert_refused(back, StatusCode::FORBIDDEN, "Google did not confirm who you are");
        let page = refused.await;
        assert!(page.contains("What the platform said:"), "{forgery:?}: {page}");
        assert!(!platform.is_signed_in(&client).await, "{forgery:?}");
    }
    assert_eq!(platform.token_requests(), 3, "each forgery came from the token endpoint");
    // Nothing was created: an honest sign-in now makes a new account, once.
    let client = platform.signed_in_client().await;
    assert_eq!(platform.account(&client).await.1, "Alice Example");
}

#[tokio::test]
async fn a_failing_token_endpoint_is_told_and_signs_nobody_in() {
    let platform = Platform::start().await;
    platform.google.fail_token_endpoint(Some(StatusCode::INTERNAL_SERVER_ERROR));
    let client = platform.web.browser();
    let back = platform.sign_in(&client).await;
    assert_refused(back, StatusCode::SERVICE_UNAVAILABLE, "Google is not available right now").await;
    assert_eq!(platform.token_requests(), 1);
    assert!(!platform.is_signed_in(&client).await);
}

#[tokio::test]
async fn an_unreachable_provider_is_told_before_leaving_the_site() {
    let Platform { web, google } = Platform::start().await;
    drop(google);
    let client = web.browser();
    let begun = client.get(web.url("/auth/google")).send().await.unwrap();
    assert_eq!(begun.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(set_cookie(&begun, "assistchat_session=").is_none());
    let page = begun.text().await.unwrap();
    assert!(page.contains("Google is not available right now"), "{page}");
    assert!(page.contains("form method=\"post\" action=\"/login\""));
}

#[tokio::test]
async fn the_login_page_works_without_buttons_when_the_providers_cannot_be_listed() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let alone = TestWeb::web_only(&format!("http://{closed}")).await;
    let login = alone.browser().get(alone.url("/login")).send().await.unwrap();
    assert_eq!(login.status(), StatusCode::OK);
    let page = login.text().await.unwrap();
    assert!(page.contains("form method=\"post\" action=\"/login\"") && !page.contains("/auth/"), "{page}");
}

#[tokio::test]
async fn a_google_account_with_the_email_of_a_password_account_is_linked_with_its_password() {
    let platform = Platform::start().await;
    let owner = platform.web.browser();
    platform.register(&owner, "Alice", "alice@example.com").await;
    let (alice_id, _) = platform.account(&owner).await;

    platform.google.set_person(person("google-sub-alice", "alice@example.com", "Alice at Google"));
    let client = platform.web.browser();
    let asked = platform.sign_in(&client).await;
    assert_eq!(asked.status(), StatusCode::OK);
    assert!(set_cookie(&asked, "assistchat_session=").is_none());
    let page = asked.text().await.unwrap();
    assert!(
        page.contains("An account with alice@example.com already exists. Enter its password to link Google to it"),
        "{page}"
    );
    let link_token = field_in(&page, "link_token");
    assert!(!link_token.is_empty());

    // A wrong password: the form again, token kept, nothing linked, nobody signed in.
    let form = |password: &'static str| {
        [
            ("link_token", link_token.clone()),
            ("email", "alice@example.com".into()),
            ("provider", "Google".into()),
            ("password", password.into()),
        ]
    };
    let wrong = client.post(platform.web.url("/auth/link")).form(&form("not the password")).send().await.unwrap();
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    assert!(set_cookie(&wrong, "assistchat_session=").is_none());
    let page = wrong.text().await.unwrap();
    assert!(page.contains("That is not the password of alice@example.com"), "{page}");
    assert_eq!(field_in(&page, "link_token"), link_token);
    assert!(!platform.is_signed_in(&client).await);
    let owners_profile = platform.page(&owner, "/profile").await;
    assert!(owners_profile.contains("Link Google") && !owners_profile.contains("/unlink"), "not linked yet");

    // The right password: signed in to the same account, which now lists Google.
    let linked = client.post(platform.web.url("/auth/link")).form(&form(PASSWORD)).send().await.unwrap();
    assert_signed_in(&linked);
    assert_eq!(platform.account(&client).await, (alice_id.clone(), "Alice".to_owned()));
    let profile = platform.page(&client, "/profile").await;
    assert!(profile.contains("<strong>Google</strong> — <span class=\"email\">alice@example.com</span>"), "{profile}");

    // The token is spent; the next Google sign-in goes straight in.
    let spent = platform.web.browser().post(platform.web.url("/auth/link")).form(&form(PASSWORD)).send().await.unwrap();
    assert_eq!(spent.status(), StatusCode::BAD_REQUEST);
    assert!(spent.text().await.unwrap().contains("This request to link Google has expired or was already used"));
    let again = platform.signed_in_client().await;
    assert_eq!(platform.account(&again).await.0, alice_id);
}

#[tokio::test]
async fn google_is_linked_from_the_profile_and_unlinked() {
    let platform = Platform::start().await;
    let client = platform.web.browser();
    platform.register(&client, "Bob", "bob@example.com").await;
    let (bob_id, _) = platform.account(&client).await;
    platform.google.set_person(person("google-sub-bob", "bob.personal@gmail.example", "Bob at Google"));

    let profile = platform.page(&client, "/profile").await;
    assert!(profile.contains("Sign-in methods") && profile.contains("Link Google"), "{profile}");
    let csrf = csrf_in(&profile);
    let link = platform.web.url("/profile/identities/google/link");
    let forged = client.post(&link).form(&[("csrf", "forged")]).send().await.unwrap();
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);
    let start = client.post(&link).form(&[("csrf", csrf.as_str())]).send().await.unwrap();
    let callback = platform.callback_url(&client, start).await;
    let linked = client.get(callback).send().await.unwrap();
    assert_eq!(linked.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&linked), "/profile?linked=google");
    let profile = platform.page(&client, "/profile?linked=google").await;
    assert!(profile.contains("Google is linked: you can now sign in with it."), "{profile}");
    assert!(profile.contains("bob.personal@gmail.example") && !profile.contains("Link Google"), "{profile}");

    // Google now signs in to Bob's account, whatever its email.
    let elsewhere = platform.signed_in_client().await;
    assert_eq!(platform.account(&elsewhere).await.0, bob_id);

    // Unlinked, it is offered again, and a Google sign-in makes a new account.
    let unlink = field_action(&profile, "/unlink");
    let csrf = csrf_in(&profile);
    let unlinked = client.post(platform.web.url(&unlink)).form(&[("csrf", csrf.as_str())]).send().await.unwrap();
    assert_eq!(unlinked.status(), StatusCode::SEE_OTHER);
    let profile = platform.page(&client, "/profile").await;
    assert!(profile.contains("Link Google") && !profile.contains("bob.personal@gmail.example"), "{profile}");
    let newcomer = platform.signed_in_client().await;
    assert_ne!(platform.account(&newcomer).await.0, bob_id);
}

#[tokio::test]
async fn a_google_account_linked_to_someone_else_is_not_linked_again() {
    let platform = Platform::start().await;
    platform.google.set_person(person("google-sub-carol", "carol@example.com", "Carol"));
    let carol = platform.signed_in_client().await;
    let (carol_id, _) = platform.account(&carol).await;

    let dave = platform.web.browser();
    platform.register(&dave, "Dave", "dave@example.com").await;
    let csrf = csrf_in(&platform.page(&dave, "/profile").await);
    let start = dave.post(platform.web.url("/profile/identities/google/link")).form(&[("csrf", csrf.as_str())]);
    let callback = platform.callback_url(&dave, start.send().await.unwrap()).await;
    let refused = dave.get(callback).send().await.unwrap();
    assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
    let page = refused.text().await.unwrap();
    assert!(page.contains("Sign-in methods"), "back on the profile: {page}");
    assert!(
        page.contains("Signing in with Google did not finish") && page.contains("What the platform said:"),
        "{page}"
    );
    assert!(page.contains("Link Google"), "still not linked: {page}");
    let again = platform.signed_in_client().await;
    assert_eq!(platform.account(&again).await.0, carol_id);
}

#[tokio::test]
async fn a_google_made_account_sets_a_password_before_it_can_unlink_google() {
    let platform = Platform::start().await;
    platform.google.set_person(person("google-sub-erin", "erin@example.com", "Erin"));
    let client = platform.signed_in_client().await;
    let profile = platform.page(&client, "/profile").await;
    assert!(profile.contains("Set a password") && !profile.contains("name=\"current_password\""), "{profile}");
    assert!(profile.contains("data-set=\"false\""), "{profile}");

    // Google is the only way in: unlinking it is refused, with why.
    let unlink = field_action(&profile, "/unlink");
    let csrf = csrf_in(&profile);
    let refused = client.post(platform.web.url(&unlink)).form(&[("csrf", csrf.as_str())]).send().await.unwrap();
    assert_eq!(refused.status(), StatusCode::CONFLICT);
    let page = refused.text().await.unwrap();
    assert!(page.contains("This is your only way to sign in, so it stays linked"), "{page}");
    assert!(page.contains("What the platform said:"), "{page}");
    assert!(page.contains("erin@example.com"), "still linked: {page}");

    // A first password, without a current one; then the form asks for the current one.
    let set = [("csrf", csrf.as_str()), ("new_password", PASSWORD)];
    let saved = client.post(platform.web.url("/profile/password")).form(&set).send().await.unwrap();
    assert_eq!(saved.status(), StatusCode::SEE_OTHER, "{}", saved.text().await.unwrap());
    let profile = platform.page(&client, "/profile").await;
    assert!(profile.contains("Change password") && profile.contains("name=\"current_password\""), "{profile}");
    assert!(profile.contains("data-set=\"true\""), "{profile}");
    let wrong =
        [("csrf", csrf.as_str()), ("current_password", "not the password"), ("new_password", "another passphrase 2")];
    let refused = client.post(platform.web.url("/profile/password")).form(&wrong).send().await.unwrap();
    assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
    assert!(refused.text().await.unwrap().contains("The current password is not right"));

    // Now Google can go, and the password signs in.
    let unlinked = client.post(platform.web.url(&unlink)).form(&[("csrf", csrf.as_str())]).send().await.unwrap();
    assert_eq!(unlinked.status(), StatusCode::SEE_OTHER);
    let profile = platform.page(&client, "/profile").await;
    assert!(profile.contains("Link Google") && !profile.contains("/unlink"), "{profile}");
    let other = platform.web.browser();
    let login = other.post(platform.web.url("/login")).form(&[("email", "erin@example.com"), ("password", PASSWORD)]);
    assert_eq!(login.send().await.unwrap().status(), StatusCode::SEE_OTHER);
}

/// The `action` of the first form in `html` whose action ends with `suffix`.
fn field_action(html: &str, suffix: &str) -> String {
    html.split("action=\"")
        .skip(1)
        .map(|rest| rest.split('"').next().unwrap())
        .find(|action| action.ends_with(suffix))
        .unwrap_or_else(|| panic!("no form ending with {suffix} in {html}"))
        .to_owned()
}

#[tokio::test]
async fn a_person_clicks_sign_in_with_google_in_a_real_browser() {
    let Some(browser) = Browser::start_with_lang("en").await else { return };
    let platform = Platform::start().await;
    platform.google.set_person(person("google-sub-frank", "frank@example.com", "Frank"));
    let result = run(&browser, "sign_in_with_google", async {
        browser.goto(&platform.web.url("/login")).await?;
        browser.click("a[href='/auth/google']").await?;
        browser.wait_for("form.logout").await?;
        assert_eq!(browser.text("main h1").await?, "Hello, Frank");
        assert_eq!(browser.current_url().await?, platform.web.url("/"));
        Ok(())
    })
    .await;
    browser.close().await;
    result.unwrap();
}
