//! What a sign-in with an OpenID Connect provider costs core: whole sign-ins (BeginIdentitySignIn,
//! the browser's visit to the provider, FinishIdentitySignIn with the code exchange, the ID
//! token's RS256 signature checked, the account looked up and a session made) against the fake
//! provider on loopback. Half the people are new (an account is made), half come back.
//!
//! `cargo run --release -p assistchat-core --example sign_in_load -- [sign-ins] [concurrency]`
//! (defaults 1000, 16); `DATABASE_URL=postgres://...` runs it on PostgreSQL.

use std::{
    collections::HashMap,
    time::{Duration, Instant},
};

use assistchat_core::{Application, Config};
use assistchat_fakes::oidc::{FakeOidc, Person};
use assistchat_proto::v1::{
    BeginIdentitySignInRequest, FinishIdentitySignInRequest, auth_service_client::AuthServiceClient,
    finish_identity_sign_in_response::Outcome,
};
use tonic::transport::Channel;

#[tokio::main]
async fn main() {
    let mut args = std::env::args().skip(1).map(|arg| arg.parse::<usize>().expect("a number"));
    let sign_ins = args.next().unwrap_or(1000);
    let concurrency = args.next().unwrap_or(16);

    let fake = FakeOidc::start().await;
    let data_dir = tempfile::TempDir::new().unwrap();
    let mut config = Config::with_defaults(data_dir.path().into());
    config.database_url = std::env::var("DATABASE_URL").ok();
    config.google_client_id = Some("load-client".into());
    config.google_client_secret = Some("load-secret".into());
    config.google_issuer_url = fake.issuer();
    // Each person comes from an address of their own, as through the web edge: sign-ins begun
    // are throttled per address.
    config.trusted_proxies = vec!["127.0.0.1/32".parse().unwrap()];
    fake.add_client("load-client", "load-secret", &format!("{}/auth/google/callback", config.public_url));
    let core = Application::build(config).await.expect("core starts");
    let url = format!("http://{}", core.local_addr());
    tokio::spawn(core.run_until_stopped(std::future::pending()));
    let channel = Channel::from_shared(url).unwrap().connect().await.unwrap();
    let browser = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();

    // The fake signs one person in at a time, so each task's visit to it and the person set
    // for it happen together; core's part of each sign-in runs side by side.
    let turn = std::sync::Arc::new(tokio::sync::Mutex::new(fake));
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    let per_task = sign_ins / concurrency;
    for task in 0..concurrency {
        let (channel, browser, turn) = (channel.clone(), browser.clone(), turn.clone());
        tasks.spawn(async move {
            let mut auth = AuthServiceClient::new(channel);
            let mut latencies = Vec::new();
            for n in 0..per_task {
                // Every other sign-in is a person seen before.
                let who = task * per_task + n - (n % 2);
                let person = Person {
                    subject: format!("subject-{who}"),
                    email: format!("person{who}@example.com"),
                    email_verified: true,
                    name: format!("Person {who}"),
                };
                let begin = Instant::now();
                let mut begin_request =
                    tonic::Request::new(BeginIdentitySignInRequest { provider_id: "google".into(), link: false });
                let address = format!("10.{}.{}.{}", (who >> 16) & 255, (who >> 8) & 255, who & 255);
                begin_request.metadata_mut().insert("x-forwarded-for", address.parse().unwrap());
                let begun = auth.begin_identity_sign_in(begin_request).await.expect("begins").into_inner();
                let location = {
                    let fake = turn.lock().await;
                    fake.set_person(person);
                    let answer = browser.get(&begun.authorization_url).send().await.expect("the provider answers");
                    answer.headers()["location"].to_str().unwrap().to_owned()
                };
                let query: HashMap<_, _> = reqwest::Url::parse(&location).unwrap().query_pairs().into_owned().collect();
                let finish = FinishIdentitySignInRequest {
                    provider_id: "google".into(),
                    state: query["state"].clone(),
                    code: query["code"].clone(),
                    ..Default::default()
                };
                let outcome = auth.finish_identity_sign_in(finish).await.expect("finishes").into_inner().outcome;
                assert!(matches!(outcome, Some(Outcome::SignedIn(_))), "signed in");
                latencies.push(begin.elapsed());
            }
            latencies
        });
    }
    let mut latencies: Vec<Duration> = tasks.join_all().await.into_iter().flatten().collect();
    let elapsed = started.elapsed();
    latencies.sort();
    let at = |q: f64| latencies[((latencies.len() as f64 * q) as usize).min(latencies.len() - 1)];
    println!(
        "{} sign-ins, {concurrency} at a time: {:.2} s, {:.0} sign-ins/s, p50 {:.1} ms, p99 {:.1} ms",
        latencies.len(),
        elapsed.as_secs_f64(),
        latencies.len() as f64 / elapsed.as_secs_f64(),
        at(0.5).as_secs_f64() * 1000.0,
        at(0.99).as_secs_f64() * 1000.0,
    );
}
