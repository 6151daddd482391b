//! [`RawTestClient`]: a plain TCP connection that sends whatever bytes a test gives it and
//! reports exactly what the server does in return.

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use bytes::BytesMut;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, ToSocketAddrs};
use tokio::time::{Instant, timeout_at};

use crate::protocol::{Decoder, Packet, ProtocolError, ProtocolVersion, ReasonCode};

/// What went wrong in a [`RawTestClient`] operation.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RawClientError {
    /// Nothing (or not enough) arrived in time.
    #[error("timed out after {waited:?} waiting for {waiting_for}")]
    Timeout {
        /// How long the operation waited.
        waited: Duration,
        /// What it was waiting for: `"data"` or `"a complete packet"`.
        waiting_for: &'static str,
    },
    /// The server closed the connection (end of stream or reset) while the operation
    /// expected data.
    #[error("connection closed by the server")]
    ClosedByPeer,
    /// [`RawTestClient::expect_disconnect`] waited in vain: the connection was still open
    /// when the time was up.
    #[error(
        "server did not close the connection within {waited:?} ({} bytes received meanwhile)",
        received.len()
    )]
    NotDisconnected {
        /// How long it waited.
        waited: Duration,
        /// Every byte the server sent during the wait.
        received: Vec<u8>,
    },
    /// The received bytes are not a valid packet.
    #[error("received bytes do not decode: {0}")]
    Decode(#[from] ProtocolError),
    /// A socket operation failed.
    #[error("I/O error: {0}")]
    Io(#[from] io::Error),
}

/// Result of [`RawTestClient`] operations.
pub type RawResult<T> = Result<T, RawClientError>;

/// How much to read at a time.
const READ_CHUNK: usize = 4096;

/// A TCP client that speaks no MQTT of its own: it sends raw bytes and reads raw bytes or
/// decoded packets, so a test can put any byte sequence in front of a server and observe the
/// answer.
///
/// Reads keep what they do not hand out: bytes that arrive after a packet returned by
/// [`receive_packet`](Self::receive_packet) are returned by the next read.
///
/// Every waiting operation takes its own timeout; none waits forever.
///
/// ```no_run
/// use std::time::Duration;
/// use mqttkit::testing::{MalformedPacketGenerator, RawTestClient};
///
/// # async fn run() -> Result<(), mqttkit::testing::RawClientError> {
/// let mut client = RawTestClient::connect("127.0.0.1:1883").await?;
/// let reason = client
///     .send_expect_disconnect(MalformedPacketGenerator::connect_reserved_flag(), Duration::from_secs(5))
///     .await?;
/// println!("server closed the connection, reason code {reason:?}");
/// # Ok(())
/// # }
/// ```
#[derive(Debug)]
pub struct RawTestClient {
    stream: TcpStream,
    buf: BytesMut,
    version: ProtocolVersion,
    peer_closed: bool,
}

impl RawTestClient {
    /// Opens a TCP connection to `addr` (Nagle's algorithm off, so each send leaves at once).
    /// The client decodes with MQTT 5 until told otherwise
    /// ([`set_protocol_version`](Self::set_protocol_version)).
    ///
    /// # Errors
    /// [`RawClientError::Io`] when the address does not resolve or the connection fails.
    pub async fn connect(addr: impl ToSocketAddrs) -> RawResult<Self> {
        let stream = TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        Ok(RawTestClient {
            stream,
            buf: BytesMut::with_capacity(READ_CHUNK),
            version: ProtocolVersion::V5,
            peer_closed: false,
        })
    }

    /// The server's address.
    ///
    /// # Errors
    /// [`RawClientError::Io`] if the socket cannot tell.
    pub fn peer_addr(&self) -> RawResult<SocketAddr> {
        Ok(self.stream.peer_addr()?)
    }

    /// This end's address.
    ///
    /// # Errors
    /// [`RawClientError::Io`] if the socket cannot tell.
    pub fn local_addr(&self) -> RawResult<SocketAddr> {
        Ok(self.stream.local_addr()?)
    }

    /// The protocol version [`expect_disconnect`](Self::expect_disconnect) decodes the
    /// server's last packets with (MQTT 5 by default).
    pub fn protocol_version(&self) -> ProtocolVersion {
        self.version
    }

    /// Sets the protocol version [`expect_disconnect`](Self::expect_disconnect) decodes with;
    /// set it to [`ProtocolVersion::V311`] after sending a 3.1.1 CONNECT.
    pub fn set_protocol_version(&mut self, version: ProtocolVersion) {
        self.version = version;
    }

    /// Writes `bytes` and flushes them.
    ///
    /// # Errors
    /// [`RawClientError::Io`] if the write fails (for instance because the server has
    /// already reset the connection).
    pub async fn send_raw(&mut self, bytes: impl AsRef<[u8]>) -> RawResult<()> {
        self.stream.write_all(bytes.as_ref()).await?;
        self.stream.flush().await?;
        Ok(())
    }

    /// Returns the bytes that arrive next: what is already buffered, or else the bytes of
    /// the next read, waiting at most `timeout`. It never returns an empty vector.
    ///
    /// # Errors
    /// [`RawClientError::ClosedByPeer`] when the server has closed the connection (end of
    /// stream or reset) and nothing is buffered; [`RawClientError::Timeout`] when nothing
    /// arrives in time; [`RawClientError::Io`] for other socket errors.
    pub async fn receive_raw(&mut self, timeout: Duration) -> RawResult<Vec<u8>> {
        if self.buf.is_empty() {
            let deadline = deadline_after(timeout);
            if self.read_more(deadline).await? == 0 {
                return Err(self.timeout_or_closed(timeout, "data"));
            }
        }
        Ok(self.buf.split().to_vec())
    }

    /// Reads until one whole packet has arrived and decodes it as `version` (a CONNECT or
    /// CONNACK is decoded whatever `version` says about it, as [`Decoder`] does). The
    /// `timeout` covers the whole wait, however many reads it takes; bytes after the packet
    /// stay buffered for the next call.
    ///
    /// # Errors
    /// [`RawClientError::Decode`] if the bytes are not a valid packet (the buffered bytes
    /// are then discarded, since the stream is out of step); [`RawClientError::ClosedByPeer`]
    /// if the connection ends first; [`RawClientError::Timeout`] if no whole packet arrives
    /// in time; [`RawClientError::Io`] for socket errors.
    pub async fn receive_packet(&mut self, version: ProtocolVersion, timeout: Duration) -> RawResult<Packet> {
        let deadline = deadline_after(timeout);
        let mut decoder = Decoder::new(version);
        loop {
            match decoder.decode(&mut self.buf) {
                Ok(Some(packet)) => return Ok(packet),
                Ok(None) => {}
                Err(error) => {
                    self.buf.clear();
                    return Err(error.into());
                }
            }
            if self.read_more(deadline).await? == 0 {
                return Err(self.timeout_or_closed(timeout, "a complete packet"));
            }
        }
    }

    /// Waits up to `timeout` for the server to close the connection (end of stream or
    /// reset), reading whatever it sends meanwhile.
    ///
    /// Returns the reason code of the last DISCONNECT or CONNACK the server sent before
    /// closing, decoded with [`protocol_version`](Self::protocol_version), or `None` when it
    /// closed without sending one (or sent bytes that do not decode).
    ///
    /// # Errors
    /// [`RawClientError::NotDisconnected`], with everything received, if the connection is
    /// still open when the time is up; [`RawClientError::Io`] for socket errors other than a
    /// reset.
    pub async fn expect_disconnect(&mut self, timeout: Duration) -> RawResult<Option<ReasonCode>> {
        let deadline = deadline_after(timeout);
        while !self.peer_closed {
            if self.read_more(deadline).await? == 0 && !self.peer_closed {
                return Err(RawClientError::NotDisconnected {
                    waited: timeout,
                    received: self.buf.split().to_vec(),
                });
            }
        }
        Ok(self.last_reason_code())
    }

    /// Sends `bytes`, then [`expect_disconnect`](Self::expect_disconnect)s. If the server
    /// has already closed the connection so that the write fails with a reset or broken
    /// pipe, that counts as the expected disconnect.
    ///
    /// # Errors
    /// As [`expect_disconnect`](Self::expect_disconnect), and [`RawClientError::Io`] when
    /// the write fails otherwise.
    pub async fn send_expect_disconnect(
        &mut self,
        bytes: impl AsRef<[u8]>,
        timeout: Duration,
    ) -> RawResult<Option<ReasonCode>> {
        match self.send_raw(bytes).await {
            Err(RawClientError::Io(error)) if is_reset(&error) => {}
            other => other?,
        }
        self.expect_disconnect(timeout).await
    }

    /// Sends `bytes`, then returns what [`receive_raw`](Self::receive_raw) receives within
    /// `timeout`.
    ///
    /// # Errors
    /// As [`send_raw`](Self::send_raw) and [`receive_raw`](Self::receive_raw).
    pub async fn send_and_receive(
        &mut self,
        bytes: impl AsRef<[u8]>,
        timeout: Duration,
    ) -> RawResult<Vec<u8>> {
        self.send_raw(bytes).await?;
        self.receive_raw(timeout).await
    }

    /// Closes the connection: shuts down the sending side (the server sees end of stream),
    /// then drops the socket.
    ///
    /// # Errors
    /// [`RawClientError::Io`] if the shutdown fails for another reason than the connection
    /// being gone already.
    pub async fn close(mut self) -> RawResult<()> {
        match self.stream.shutdown().await {
            Err(error) if !is_reset(&error) && error.kind() != io::ErrorKind::NotConnected => {
                Err(error.into())
            }
            _ => Ok(()),
        }
    }

    /// One read into the buffer, waiting until `deadline`. Returns the number of bytes read:
    /// 0 when the deadline passed or the peer closed (then `peer_closed` is set).
    async fn read_more(&mut self, deadline: Instant) -> RawResult<usize> {
        if self.peer_closed {
            return Ok(0);
        }
        self.buf.reserve(READ_CHUNK);
        match timeout_at(deadline, self.stream.read_buf(&mut self.buf)).await {
            Err(_elapsed) => Ok(0),
            Ok(Ok(0)) => {
                self.peer_closed = true;
                Ok(0)
            }
            Ok(Ok(read)) => Ok(read),
            Ok(Err(error)) if is_reset(&error) => {
                self.peer_closed = true;
                Ok(0)
            }
            Ok(Err(error)) => Err(error.into()),
        }
    }

    fn timeout_or_closed(&self, waited: Duration, waiting_for: &'static str) -> RawClientError {
        if self.peer_closed {
            RawClientError::ClosedByPeer
        } else {
            RawClientError::Timeout { waited, waiting_for }
        }
    }

    /// The reason code of the last DISCONNECT or CONNACK among the buffered bytes, which are
    /// consumed.
    fn last_reason_code(&mut self) -> Option<ReasonCode> {
        let mut decoder = Decoder::new(self.version);
        let mut reason = None;
        while let Ok(Some(packet)) = decoder.decode(&mut self.buf) {
            match packet {
                Packet::Disconnect(disconnect) => reason = Some(disconnect.reason_code),
                Packet::ConnAck(connack) => reason = Some(connack.reason_code),
                _ => {}
            }
        }
        self.buf.clear();
        reason
    }
}

/// The instant `timeout` from now; a timeout too large to represent (such as
/// `Duration::MAX`) means about a century, instead of overflowing.
fn deadline_after(timeout: Duration) -> Instant {
    let now = Instant::now();
    now.checked_add(timeout).unwrap_or_else(|| now + Duration::from_secs(100 * 365 * 24 * 3600))
}

/// Whether an I/O error means the peer has closed the connection.
fn is_reset(error: &io::Error) -> bool {
    matches!(
        error.kind(),
        io::ErrorKind::ConnectionReset | io::ErrorKind::ConnectionAborted | io::ErrorKind::BrokenPipe
    )
}
