//! Webhooks, for providers whose service posts to the edge: one path per running resource
//! (`/<provider>/<resource id>`), which exists only while the resource runs, with the secret
//! that checks each post and a short queue to the resource's task; and the server that serves
//! them, started and stopped with the [`crate::EdgeClient`].

use std::{
    collections::HashMap,
    sync::{Arc, Mutex, PoisonError},
};

use axum::{Router, extract::DefaultBodyLimit, handler::Handler, routing::post};
use tokio::{net::TcpListener, sync::mpsc};

/// What one resource's webhook queues before its service is asked to post again later.
pub const QUEUE: usize = 64;

/// The webhook paths of the running resources, each queueing `T`s for its task.
pub struct Webhooks<T> {
    /// The edge's public base URL, such as "https://bots.example.com/".
    public_url: url::Url,
    /// The first segment of every path, such as "telegram".
    prefix: &'static str,
    routes: Mutex<HashMap<String, Route<T>>>,
}

/// A running resource's way in.
struct Route<T> {
    secret: String,
    queue: mpsc::Sender<T>,
}

/// A resource's webhook while it runs; dropping it makes its path answer 404.
pub struct Registration<T> {
    webhooks: Arc<Webhooks<T>>,
    resource_id: String,
    /// The URL to give the service.
    pub url: url::Url,
    /// What the service posts, as the webhook's handler queued it.
    pub queue: mpsc::Receiver<T>,
}

impl<T> Drop for Registration<T> {
    fn drop(&mut self) {
        self.webhooks.routes.lock().unwrap_or_else(PoisonError::into_inner).remove(&self.resource_id);
    }
}

impl<T> Webhooks<T> {
    /// The webhooks of paths `/<prefix>/<resource id>` under `public_url`.
    pub fn new(public_url: url::Url, prefix: &'static str) -> Arc<Self> {
        Arc::new(Self { public_url, prefix, routes: Mutex::default() })
    }

    /// The URL the service posts a resource's events to.
    pub fn url(&self, resource_id: &str) -> url::Url {
        self.public_url.join(&format!("{}/{resource_id}", self.prefix)).expect("a path joins any base URL")
    }

    /// Opens a resource's path, whose posts are checked with `secret`.
    pub fn register(self: &Arc<Self>, resource_id: &str, secret: &str) -> Registration<T> {
        let (queue, receiver) = mpsc::channel(QUEUE);
        let route = Route { secret: secret.to_owned(), queue };
        self.routes.lock().unwrap_or_else(PoisonError::into_inner).insert(resource_id.to_owned(), route);
        Registration {
            webhooks: self.clone(),
            resource_id: resource_id.to_owned(),
            url: self.url(resource_id),
            queue: receiver,
        }
    }

    /// The router of the paths: `receive` answers each post (its state is these webhooks), and
    /// a body over `max_body` bytes gets 413.
    pub fn router<H, M>(self: &Arc<Self>, receive: H, max_body: usize) -> Router
    where
        H: Handler<M, Arc<Self>>,
        M: 'static,
        T: Send + 'static,
    {
        Router::new()
            .route(&format!("/{}/{{resource_id}}", self.prefix), post(receive))
            .layer(DefaultBodyLimit::max(max_body))
            .with_state(self.clone())
    }

    /// The secret and the queue of a running resource's path; `None` when it does not run.
    pub fn route(&self, resource_id: &str) -> Option<(String, mpsc::Sender<T>)> {
        let routes = self.routes.lock().unwrap_or_else(PoisonError::into_inner);
        routes.get(resource_id).map(|route| (route.secret.clone(), route.queue.clone()))
    }
}

/// A fresh secret for a webhook: 32 random bytes in hex.
pub fn fresh_secret() -> String {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).expect("the system's random source works");
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

/// A webhook server, bound before the edge attaches (so that a port in use stops the process at
/// once) and served while the [`crate::EdgeClient`] runs, with the limits of every public
/// server: the service is not the only one who can reach its port.
pub struct WebhookServer {
    listener: TcpListener,
    router: Router,
}

impl WebhookServer {
    /// Binds `listen` (host:port, as the setting `variable` gives it) for `router`.
    pub async fn bind(listen: &str, variable: &str, router: Router) -> anyhow::Result<Self> {
        let listener = TcpListener::bind(listen)
            .await
            .map_err(|err| anyhow::anyhow!("cannot listen on {listen} ({err}); set {variable} to a free host:port"))?;
        Ok(Self { listener, router })
    }

    /// The address it listens on.
    pub fn local_addr(&self) -> std::io::Result<std::net::SocketAddr> {
        self.listener.local_addr()
    }

    /// Serves until `shutdown` completes, letting requests in flight finish.
    pub(crate) async fn serve(self, shutdown: impl Future<Output = ()> + Send + 'static) {
        assistchat_http::serve(self.listener, self.router, assistchat_http::Limits::default(), shutdown).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_path_exists_while_its_registration_lives() {
        let webhooks = Webhooks::<u32>::new("https://bots.example.com/".parse().unwrap(), "chan");
        let registration = webhooks.register("r1", "s3cret");
        assert_eq!(registration.url.as_str(), "https://bots.example.com/chan/r1");
        let (secret, queue) = webhooks.route("r1").expect("open while registered");
        assert_eq!(secret, "s3cret");
        queue.try_send(7).unwrap();
        drop(registration);
        assert!(webhooks.route("r1").is_none(), "gone with its registration");
        assert_ne!(fresh_secret(), fresh_secret());
        assert_eq!(fresh_secret().len(), 64);
    }
}
