//! Asking a server on this machine whether it is ready, as a container's health check does: the
//! client side of a readiness route such as the web edge's `/readyz`.

use std::{
    net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr},
    time::Duration,
};

use http_body_util::{BodyExt, Empty, Limited};
use hyper::{Request, StatusCode, body::Bytes, header::HOST};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

/// The most of a refusal's body kept in the reason given: a readiness route answers in a line.
const MAX_REASON_BYTES: usize = 1024;

/// The address at which a server listening on `listen` is reached from this machine: one bound to
/// every interface (`0.0.0.0:8080`, `[::]:8080`) on loopback, any other as it is written.
pub fn local_address(listen: &str) -> String {
    match listen.parse::<SocketAddr>() {
        Ok(address) if address.ip().is_unspecified() => {
            let loopback =
                if address.is_ipv4() { IpAddr::V4(Ipv4Addr::LOCALHOST) } else { IpAddr::V6(Ipv6Addr::LOCALHOST) };
            SocketAddr::new(loopback, address.port()).to_string()
        }
        _ => listen.to_owned(),
    }
}

/// Asks the HTTP server listening on `listen` on this machine for `path` with a GET, within
/// `timeout`: `Ok` when it answers 200, else what it answered or why it could not be asked.
pub async fn probe(listen: &str, path: &str, timeout: Duration) -> Result<(), String> {
    let address = local_address(listen);
    let url = format!("http://{address}{path}");
    let asked = async {
        let stream = TcpStream::connect(&address).await.map_err(|err| format!("cannot connect to {address}: {err}"))?;
        let (mut sender, connection) =
            hyper::client::conn::http1::handshake(TokioIo::new(stream)).await.map_err(|err| format!("{url}: {err}"))?;
        tokio::spawn(connection);
        let request = Request::get(path)
            .header(HOST, &address)
            .body(Empty::<Bytes>::new())
            .map_err(|err| format!("{url}: {err}"))?;
        let response = sender.send_request(request).await.map_err(|err| format!("{url}: {err}"))?;
        let status = response.status();
        if status == StatusCode::OK {
            return Ok(());
        }
        let body = Limited::new(response.into_body(), MAX_REASON_BYTES).collect().await;
        let reason = body.map(|body| String::from_utf8_lossy(&body.to_bytes()).trim().to_owned()).unwrap_or_default();
        Err(format!("{url} answered {status}: {reason}"))
    };
    tokio::time::timeout(timeout, asked)
        .await
        .unwrap_or_else(|_| Err(format!("{url} did not answer within {} ms", timeout.as_millis())))
}

#[cfg(test)]
mod tests {
    use super::local_address;

    #[test]
    fn a_server_on_every_interface_is_asked_on_loopback() {
        assert_eq!(local_address("0.0.0.0:8080"), "127.0.0.1:8080");
        assert_eq!(local_address("[::]:8080"), "[::1]:8080");
        assert_eq!(local_address("10.0.0.5:50051"), "10.0.0.5:50051");
        assert_eq!(local_address("web.internal:8080"), "web.internal:8080");
    }
}
