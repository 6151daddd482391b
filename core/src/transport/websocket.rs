//! MQTT over WebSocket (MQTT 5.0 §6): binary frames carry the byte stream, the subprotocol
//! is `mqtt`. [`WebSocketStream`] turns a tungstenite WebSocket into a plain byte stream
//! the connection code reads and writes like TCP.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use bytes::{Buf, Bytes};
use futures_util::{Sink, Stream as _};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio_tungstenite::tungstenite::{self, Message};

/// The WebSocket subprotocol MQTT uses (`MQTT-6.0.0-3`, `MQTT-6.0.0-4`).
pub const SUBPROTOCOL: &str = "mqtt";

/// A WebSocket carrying MQTT, read and written as bytes.
pub struct WebSocketStream<S> {
    socket: tokio_tungstenite::WebSocketStream<S>,
    /// The part of the last binary frame not read yet.
    pending: Bytes,
}

impl<S> WebSocketStream<S> {
    /// Wraps an established WebSocket.
    pub fn new(socket: tokio_tungstenite::WebSocketStream<S>) -> Self {
        WebSocketStream { socket, pending: Bytes::new() }
    }
}

fn to_io(error: tungstenite::Error) -> io::Error {
    match error {
        tungstenite::Error::Io(error) => error,
        tungstenite::Error::ConnectionClosed | tungstenite::Error::AlreadyClosed => {
            io::Error::new(io::ErrorKind::BrokenPipe, "the WebSocket is closed")
        }
        other => io::Error::other(other),
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncRead for WebSocketStream<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        loop {
            if !self.pending.is_empty() {
                let n = self.pending.len().min(buf.remaining());
                buf.put_slice(&self.pending[..n]);
                self.pending.advance(n);
                return Poll::Ready(Ok(()));
            }
            match ready!(Pin::new(&mut self.socket).poll_next(cx)) {
                Some(Ok(Message::Binary(data))) => self.pending = data,
                // MQTT-6.0.0-1: MQTT is only ever sent in binary frames.
                Some(Ok(Message::Text(_))) => {
                    return Poll::Ready(Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        "text WebSocket frame: MQTT must be sent in binary frames (MQTT-6.0.0-1)",
                    )));
                }
                // tungstenite answers pings itself; close ends the stream.
                Some(Ok(Message::Ping(_) | Message::Pong(_) | Message::Frame(_))) => {}
                Some(Ok(Message::Close(_))) | None => return Poll::Ready(Ok(())),
                Some(Err(error)) => return Poll::Ready(Err(to_io(error))),
            }
        }
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncWrite for WebSocketStream<S> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, data: &[u8]) -> Poll<io::Result<usize>> {
        ready!(Pin::new(&mut self.socket).poll_ready(cx)).map_err(to_io)?;
        let frame = Message::Binary(Bytes::copy_from_slice(data));
        Pin::new(&mut self.socket).start_send(frame).map_err(to_io)?;
        // Hand the frame to the socket now; writes are already batched by the caller.
        match Pin::new(&mut self.socket).poll_flush(cx) {
            Poll::Ready(Err(error)) => Poll::Ready(Err(to_io(error))),
            _ => Poll::Ready(Ok(data.len())),
        }
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.socket).poll_flush(cx).map_err(to_io)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.socket).poll_close(cx).map_err(to_io)
    }
}

/// Performs the client handshake for `url` (`ws://host:port/path`) over `stream`, asking for
/// the `mqtt` subprotocol.
#[cfg(feature = "client")]
pub(crate) async fn client_handshake<S: AsyncRead + AsyncWrite + Unpin>(
    url: &str,
    stream: S,
) -> io::Result<WebSocketStream<S>> {
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    use tokio_tungstenite::tungstenite::http::HeaderValue;
    let mut request = url.into_client_request().map_err(to_io)?;
    request.headers_mut().insert("Sec-WebSocket-Protocol", HeaderValue::from_static(SUBPROTOCOL));
    let (socket, response) = tokio_tungstenite::client_async(request, stream).await.map_err(to_io)?;
    let agreed = response.headers().get("Sec-WebSocket-Protocol").and_then(|value| value.to_str().ok());
    if agreed != Some(SUBPROTOCOL) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("the server did not accept the `mqtt` WebSocket subprotocol (it answered {agreed:?})"),
        ));
    }
    Ok(WebSocketStream::new(socket))
}

/// Performs the server handshake over an accepted `stream`: the client must offer the
/// `mqtt` subprotocol, which is selected (`MQTT-6.0.0-3`, `MQTT-6.0.0-4`); any path is
/// accepted. Frames and messages larger than `max_message_size` bytes close the connection.
///
/// # Errors
/// Not a WebSocket upgrade, no `mqtt` subprotocol offered (answered with HTTP 400 naming it),
/// or an I/O error.
#[cfg(feature = "broker")]
pub(crate) async fn server_handshake<S: AsyncRead + AsyncWrite + Unpin>(
    stream: S,
    max_message_size: usize,
) -> io::Result<WebSocketStream<S>> {
    use tokio_tungstenite::tungstenite::handshake::server::{ErrorResponse, Request, Response};
    use tokio_tungstenite::tungstenite::http::{HeaderValue, StatusCode};
    use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
    #[allow(
        clippy::result_large_err,
        reason = "tungstenite's callback fixes its error type: an HTTP response"
    )]
    let select_mqtt = |request: &Request, mut response: Response| -> Result<Response, ErrorResponse> {
        let offered = request
            .headers()
            .get_all("Sec-WebSocket-Protocol")
            .iter()
            .filter_map(|value| value.to_str().ok())
            .flat_map(|list| list.split(','))
            .any(|protocol| protocol.trim() == SUBPROTOCOL);
        if !offered {
            let mut refusal =
                ErrorResponse::new(Some("MQTT over WebSocket needs the `mqtt` subprotocol".to_owned()));
            *refusal.status_mut() = StatusCode::BAD_REQUEST;
            return Err(refusal);
        }
        response.headers_mut().insert("Sec-WebSocket-Protocol", HeaderValue::from_static(SUBPROTOCOL));
        Ok(response)
    };
    let config = WebSocketConfig::default()
        .max_message_size(Some(max_message_size))
        .max_frame_size(Some(max_message_size));
    let socket = tokio_tungstenite::accept_hdr_async_with_config(stream, select_mqtt, Some(config))
        .await
        .map_err(to_io)?;
    Ok(WebSocketStream::new(socket))
}
