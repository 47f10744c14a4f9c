//! Liveness and readiness: `/healthz` answers while the process serves, `/readyz` only while
//! core answers too, with why not in plain words.

use reqwest::{StatusCode, header};

use crate::helpers::TestWeb;

#[tokio::test]
async fn readyz_is_200_while_core_answers() {
    let web = TestWeb::start().await;
    let ready = web.browser().get(web.url("/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), StatusCode::OK);
    assert_eq!(ready.text().await.unwrap(), "ready");
    assert_eq!(web.browser().get(web.url("/healthz")).send().await.unwrap().status(), StatusCode::OK);
}

#[tokio::test]
async fn readyz_is_503_with_the_reason_while_core_is_down_and_healthz_stays_200() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let alone = TestWeb::web_only(&format!("http://{closed}")).await;
    let started = std::time::Instant::now();
    let not_ready = alone.browser().get(alone.url("/readyz")).send().await.unwrap();
    assert!(started.elapsed() < std::time::Duration::from_secs(5), "answered within the probe's timeout");
    assert_eq!(not_ready.status(), StatusCode::SERVICE_UNAVAILABLE);
    let content_type = not_ready.headers()[header::CONTENT_TYPE].to_str().unwrap().to_owned();
    assert!(content_type.starts_with("text/plain"), "{content_type}");
    let reason = not_ready.text().await.unwrap();
    assert!(reason.starts_with("core does not answer"), "{reason}");
    // Liveness is the process's own: it serves, so it lives.
    assert_eq!(alone.browser().get(alone.url("/healthz")).send().await.unwrap().status(), StatusCode::OK);
}
