//! Round trips to a real core over loopback gRPC, on a fresh SQLite database.
//!
//! `cargo bench -p assistchat-core --bench rpc`. Set `ASSISTCHAT_BENCH_DATABASE_URL` to a
//! PostgreSQL database (it must be empty) to measure that backend instead.

use std::time::{Duration, Instant};

use assistchat_core::{Application, Config};
use assistchat_proto::v1::{
    GetCurrentUserRequest, GetProfileRequest, LoginRequest, auth_service_client::AuthServiceClient,
    profile_service_client::ProfileServiceClient,
};
use assistchat_test_support::{Owner, PASSWORD, authed};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use tonic::transport::Channel;

/// Calls in flight at once in the throughput run.
const CONCURRENCY: usize = 32;
/// Calls per throughput iteration.
const CALLS: u64 = 2_000;

fn benches(c: &mut Criterion) {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (channel, token, email) = runtime.block_on(async {
        let mut config = Config::with_defaults(dir.path().to_path_buf());
        // Titles by the model would add calls the fake model counts; the tests of titles turn them on.
        config.model_titles = false;
        config.database_url = std::env::var("ASSISTCHAT_BENCH_DATABASE_URL").ok();
        let app = Application::build(config).await.unwrap();
        let addr = app.local_addr();
        tokio::spawn(app.run_until_stopped(std::future::pending()));
        let channel = Channel::from_shared(format!("http://{addr}")).unwrap().connect().await.unwrap();
        let email = format!("bench.{}@example.com", uuid::Uuid::new_v4().simple());
        let owner = Owner::sign_up(channel.clone(), &email).await;
        (channel, owner.session, email)
    });

    let mut group = c.benchmark_group("rpc");
    group.bench_function("get_current_user", |b| {
        b.to_async(&runtime).iter(|| {
            let mut auth = AuthServiceClient::new(channel.clone());
            let request = authed(GetCurrentUserRequest {}, &token);
            async move { auth.get_current_user(request).await.unwrap() }
        })
    });
    group.bench_function("get_profile", |b| {
        b.to_async(&runtime).iter(|| {
            let mut profile = ProfileServiceClient::new(channel.clone());
            let request = authed(GetProfileRequest {}, &token);
            async move { profile.get_profile(request).await.unwrap() }
        })
    });
    group.sample_size(20).measurement_time(Duration::from_secs(10));
    group.bench_function("login_argon2id", |b| {
        b.to_async(&runtime).iter(|| {
            let mut auth = AuthServiceClient::new(channel.clone());
            let request = LoginRequest { email: email.clone(), password: PASSWORD.into() };
            async move { auth.login(request).await.unwrap() }
        })
    });
    group.finish();

    // A wrong password and an unknown email must cost the same (no account enumeration by
    // timing). Measured on the hasher, since over gRPC the address throttle would answer early.
    let hasher = assistchat_core::crypto::passwords::PasswordHasher::new().unwrap();
    let stored = runtime.block_on(hasher.hash(PASSWORD)).unwrap();
    let mut group = c.benchmark_group("password");
    group.sample_size(20).measurement_time(Duration::from_secs(10));
    group.bench_function("verify_wrong_password", |b| {
        b.to_async(&runtime)
            .iter(|| async { assert!(!hasher.verify("wrong passphrase", Some(&stored)).await.unwrap()) })
    });
    group.bench_function("verify_unknown_account", |b| {
        b.to_async(&runtime).iter(|| async { assert!(!hasher.verify("wrong passphrase", None).await.unwrap()) })
    });
    group.finish();

    let mut group = c.benchmark_group("throughput");
    group.throughput(Throughput::Elements(CALLS)).sample_size(10);
    group.bench_function(format!("get_current_user_x{CONCURRENCY}"), |b| {
        b.to_async(&runtime).iter_custom(|iterations| {
            let (channel, token) = (channel.clone(), token.clone());
            async move {
                let start = Instant::now();
                for _ in 0..iterations {
                    let tasks: Vec<_> = (0..CONCURRENCY)
                        .map(|worker| {
                            let mut auth = AuthServiceClient::new(channel.clone());
                            let token = token.clone();
                            let calls =
                                CALLS / CONCURRENCY as u64 + u64::from((worker as u64) < CALLS % CONCURRENCY as u64);
                            tokio::spawn(async move {
                                for _ in 0..calls {
                                    auth.get_current_user(authed(GetCurrentUserRequest {}, &token)).await.unwrap();
                                }
                            })
                        })
                        .collect();
                    for task in tasks {
                        task.await.unwrap();
                    }
                }
                start.elapsed()
            }
        })
    });
    group.finish();
}

criterion_group!(rpc, benches);
criterion_main!(rpc);
