//! The loopback HTTP server under every fake. It is axum served by hand, one task per connection,
//! because `axum::serve` cannot close a connection without answering, and "the server hung up"
//! is one of the failures the fakes must play.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::sync::Notify;
use tokio::task::{JoinHandle, JoinSet};
use tower::ServiceExt;

/// Put in every request's extensions: a handler that calls [`Hangup::hang_up`] makes the server
/// close that request's connection at once, without a response.
#[derive(Clone)]
pub(crate) struct Hangup(Arc<Notify>);

impl Hangup {
    /// Closes the connection and never returns; the handler is dropped with the connection.
    pub(crate) async fn hang_up(&self) -> ! {
        self.0.notify_one();
        std::future::pending().await
    }
}

/// A running server; dropping it stops the server and closes every open connection.
pub(crate) struct Server {
    /// Where it listens.
    addr: SocketAddr,
    /// The accept loop, which owns the connection tasks.
    task: JoinHandle<()>,
}

impl Server {
    /// Binds `127.0.0.1:0` and serves `router` in a background task.
    ///
    /// # Panics
    /// If no loopback port can be bound: a test cannot run without one.
    pub(crate) async fn start(router: Router) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind a loopback port for the fake");
        let addr = listener.local_addr().expect("the bound address");
        let task = tokio::spawn(accept(listener, router));
        Server { addr, task }
    }

    pub(crate) fn addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        // Aborting the accept loop drops its JoinSet, which aborts every connection task.
        self.task.abort();
    }
}

async fn accept(listener: TcpListener, router: Router) {
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                // An accept error (out of descriptors, say) concerns one connection only.
                let Ok((stream, _)) = accepted else { continue };
                connections.spawn(serve(stream, router.clone()));
            }
            // Reap finished connections so the set does not grow over a long test.
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
}

async fn serve(stream: tokio::net::TcpStream, router: Router) {
    let notify = Arc::new(Notify::new());
    let hangup = Hangup(notify.clone());
    let service = service_fn(move |mut request: hyper::Request<hyper::body::Incoming>| {
        request.extensions_mut().insert(hangup.clone());
        router.clone().oneshot(request)
    });
    let connection = http1::Builder::new().serve_connection(TokioIo::new(stream), service);
    // Dropping the connection drops the socket: the client sees it closed mid-request.
    tokio::select! {
        _ = connection => {}
        _ = notify.notified() => {}
    }
}
