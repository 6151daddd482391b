//! Listeners: accept TCP connections and, as each listener is configured, run TLS and/or
//! the WebSocket handshake on them before the MQTT connection starts.
//!
//! Each transport is spawned as its own task type, so that a plain TCP connection's task
//! stays as small as it is without TLS or WebSocket state in it.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::net::{TcpListener, TcpStream};

use super::config::{ListenerConfig, ListenerProtocol};
use super::error::BrokerError;
use super::rate_limit::TokenBucket;
use super::stats::Counters;
use super::{Shared, connection};
#[cfg(any(feature = "tls", feature = "websocket"))]
use crate::transport::Stream;
#[cfg(feature = "websocket")]
use crate::transport::websocket;

/// What runs on an accepted TCP stream before MQTT does.
#[derive(Clone)]
enum Transport {
    Tcp,
    #[cfg(feature = "websocket")]
    WebSocket,
    #[cfg(feature = "tls")]
    Tls(tokio_rustls::TlsAcceptor),
    #[cfg(all(feature = "tls", feature = "websocket"))]
    WebSocketTls(tokio_rustls::TlsAcceptor),
}

/// A bound listener, ready to accept.
pub(crate) struct Listener {
    tcp: TcpListener,
    transport: Transport,
}

impl Listener {
    /// Binds `config`'s address and prepares its TLS acceptor (reading the certificate
    /// files) and WebSocket handshake.
    ///
    /// # Errors
    /// The address cannot be bound; a TLS file cannot be read or does not fit; the
    /// transport needs a feature this build lacks.
    pub(crate) async fn bind(config: &ListenerConfig) -> Result<Listener, BrokerError> {
        let transport = transport(config)?;
        let tcp = TcpListener::bind(config.bind)
            .await
            .map_err(|source| BrokerError::Io { context: format!("binding {}", config.bind), source })?;
        defer_accept(&tcp);
        Ok(Listener { tcp, transport })
    }

    /// The bound address (with the actual port when port 0 was asked for).
    ///
    /// # Errors
    /// The socket cannot tell its address.
    pub(crate) fn local_addr(&self) -> Result<SocketAddr, BrokerError> {
        self.tcp
            .local_addr()
            .map_err(|source| BrokerError::Io { context: "local address of a listener".into(), source })
    }
}

