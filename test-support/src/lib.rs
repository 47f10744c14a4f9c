//! What the tests, examples and benches of every crate repeat against a running core: a
//! request with a bearer token, waiting for something to become true with the reason in the
//! failure, an account that signs up, switches its bot on, connects resources and waits for
//! their states, the test provider's description and the core set-up its edges need
//! ([`test_provider`]), which the test edges on the raw proto and on the edge client both use,
//! and what the load runs share ([`load`]).

pub mod load;
pub mod test_provider;

use std::{fmt::Debug, future::Future, time::Duration};

use assistchat_proto::v1::{
    BotStatus, CreateResourceRequest, GetBotStatusRequest, GetResourceRequest, RegisterRequest, RegisterResponse,
    Resource, ResourceState, StartBotRequest, auth_service_client::AuthServiceClient,
    bot_service_client::BotServiceClient, resource_service_client::ResourceServiceClient,
};
use tonic::{Request, transport::Channel};

/// How long [`eventually`] waits: far longer than anything under test takes, so that a slow
/// machine does not fail a test, while a broken feature still fails it.
pub const PATIENCE: Duration = Duration::from_secs(20);

/// How often [`eventually`] looks again.
const EVERY: Duration = Duration::from_millis(25);

/// The password every test account signs up with.
pub const PASSWORD: &str = "a long enough passphrase";

/// `message` as a request carrying `token` as its bearer credential.
pub fn authed<T>(message: T, token: &str) -> Request<T> {
    let mut request = Request::new(message);
    request.metadata_mut().insert("authorization", format!("Bearer {token}").parse().expect("a token is ASCII"));
    request
}

/// Runs `check` until it answers `Ok`, within [`PATIENCE`]; fails saying `what` did not happen
/// and the last thing `check` saw.
pub async fn eventually<T, Seen, F, Fut>(what: &str, check: F) -> T
where
    Seen: Debug,
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, Seen>>,
{
    eventually_within(PATIENCE, what, check).await
}

/// [`eventually`] with its own patience.
pub async fn eventually_within<T, Seen, F, Fut>(within: Duration, what: &str, check: F) -> T
where
    Seen: Debug,
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, Seen>>,
{
    poll(within, EVERY, check)
        .await
        .unwrap_or_else(|seen| panic!("{what} did not happen within {within:?}; last seen: {seen:?}"))
}

/// Runs `check` every `every` until it answers `Ok`, for at most `within`; when it never does,
/// the last thing it saw. For a caller that reports a time out itself (a load run, say) rather
/// than failing as [`eventually`] does.
pub async fn poll<T, Seen, F, Fut>(within: Duration, every: Duration, mut check: F) -> Result<T, Seen>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, Seen>>,
{
    let end = tokio::time::Instant::now() + within;
    loop {
        match check().await {
            Ok(done) => return Ok(done),
            Err(seen) if tokio::time::Instant::now() >= end => return Err(seen),
            Err(_) => tokio::time::sleep(every).await,
        }
    }
}

/// Signs up `email` as `display_name` with [`PASSWORD`] on the core `channel` reaches; returns
/// core's answer: the account and its session.
pub async fn sign_up(channel: Channel, email: &str, display_name: &str) -> RegisterResponse {
    let request = RegisterRequest {
        email: email.into(),
        password: PASSWORD.into(),
        display_name: display_name.into(),
        language_code: String::new(),
    };
    AuthServiceClient::new(channel).register(request).await.expect("sign-up").into_inner()
}

/// A signed-up account of a running core.
#[derive(Clone, Debug)]
pub struct Owner {
    /// The channel to core.
    pub channel: Channel,
    /// The account's id.
    pub user_id: String,
    /// Its session token.
    pub session: String,
}

impl Owner {
    /// Signs up `email` (named "Ann") on the core `channel` reaches.
    pub async fn sign_up(channel: Channel, email: &str) -> Self {
        let registered = sign_up(channel.clone(), email, "Ann").await;
        let user_id = registered.user.expect("the account").id;
        Self { channel, user_id, session: registered.session.expect("a session").token }
    }

    /// Switches the account's bot on.
    pub async fn start_bot(&self) {
        let request = authed(StartBotRequest {}, &self.session);
        BotServiceClient::new(self.channel.clone()).start_bot(request).await.expect("the bot starts");
    }

    /// The account's bot status now.
    pub async fn bot_status(&self) -> BotStatus {
        let request = authed(GetBotStatusRequest {}, &self.session);
        let status = BotServiceClient::new(self.channel.clone()).get_bot_status(request).await.expect("the bot status");
        status.into_inner().bot_status.expect("a bot status")
    }

    /// Creates `resource`, trying again while its provider's edge is still attaching.
    pub async fn connect(&self, resource: Resource) -> Resource {
        eventually("the resource's creation", || async {
            let request = authed(CreateResourceRequest { resource: Some(resource.clone()) }, &self.session);
            let created = ResourceServiceClient::new(self.channel.clone()).create_resource(request).await;
            created.map(|created| created.into_inner().resource.expect("the created resource"))
        })
        .await
    }

    /// One of the account's resources.
    pub async fn resource(&self, id: &str) -> Resource {
        let request = authed(GetResourceRequest { id: id.into() }, &self.session);
        let got = ResourceServiceClient::new(self.channel.clone()).get_resource(request).await.expect("the resource");
        got.into_inner().resource.expect("a resource")
    }

    /// Waits until the resource is in `want`, and returns it.
    pub async fn state_becomes(&self, id: &str, want: ResourceState) -> Resource {
        eventually(&format!("resource {id} becoming {want:?}"), || async {
            let resource = self.resource(id).await;
            if resource.state() == want { Ok(resource) } else { Err(resource) }
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};

    use super::*;

    #[tokio::test]
    async fn eventually_waits_for_the_check_and_names_what_never_happened() {
        let tries = AtomicU32::new(0);
        let third = eventually("the third try", || async {
            let n = tries.fetch_add(1, Ordering::SeqCst) + 1;
            if n == 3 { Ok(n) } else { Err(n) }
        })
        .await;
        assert_eq!(third, 3);
        let failed = tokio::spawn(eventually_within(Duration::from_millis(100), "a miracle", || async {
            Err::<(), _>("still nothing")
        }));
        let panic = failed.await.unwrap_err().into_panic();
        let message = panic.downcast_ref::<String>().unwrap();
        assert!(message.contains("a miracle did not happen") && message.contains("still nothing"), "{message}");
    }

    #[tokio::test]
    async fn poll_answers_what_it_saw_last_when_the_time_runs_out() {
        let tries = AtomicU32::new(0);
        let seen = poll(Duration::from_millis(60), Duration::from_millis(10), || async {
            Err::<(), _>(tries.fetch_add(1, Ordering::SeqCst) + 1)
        })
        .await;
        let last = seen.unwrap_err();
        assert!(last > 1 && last == tries.load(Ordering::SeqCst), "{last}");
    }
}
