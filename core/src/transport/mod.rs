//! Byte streams the client and the broker speak MQTT over: TCP now; TLS and WebSocket join
//! here as further implementations of [`Stream`].

use tokio::io::{AsyncRead, AsyncWrite};

/// A bidirectional byte stream a connection runs on.
pub trait Stream: AsyncRead + AsyncWrite + Unpin + Send + 'static {}

impl<T: AsyncRead + AsyncWrite + Unpin + Send + 'static> Stream for T {}