/// Asks the kernel to hand over a connection only once its first bytes (CONNECT, a TLS
/// ClientHello or a WebSocket upgrade request: the client always speaks first) have
/// arrived, so that accepting and reading the CONNECT take one wake-up instead of two.
/// Connections still silent after a few seconds are handed over anyway and meet the
/// CONNECT timeout as before. Best effort: a kernel without the option accepts as usual.
#[cfg(target_os = "linux")]
#[allow(unsafe_code)]
fn defer_accept(listener: &TcpListener) {
    use std::os::fd::AsRawFd;
    let seconds: libc::c_int = 5;
    // SAFETY: the file descriptor is the listener's own, open for the call's duration, and
    // the option value points at a live c_int whose size is passed along.
    let result = unsafe {
        libc::setsockopt(
            listener.as_raw_fd(),
            libc::IPPROTO_TCP,
            libc::TCP_DEFER_ACCEPT,
            std::ptr::from_ref(&seconds).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if result != 0 {
        tracing::debug!(error = %std::io::Error::last_os_error(), "TCP_DEFER_ACCEPT not set");
    }
}

#[cfg(not(target_os = "linux"))]
fn defer_accept(_listener: &TcpListener) {}

fn transport(config: &ListenerConfig) -> Result<Transport, BrokerError> {
    let invalid = |reason: String| BrokerError::Listener { bind: config.bind, reason };
    match (config.protocol, &config.tls) {
        (ListenerProtocol::Mqtt, None) => Ok(Transport::Tcp),
        #[cfg(feature = "websocket")]
        (ListenerProtocol::WebSocket, None) => Ok(Transport::WebSocket),
        #[cfg(feature = "tls")]
        (protocol, Some(tls)) => {
            let acceptor = tls.options().and_then(|options| options.acceptor()).map_err(invalid)?;
            match protocol {
                ListenerProtocol::Mqtt => Ok(Transport::Tls(acceptor)),
                #[cfg(feature = "websocket")]
                ListenerProtocol::WebSocket => Ok(Transport::WebSocketTls(acceptor)),
                #[cfg(not(feature = "websocket"))]
                ListenerProtocol::WebSocket => Err(invalid("WebSocket needs the `websocket` feature".into())),
            }
        }
        #[cfg(not(feature = "tls"))]
        (_, Some(_)) => Err(invalid("TLS needs the `tls` feature".into())),
        #[cfg(not(feature = "websocket"))]
        (ListenerProtocol::WebSocket, None) => Err(invalid("WebSocket needs the `websocket` feature".into())),
    }
}

/// Accepts connections until the broker stops, at most `limits.max_connection_rate` a
/// second (further ones wait in the listen backlog).
pub(crate) async fn accept_loop(shared: Arc<Shared>, listener: Listener) {
    let mut rate =
        shared.config.limits.max_connection_rate.map(|rate| TokenBucket::new(rate, Instant::now()));
    loop {
        if let Some(pause) = rate.as_mut().and_then(|rate| rate.wait(Instant::now())) {
            Counters::add(&shared.counters.throttled, 1);
            tracing::debug!(?pause, "over limits.max_connection_rate: accepting paused");
            tokio::select! {
                () = shared.stop.wait() => break,
                () = tokio::time::sleep(pause) => {}
            }
        }
        tokio::select! {
            () = shared.stop.wait() => break,
            accepted = listener.tcp.accept() => match accepted {
                Ok((stream, peer)) => {
                    if let Some(rate) = &mut rate {
                        rate.take(1, Instant::now());
                    }
                    let _ = stream.set_nodelay(true);
                    shared.connection_started();
                    // The connection (or its failed handshake) calls `connection_finished`.
                    spawn(shared.clone(), &listener.transport, stream, peer);
                }
                Err(error) => {
                    // Out of file descriptors and the like: back off instead of spinning.
                    tracing::warn!(%error, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
        }
    }
}

fn spawn(shared: Arc<Shared>, transport: &Transport, stream: TcpStream, peer: SocketAddr) {
    match transport {
        Transport::Tcp => {
            tokio::spawn(connection::run(shared, stream, peer));
        }
        #[cfg(feature = "websocket")]
        Transport::WebSocket => {
            tokio::spawn(async move {
                let upgrade = websocket::server_handshake(stream, websocket_message_limit(&shared));
                if let Some(stream) = handshake(&shared, peer, "WebSocket", upgrade).await {
                    connection::run(shared, stream, peer).await;
                }
            });
        }
        #[cfg(feature = "tls")]
        Transport::Tls(acceptor) => {
            let accept = acceptor.accept(stream);
            tokio::spawn(async move {
                if let Some(stream) = handshake(&shared, peer, "TLS", accept).await {
                    connection::run(shared, stream, peer).await;
                }
            });
        }
        #[cfg(all(feature = "tls", feature = "websocket"))]
        Transport::WebSocketTls(acceptor) => {
            let accept = acceptor.accept(stream);
            tokio::spawn(async move {
                let limit = websocket_message_limit(&shared);
                let upgrade = async { websocket::server_handshake(accept.await?, limit).await };
                if let Some(stream) = handshake(&shared, peer, "TLS + WebSocket", upgrade).await {
                    connection::run(shared, stream, peer).await;
                }
            });
        }
    }
}

/// The largest WebSocket message a client may send: one packet of the broker's maximum
/// size, with its fixed header.
#[cfg(feature = "websocket")]
fn websocket_message_limit(shared: &Shared) -> usize {
    shared.config.limits.max_packet_size as usize + 5
}

/// Runs a transport handshake within the CONNECT timeout; a failure is logged and counted
/// as a finished connection.
#[cfg(any(feature = "tls", feature = "websocket"))]
async fn handshake<S: Stream>(
    shared: &Shared,
    peer: SocketAddr,
    what: &str,
    handshake: impl Future<Output = std::io::Result<S>>,
) -> Option<S> {
    let outcome = tokio::time::timeout(shared.config.limits.connect_timeout(), handshake).await;
    let error = match outcome {
        Ok(Ok(stream)) => return Some(stream),
        Ok(Err(error)) => error.to_string(),
        Err(_) => format!("not done within {:?}", shared.config.limits.connect_timeout()),
    };
    tracing::debug!(%peer, %error, "{what} handshake failed");
    shared.connection_finished();
    None
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use std::os::fd::AsRawFd;

    use super::*;

    #[allow(unsafe_code)]
    fn defer_accept_seconds(listener: &TcpListener) -> libc::c_int {
        let mut value: libc::c_int = 0;
        let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
        // SAFETY: the descriptor is the listener's own; value and len are live locals of the
        // sizes passed.
        let result = unsafe {
            libc::getsockopt(
                listener.as_raw_fd(),
                libc::IPPROTO_TCP,
                libc::TCP_DEFER_ACCEPT,
                std::ptr::from_mut(&mut value).cast(),
                &mut len,
            )
        };
        assert_eq!(result, 0, "getsockopt: {}", std::io::Error::last_os_error());
        value
    }

    #[tokio::test]
    async fn listeners_wait_for_the_clients_first_bytes() {
        let config = ListenerConfig::tcp(SocketAddr::from(([127, 0, 0, 1], 0)));
        let listener = Listener::bind(&config).await.unwrap();
        assert!(defer_accept_seconds(&listener.tcp) > 0);
    }
}
