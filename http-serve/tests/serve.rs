//! The serving loop over real loopback TCP: each limit met the way a hostile or broken client
//! meets it, and what every server relies on (the peer's address, graceful shutdown) kept.

use std::{net::SocketAddr, sync::Arc, time::Duration};

use assistchat_http::{Limits, serve};
use axum::{Router, body::Bytes, extract::ConnectInfo, routing::get, routing::post};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpListener, TcpStream},
    sync::{Notify, oneshot},
};

/// Far longer than any limit under test: a server that never answers fails the test, not hangs it.
const BOUND: Duration = Duration::from_secs(10);

/// The router every test serves: the peer's address, an echo of the body, and a page that
/// answers only when told to.
fn router(release: Arc<Notify>) -> Router {
    Router::new()
        .route("/peer", get(|ConnectInfo(peer): ConnectInfo<SocketAddr>| async move { peer.to_string() }))
        .route("/echo", post(|body: Bytes| async move { body }))
        .route(
            "/slow",
            get(move || async move {
                release.notified().await;
                "done"
            }),
        )
}

/// A server on a loopback port with `limits`; it stops when the sender is used or dropped.
async fn start(limits: Limits, release: Arc<Notify>) -> (SocketAddr, oneshot::Sender<()>, tokio::task::JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let (stop, stopped) = oneshot::channel::<()>();
    let server = tokio::spawn(serve(listener, router(release), limits, async {
        let _ = stopped.await;
    }));
    (address, stop, server)
}

/// Reads until the server closes the connection, within [`BOUND`]; returns what came first.
async fn read_until_closed(stream: &mut TcpStream) -> String {
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
    String::from_utf8_lossy(&received).into_owned()
}

fn quick() -> Limits {
    Limits {
        header_read_timeout: Duration::from_millis(200),
        idle_timeout: Duration::from_millis(400),
        body_read_timeout: Duration::from_millis(300),
        ..Limits::default()
    }
}

#[tokio::test]
async fn unfinished_headers_and_silent_connections_are_closed() {
    let (address, _stop, _server) = start(quick(), Arc::default()).await;
    let mut unfinished = TcpStream::connect(address).await.unwrap();
    unfinished.write_all(b"GET /peer HTTP/1.1\r\nHost: x\r\n").await.unwrap();
    let answered = read_until_closed(&mut unfinished).await;
    assert!(!answered.contains("200 OK"), "{answered}");
    let mut silent = TcpStream::connect(address).await.unwrap();
    assert_eq!(read_until_closed(&mut silent).await, "");
    // Half of the HTTP/2 preface, then nothing: the idle limit closes it.
    let mut half_h2 = TcpStream::connect(address).await.unwrap();
    half_h2.write_all(b"PRI * HTTP/2.0\r\n").await.unwrap();
    read_until_closed(&mut half_h2).await;
}

#[tokio::test]
async fn a_body_that_stops_arriving_ends_its_request() {
    let (address, _stop, _server) = start(quick(), Arc::default()).await;
    let mut stream = TcpStream::connect(address).await.unwrap();
    stream.write_all(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nonly a part").await.unwrap();
    let answered = read_until_closed(&mut stream).await;
    assert!(!answered.contains("200 OK"), "the echo never got its whole body: {answered}");
}

#[tokio::test]
async fn every_request_knows_its_peer_and_connections_past_the_cap_wait() {
    let limits = Limits { max_connections: 1, ..Limits::default() };
    let (address, _stop, _server) = start(limits, Arc::default()).await;
    let mut first = TcpStream::connect(address).await.unwrap();
    first.write_all(b"GET /peer HTTP/1.1\r\nHost: x\r\n\r\n").await.unwrap();
    let mut buffer = [0u8; 1024];
    let read = first.read(&mut buffer).await.unwrap();
    let answer = String::from_utf8_lossy(&buffer[..read]).into_owned();
    assert!(answer.ends_with(&first.local_addr().unwrap().to_string()), "{answer}");

    // The first connection stays open (keep-alive): the second is not served meanwhile.
    let mut second = TcpStream::connect(address).await.unwrap();
    second.write_all(b"GET /peer HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").await.unwrap();
    let waited = tokio::time::timeout(Duration::from_millis(300), second.read(&mut buffer)).await;
    assert!(waited.is_err(), "a connection past the cap was served");
    drop(first);
    let answer = read_until_closed(&mut second).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "served once the first closed: {answer}");
}

#[tokio::test]
async fn shutdown_lets_requests_in_flight_finish_and_then_returns() {
    let release = Arc::new(Notify::new());
    let (address, stop, server) = start(Limits::default(), release.clone()).await;
    let mut stream = TcpStream::connect(address).await.unwrap();
    stream.write_all(b"GET /slow HTTP/1.1\r\nHost: x\r\n\r\n").await.unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    stop.send(()).unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(!server.is_finished(), "the server waits for the request in flight");
    assert!(TcpStream::connect(address).await.is_err(), "no new connection once stopping");
    release.notify_one();
    let answer = read_until_closed(&mut stream).await;
    assert!(answer.starts_with("HTTP/1.1 200") && answer.ends_with("done"), "{answer}");
    tokio::time::timeout(BOUND, server).await.expect("the server returns once all connections closed").unwrap();
}
