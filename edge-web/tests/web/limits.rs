//! The web edge's limits as a client on the internet meets them: connections that never finish
//! a request are closed, bodies over their route's limit get 413, and what carries a secret is
//! never cached and, over HTTPS, pinned to HTTPS.

use std::time::Duration;

use assistchat_edge_web::config::SecureCookies;
use assistchat_http::Limits;
use reqwest::{StatusCode, header};
use serde_json::json;
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
};

use crate::helpers::{TestWeb, uuid};

/// Far longer than any limit under test: a server that never closes fails the test, not hangs it.
const BOUND: Duration = Duration::from_secs(10);

/// Limits with a header timeout short enough for a test.
fn quick() -> Limits {
    Limits { header_read_timeout: Duration::from_millis(300), ..Limits::default() }
}

/// Reads until the server closes the connection (end of file or a reset), within [`BOUND`];
/// returns what it sent first.
pub async fn read_until_closed(stream: &mut TcpStream) -> Vec<u8> {
    let mut received = Vec::new();
    let closed = tokio::time::timeout(BOUND, async {
        let mut buffer = [0u8; 1024];
        loop {
            match stream.read(&mut buffer).await {
                Ok(0) | Err(_) => return,
                Ok(read) => received.extend_from_slice(&buffer[..read]),
            }
        }
    })
    .await;
    assert!(closed.is_ok(), "the server kept the connection open for {BOUND:?}");
    received
}

#[tokio::test]
async fn a_connection_that_never_finishes_its_headers_is_closed() {
    let web = TestWeb::start_web_with(|_| {}, quick(), |_| {}).await;
    let mut stream = TcpStream::connect(web.addr).await.unwrap();
    stream.write_all(b"GET /login HTTP/1.1\r\nHost: localhost\r\nX-Slow: ").await.unwrap();
    let answered = read_until_closed(&mut stream).await;
    assert!(!answered.starts_with(b"HTTP/1.1 200"), "no page for a request never finished");

    // Silent from the start: closed too, though nothing tells HTTP/1 from HTTP/2 yet.
    let mut silent = TcpStream::connect(web.addr).await.unwrap();
    read_until_closed(&mut silent).await;

    // A request that does finish its headers is served as ever on the same server.
    let page = reqwest::get(web.url("/login")).await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
}

#[tokio::test]
async fn an_idle_keep_alive_connection_is_closed_after_the_header_timeout() {
    let web = TestWeb::start_web_with(|_| {}, quick(), |_| {}).await;
    let mut stream = TcpStream::connect(web.addr).await.unwrap();
    stream.write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n").await.unwrap();
    // The answer comes, then the connection waits for a next request that never comes.
    let answered = read_until_closed(&mut stream).await;
    assert!(answered.starts_with(b"HTTP/1.1 200"), "{}", String::from_utf8_lossy(&answered));
}

#[tokio::test]
async fn a_body_over_the_limit_gets_413_on_ordinary_routes_and_the_qr_form_keeps_its_larger_limit() {
    let web = TestWeb::start().await;
    let client = web.browser();
    let huge = "x".repeat(assistchat_edge_web::MAX_BODY_BYTES + 1);

    let api = client.post(web.url("/api/auth/login")).json(&json!({"email": "a@example.com", "password": huge}));
    let api = api.send().await.unwrap();
    assert_eq!(api.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let body: serde_json::Value = api.json().await.unwrap();
    assert_eq!(body["error"]["code"], "payload_too_large", "{body}");
    assert!(body["error"]["message"].as_str().unwrap().contains("send a smaller one"), "{body}");

    let form = client.post(web.url("/login")).form(&[("email", "a@example.com"), ("password", huge.as_str())]);
    assert_eq!(form.send().await.unwrap().status(), StatusCode::PAYLOAD_TOO_LARGE);

    // A logo of a MiB is over the ordinary limit but within the QR form's: it is read, and
    // refused for what it is (not an image), not for its size.
    let logo = reqwest::multipart::Part::bytes(vec![7u8; 1024 * 1024]).file_name("logo.png");
    let qr = reqwest::multipart::Form::new().text("data", "https://example.com").part("logo", logo);
    let qr = client.post(web.url("/api/qr/build")).multipart(qr).send().await.unwrap();
    assert_eq!(qr.status(), StatusCode::BAD_REQUEST, "{}", qr.text().await.unwrap());
}

#[tokio::test]
async fn what_carries_a_token_is_never_cached_and_static_files_still_are() {
    let web = TestWeb::start().await;
    let client = web.browser();
    let no_store = |response: &reqwest::Response, what: &str| {
        let cache = response.headers().get(header::CACHE_CONTROL).map(|v| v.to_str().unwrap().to_owned());
        assert_eq!(cache.as_deref(), Some("no-store"), "{what}");
    };
    let body = json!({"email": format!("c.{}@example.com", uuid()), "password": "a long enough passphrase", "display_name": "C"});
    let registered = client.post(web.url("/api/auth/register")).json(&body).send().await.unwrap();
    assert_eq!(registered.status(), StatusCode::CREATED);
    no_store(&registered, "the registration answer, with the session and CSRF tokens");
    let csrf = registered.json::<serde_json::Value>().await.unwrap()["csrf_token"].as_str().unwrap().to_owned();

    let created =
        client.post(web.url("/api/profile/tokens")).header("x-csrf-token", &csrf).json(&json!({"name": "cron"}));
    let created = created.send().await.unwrap();
    assert!(created.status().is_success(), "{}", created.status());
    no_store(&created, "a new API token");
    let login = client
        .post(web.url("/api/auth/login"))
        .json(&json!({"email": body["email"], "password": "a long enough passphrase"}))
        .send()
        .await
        .unwrap();
    no_store(&login, "the login answer");
    for path in ["/profile", "/api/profile", "/api/profile/tokens", "/login", "/"] {
        let response = client.get(web.url(path)).send().await.unwrap();
        no_store(&response, path);
    }
    let stylesheet = client.get(web.url("/static/app.css")).send().await.unwrap();
    assert_eq!(stylesheet.status(), StatusCode::OK);
    let cache = stylesheet.headers()[header::CACHE_CONTROL].to_str().unwrap();
    assert!(cache.starts_with("public"), "static files keep their own caching: {cache}");
}

#[tokio::test]
async fn hsts_is_sent_over_https_only() {
    let web = TestWeb::start().await;
    let client = web.browser();
    let plain = client.get(web.url("/login")).send().await.unwrap();
    assert!(plain.headers().get(header::STRICT_TRANSPORT_SECURITY).is_none(), "no HSTS over plain HTTP");
    let proxied = client.get(web.url("/login")).header("x-forwarded-proto", "https").send().await.unwrap();
    assert_eq!(proxied.headers()[header::STRICT_TRANSPORT_SECURITY], "max-age=31536000; includeSubDomains");

    let always =
        TestWeb::start_web_with(|config| config.secure_cookies = SecureCookies::Always, Limits::default(), |_| {})
            .await;
    let response = always.browser().get(always.url("/api/profile")).send().await.unwrap();
    assert_eq!(response.headers()[header::STRICT_TRANSPORT_SECURITY], "max-age=31536000; includeSubDomains");
}
