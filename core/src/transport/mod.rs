//! Byte streams the client and the broker speak MQTT over: TCP, TLS (feature `tls`) and
//! WebSocket (feature `websocket`), each a [`Stream`].

use tokio::io::{AsyncRead, AsyncWrite};

/// A bidirectional byte stream a connection runs on.
pub trait Stream: AsyncRead + AsyncWrite + Unpin + Send + 'static {}

impl<T: AsyncRead + AsyncWrite + Unpin + Send + 'static> Stream for T {}

#[cfg(feature = "client")]
pub(crate) mod connect;
#[cfg(feature = "tls")]
mod tls;
#[cfg(feature = "tls")]
pub use tls::TlsOptions;
#[cfg(all(feature = "tls", feature = "broker"))]
mod tls_server;
#[cfg(all(feature = "tls", feature = "broker"))]
pub use tls_server::TlsServerOptions;
#[cfg(feature = "websocket")]
pub mod websocket;
