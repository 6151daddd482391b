//! One task per connection: CONNECT and authentication, then a loop that reads and decodes
//! every complete packet, handles it, moves queued messages into the write buffer within the
//! client's Receive Maximum, and writes everything with one `write_all` per wake-up.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use bytestring::ByteString;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::auth::{AuthDecision, AuthExchange, AuthStep, Credentials};
use super::authorizer::ClientIdentity;
use super::frame;
use super::lazy_read::read_lazily;
use super::rate_limit::Throttle;
use super::session::{Delivery, Inflight, Message, OutState, Owner, PendingWill, Session, SubscriptionEntry};
use super::stats::Counters;
use super::storage::{self, Op};
use super::stored_will;
use super::sys_topics;
use super::{Outbox, Shared, write};
use crate::protocol::{
    AckProperties, Auth, ConnAck, ConnAckProperties, Connect, Decoder, Disconnect, Packet, ProtocolError,
    ProtocolVersion, PubAck, PubComp, PubRec, PubRel, Publish, QoS, ReasonCode, RetainHandling, SubAck,
    Subscribe, TopicFilter, UnsubAck, Unsubscribe, Will,
};
use crate::transport::Stream;

/// Stop filling the write buffer beyond this and write it out first.
const WRITE_HIGH_WATER: usize = 64 * 1024;
/// Read buffer of an idle connection.
const MIN_READ: usize = 256;
/// Largest read buffer of a streaming connection.
const MAX_READ: usize = 64 * 1024;
/// A write smaller than this releases the write buffer.
const SMALL_WRITE: usize = 1024;

/// How a connection ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Close {
    /// The client sent DISCONNECT; `will` unless its reason code was 0x00.
    Client { will: bool },
    /// The network connection broke or the client closed it.
    Lost,
    /// The client violated the protocol: DISCONNECT with this code (MQTT 5), then close.
    Violation(ReasonCode),
    /// No packet within 1.5 times the keep-alive.
    KeepAlive,
    /// Another connection took the session over.
    TakenOver,
    /// The broker is shutting down.
    Shutdown,
    /// CONNECT was refused (CONNACK already written) or never came.
    Refused,
}

impl From<ProtocolError> for Close {
    fn from(error: ProtocolError) -> Self {
        tracing::debug!(%error, "protocol error");
        Close::Violation(error.reason_code())
    }
}

/// Serves one network connection until it closes.
pub(crate) fn run<S: Stream>(
    shared: Arc<Shared>,
    stream: S,
    peer: SocketAddr,
) -> impl Future<Output = ()> + Send {
    let throttle = Throttle::from_limits(&shared.config.limits);
    let mut connection = Connection {
        id: shared.next_connection_id(),
        decoder: Decoder::new(ProtocolVersion::V5)
            .with_max_packet_size(shared.config.limits.max_packet_size as usize),
        shared,
        stream,
        rbuf: BytesMut::new(),
        wbuf: BytesMut::new(),
        version: ProtocolVersion::V5,
        session: None,
        client_id: Arc::from(""),
        username: None,
        keep_alive: None,
        last_packet: Instant::now(),
        window: 1,
        client_max_packet: u32::MAX,
        client_alias_max: 0,
        aliases: None,
        will: None,
        problem_info: true,
        auth: None,
        durable: None,
        congested: Vec::new(),
        outbox: None,
        throttle,
    };
    // An async block owning the connection, not an `async fn` taking it: an async fn's
    // argument is stored twice in its future (as argument and as local), and this future
    // is what every idle connection costs.
    async move {
        let close = connection.serve(peer).await;
        connection.finish(close).await;
        connection.shared.connection_finished();
    }
}

struct Connection<S> {
    shared: Arc<Shared>,
    stream: S,
    id: u64,
    rbuf: BytesMut,
    wbuf: BytesMut,
    decoder: Decoder,
    version: ProtocolVersion,
    session: Option<Arc<Session>>,
    client_id: Arc<str>,
    /// The user the client authenticated as (for authorization).
    username: Option<Arc<str>>,
    /// 1.5 times the keep-alive in force.
    keep_alive: Option<Duration>,
    /// When the last whole packet arrived.
    last_packet: Instant,
    /// QoS 1/2 messages allowed in flight towards the client.
    window: usize,
    client_max_packet: u32,
    client_alias_max: u16,
    /// Allocated at the first topic alias (most connections use none).
    aliases: Option<Box<Aliases>>,
    will: Option<Box<Will>>,
    problem_info: bool,
    /// Set when CONNECT used enhanced authentication.
    auth: Option<Box<EnhancedAuth>>,
    /// Committed once the writes behind the acknowledgements in the write buffer are on
    /// disk (`sync` durability).
    durable: Option<tokio::sync::oneshot::Receiver<bool>>,
    /// Sessions this connection's publications congested: it reads no more until they
    /// drain (bounded wait).
    congested: Vec<Arc<Session>>,
    /// QoS 0 deliveries routed from the packets of the current read, queued at its end
    /// (see [`Outbox`]); allocated by the first QoS 0 PUBLISH, released when the connection
    /// stops streaming.
    outbox: Option<Box<Outbox>>,
    /// The connection's rate limits, if any are configured.
    throttle: Option<Box<Throttle>>,
}

/// Topic aliases of one MQTT 5 connection.
struct Aliases {
    /// The client's aliases for the topics it publishes to.
    inbound: HashMap<u16, ByteString>,
    /// Ours for the topics we send to the client.
    outbound: HashMap<ByteString, u16>,
    /// The next alias we assign.
    next: u32,
}

impl Aliases {
    fn boxed() -> Box<Self> {
        Box::new(Aliases { inbound: HashMap::new(), outbound: HashMap::new(), next: 1 })
    }
}

/// Enhanced authentication (MQTT 5.0 §4.12) of a connection.
struct EnhancedAuth {
    /// The Authentication Method of CONNECT; re-authentication must use the same.
    method: ByteString,
    /// A re-authentication exchange in progress.
    reauth: Option<Box<dyn AuthExchange>>,
}

/// The protocol level byte of a CONNECT at the start of `buf` (whatever its protocol
/// name), if it is there.
fn connect_level(buf: &[u8]) -> Option<u8> {
    if buf.first()? >> 4 != 1 {
        return None;
    }
    let mut i = 1;
    while *buf.get(i)? & 0x80 != 0 {
        i += 1;
        if i > 4 {
            return None;
        }
    }
    let body = buf.get(i + 1..)?;
    let name_len = usize::from(u16::from_be_bytes([*body.first()?, *body.get(1)?]));
    body.get(2 + name_len).copied()
}

impl<S: Stream> Connection<S> {
    fn v5(&self) -> bool {
        self.version == ProtocolVersion::V5
    }

    /// Appends a packet to the write buffer. The acknowledgements carry nothing but
    /// packet identifiers, reason codes and our own reason strings, so they skip the
    /// content checks (`encode_unchecked`); the other packets, rarer and carrying
    /// configured or computed strings, are checked.
    ///
    /// Nothing larger than the client's Maximum Packet Size is sent (MQTT-3.1.2-24): the
    /// Reason String and User Properties are left out if that makes it fit, otherwise the
    /// packet is not sent.
    fn send(&mut self, mut packet: Packet) {
        let start = self.wbuf.len();
        if let Err(error) = self.encode(&packet) {
            tracing::error!(%error, packet = %packet.packet_type(), "cannot encode packet; not sent");
            return;
        }
        if self.wbuf.len() - start <= self.client_max_packet as usize {
            return;
        }
        self.wbuf.truncate(start);
        if packet.strip_diagnostics()
            && self.encode(&packet).is_ok()
            && self.wbuf.len() - start <= self.client_max_packet as usize
        {
            return;
        }
        self.wbuf.truncate(start);
        tracing::warn!(
            client_id = &*self.client_id,
            packet = %packet.packet_type(),
            maximum = self.client_max_packet,
            "packet larger than the client's Maximum Packet Size: not sent"
        );
    }

    fn encode(&mut self, packet: &Packet) -> Result<(), ProtocolError> {
        match packet {
            Packet::PubAck(_)
            | Packet::PubRec(_)
            | Packet::PubRel(_)
            | Packet::PubComp(_)
            | Packet::PingResp => packet.encode_unchecked(self.version, &mut self.wbuf),
            _ => packet.encode(self.version, &mut self.wbuf),
        }
    }

    /// Writes the buffer out, unless the broker is shutting down.
    async fn flush(&mut self) -> Result<(), Close> {
        if let Some(durable) = self.durable.take() {
            // Acknowledgements leave only once what they acknowledge is on disk; if the
            // commit failed they are not sent at all and the client will retransmit.
            if durable.await != Ok(true) {
                self.wbuf.clear();
                return Err(Close::Violation(ReasonCode::ImplementationSpecificError));
            }
        }
        if self.wbuf.is_empty() {
            return Ok(());
        }
        let (len, capacity) = (self.wbuf.len(), self.wbuf.capacity());
        // `write_buf` consumes what it wrote: a shutdown interrupting the write leaves in the
        // buffer exactly what is still to go, for `finish` to send after it.
        let result = tokio::select! {
            result = async {
                while !self.wbuf.is_empty() {
                    if self.stream.write_buf(&mut self.wbuf).await? == 0 {
                        return Err(std::io::ErrorKind::WriteZero.into());
                    }
                }
                self.stream.flush().await
            } => result,
            _ = self.shared.stop.wait() => return Err(Close::Shutdown),
        };
        result.map_err(|_| Close::Lost)?;
        Counters::add(&self.shared.counters.bytes_out, len as u64);
        if len < SMALL_WRITE || capacity > 4 * WRITE_HIGH_WATER {
            // A small write (an ack, a single message: the connection is not streaming) or
            // a burst that grew the buffer: do not keep that memory while the connection
            // waits; the next write allocates what it needs.
            self.wbuf = BytesMut::new();
        } else {
            self.wbuf.clear();
        }
        Ok(())
    }

    /// Stops reading for `pause` because the connection is over a rate limit (see
    /// [`Throttle`]). Messages queued for the client end the pause early so that they are
    /// delivered meanwhile (the caller then pauses again for the rest), as do a session
    /// takeover and the broker's shutdown.
    async fn pause(&mut self, session: &Session, pause: Duration) -> Result<(), Close> {
        tokio::select! {
            _ = self.shared.stop.wait() => Err(Close::Shutdown),
            _ = session.notify.notified() => {
                if session.lock().taken_over { Err(Close::TakenOver) } else { Ok(()) }
            }
            () = tokio::time::sleep(pause) => Ok(()),
        }
    }

    /// Reads more bytes; `Err(Lost)` at end of stream.
    async fn fill(&mut self) -> Result<(), Close> {
        self.rbuf.reserve(MIN_READ);
        match self.stream.read_buf(&mut self.rbuf).await {
            Ok(0) | Err(_) => Err(Close::Lost),
            Ok(n) => {
                Counters::add(&self.shared.counters.bytes_in, n as u64);
                Ok(())
            }
        }
    }

    /// `peer` is only logged while CONNECT is handled.
    async fn serve(&mut self, peer: SocketAddr) -> Result<(), Close> {
        // Boxed: the CONNECT and authentication states are large and short-lived, and must not
        // make every idle connection's task bigger.
        let connect = Box::pin(self.read_connect(peer)).await?;
        Box::pin(self.accept(connect, peer)).await?;
        self.main_loop().await
    }

    /// Waits for CONNECT (`MQTT-3.1.0-1`: the first packet must be CONNECT).
    async fn read_connect(&mut self, peer: SocketAddr) -> Result<Box<Connect>, Close> {
        let deadline = tokio::time::Instant::now() + self.shared.config.limits.connect_timeout();
        let shared = self.shared.clone();
        loop {
            let level = connect_level(&self.rbuf);
            match self.decoder.decode(&mut self.rbuf) {
                Ok(Some(Packet::Connect(connect))) => return Ok(connect),
                Ok(Some(other)) => {
                    tracing::debug!(peer = %peer, packet = %other.packet_type(), "first packet is not CONNECT");
                    return Err(Close::Refused);
                }
                Ok(None) => {}
                Err(error) => {
                    tracing::debug!(peer = %peer, %error, "invalid CONNECT");
                    let bad_version = matches!(
                        error,
                        ProtocolError::UnsupportedProtocolVersion(_) | ProtocolError::InvalidProtocolName(_)
                    );
                    match level {
                        // MQTT 5.0 §3.1.2.2: CONNACK 0x84, or the CONNACK of the error.
                        Some(level) if level >= 5 => {
                            self.version = ProtocolVersion::V5;
                            self.send(Packet::ConnAck(ConnAck::new(error.reason_code(), false)));
                        }
                        // 3.1.1 §3.2.2.3: return code 0x01, unacceptable protocol version, in
                        // the 3.1.1 format that older clients understand.
                        Some(_) if bad_version => self.wbuf.extend_from_slice(&[0x20, 0x02, 0x00, 0x01]),
                        _ => {}
                    }
                    let _ = self.flush().await;
                    return Err(Close::Refused);
                }
            }
            tokio::select! {
                result = self.fill() => result?,
                _ = tokio::time::sleep_until(deadline) => return Err(Close::Refused),
                _ = shared.stop.wait() => return Err(Close::Refused),
            }
        }
    }

    /// Reads the next packet during the AUTH exchange of CONNECT.
    async fn read_packet(&mut self) -> Result<Packet, Close> {
        let deadline = tokio::time::Instant::now() + self.shared.config.limits.connect_timeout();
        let shared = self.shared.clone();
        loop {
            if let Some(packet) = self.decoder.decode(&mut self.rbuf)? {
                return Ok(packet);
            }
            tokio::select! {
                result = self.fill() => result?,
                _ = tokio::time::sleep_until(deadline) => return Err(Close::Refused),
                _ = shared.stop.wait() => return Err(Close::Shutdown),
            }
        }
    }

    async fn refuse(&mut self, peer: SocketAddr, reason: ReasonCode, reason_string: Option<&str>) -> Close {
        tracing::debug!(peer = %peer, client_id = &*self.client_id, reason = reason.name(), "CONNECT refused");
        let mut connack = ConnAck::new(reason, false);
        connack.properties.reason_string = reason_string.map(ByteString::from);
        self.send(Packet::ConnAck(connack));
        let _ = self.flush().await;
        Close::Refused
    }

    /// Checks and accepts CONNECT: authentication, session, CONNACK, resends.
    async fn accept(&mut self, connect: Box<Connect>, peer: SocketAddr) -> Result<(), Close> {
        let connect = *connect;
        let shared = self.shared.clone();
        let config = &shared.config;
        self.version = connect.protocol_version;
        let props = &connect.properties;
        self.problem_info = props.request_problem_information.unwrap_or(true);
        self.client_max_packet = props.maximum_packet_size.unwrap_or(u32::MAX);

        if self.shared.counters.connections.load(std::sync::atomic::Ordering::Relaxed)
            > config.limits.max_connections as u64
        {
            let reason = if self.v5() { ReasonCode::QuotaExceeded } else { ReasonCode::ServerUnavailable };
            return Err(self.refuse(peer, reason, Some("too many connections")).await);
        }

        if connect.client_id.len() > config.limits.max_client_id_len {
            return Err(self
                .refuse(peer, ReasonCode::ClientIdentifierNotValid, Some("client identifier too long"))
                .await);
        }
        let mut assigned = None;
        let client_id: Arc<str> = if connect.client_id.is_empty() {
            if !self.v5() && !connect.clean_start {
                // MQTT-3.1.3-8: zero-length id with CleanSession=0 is rejected (0x02).
                return Err(self.refuse(peer, ReasonCode::ClientIdentifierNotValid, None).await);
            }
            let mut raw = [0u8; 8];
            rand::fill(&mut raw[..]);
            let id = format!("mqttkit-{}", raw.iter().map(|b| format!("{b:02x}")).collect::<String>());
            assigned = Some(ByteString::from(id.clone()));
            Arc::from(id)
        } else {
            Arc::from(&*connect.client_id)
        };
        self.client_id = client_id.clone();

        if let Some(will) = &connect.will {
            if will.qos > config.maximum_qos() {
                return Err(self
                    .refuse(peer, ReasonCode::QosNotSupported, Some("will QoS not supported"))
                    .await);
            }
            if will.retain && !config.features.retain_available {
                return Err(self.refuse(peer, ReasonCode::RetainNotSupported, None).await);
            }
            if sys_topics::is_sys_topic(&will.topic) {
                return Err(self
                    .refuse(
                        peer,
                        ReasonCode::NotAuthorized,
                        Some("a will may not be published to $SYS topics"),
                    )
                    .await);
            }
        }

        // Authentication.
        let mut auth_reply: Option<(ByteString, Option<Bytes>)> = None;
        if let Some(method) = props.authentication_method.clone() {
            let Some(mut exchange) = self.shared.authenticator.start(&method) else {
                return Err(self.refuse(peer, ReasonCode::BadAuthenticationMethod, None).await);
            };
            let mut data = props.authentication_data.clone();
            loop {
                match exchange.step(data.take()).await {
                    AuthStep::Continue(challenge) => {
                        self.send(Packet::Auth(Auth::new(
                            ReasonCode::ContinueAuthentication,
                            method.clone(),
                            Some(challenge),
                        )));
                        self.flush().await?;
                        match self.read_packet().await? {
                            Packet::Auth(auth)
                                if auth.reason_code == ReasonCode::ContinueAuthentication
                                    && auth.properties.authentication_method.as_ref() == Some(&method) =>
                            {
                                data = auth.properties.authentication_data;
                            }
                            Packet::Auth(_) => {
                                return Err(self
                                    .refuse(peer, ReasonCode::BadAuthenticationMethod, None)
                                    .await);
                            }
                            _ => return Err(self.refuse(peer, ReasonCode::ProtocolError, None).await),
                        }
                    }
                    AuthStep::Success(final_data) => {
                        auth_reply = Some((method.clone(), final_data));
                        let username = exchange.username().or(connect.username.as_deref());
                        self.username = username.map(Arc::from);
                        break;
                    }
                    AuthStep::Failure(reason) => return Err(self.refuse(peer, reason, None).await),
                }
            }
            self.auth = Some(Box::new(EnhancedAuth { method, reauth: None }));
        } else {
            let credentials = Credentials {
                client_id: &client_id,
                username: connect.username.as_deref(),
                password: connect.password.as_deref(),
            };
            if let AuthDecision::Deny(reason) = self.shared.authenticator.check(credentials).await {
                return Err(self.refuse(peer, reason, None).await);
            }
            self.username = connect.username.as_deref().map(Arc::from);
        }

        // Session expiry (MQTT 5) / clean session (3.1.1).
        let requested_expiry = match self.version {
            ProtocolVersion::V5 => props.session_expiry_interval.unwrap_or(0),
            ProtocolVersion::V311 if connect.clean_start => 0,
            ProtocolVersion::V311 => u32::MAX,
        };
        let expiry =
            config.limits.max_session_expiry.map_or(requested_expiry, |max| requested_expiry.min(max));

        // Keep-alive, bounded by the configuration: MQTT 5 clients are told the value in
        // force (Server Keep Alive). A 3.1.1 client cannot be: one above the maximum is
        // refused (as Mosquitto does, 0x02), one below the minimum is given the minimum,
        // which only makes the broker wait longer.
        let mut keep_alive = connect.keep_alive;
        let mut server_keep_alive = None;
        if let Some(max) = config.limits.keep_alive_max
            && (keep_alive == 0 || keep_alive > max)
        {
            if !self.v5() {
                let reason = ReasonCode::ClientIdentifierNotValid;
                return Err(self.refuse(peer, reason, None).await);
            }
            keep_alive = max;
        }
        if let Some(min) = config.limits.keep_alive_min
            && keep_alive != 0
            && keep_alive < min
        {
            keep_alive = min;
        }
        if self.v5() && keep_alive != connect.keep_alive {
            server_keep_alive = Some(keep_alive);
        }
        self.keep_alive = (keep_alive > 0).then(|| Duration::from_millis(u64::from(keep_alive) * 1500));
        self.last_packet = Instant::now();

        self.window = usize::from(props.receive_maximum.unwrap_or(u16::MAX).min(config.limits.max_inflight));
        self.client_alias_max = props.topic_alias_maximum.unwrap_or(0);
        self.will = connect.will.map(Box::new);

        let (session, present) = self.attach(client_id.clone(), connect.clean_start, expiry).await?;
        if let Some(will) = &self.will
            && self.shared.storage.is_persistent()
        {
            // Kept while the connection is open, so that a crash does not lose it.
            let delay = if self.v5() { will.properties.will_delay_interval.unwrap_or(0) } else { 0 };
            let record = stored_will::encode_connected(will, delay, self.username.as_deref());
            self.shared.storage.submit(Op::PutWill(client_id.clone(), record));
        }

        let mut connack = ConnAck::new(ReasonCode::Success, present);
        if self.v5() {
            let features = &config.features;
            let max_qos = config.maximum_qos();
            connack.properties = ConnAckProperties {
                session_expiry_interval: (expiry != requested_expiry).then_some(expiry),
                receive_maximum: (config.limits.receive_maximum != u16::MAX)
                    .then_some(config.limits.receive_maximum),
                maximum_qos: (max_qos != QoS::ExactlyOnce).then_some(max_qos),
                retain_available: (!features.retain_available).then_some(false),
                maximum_packet_size: Some(config.limits.max_packet_size),
                assigned_client_identifier: assigned,
                topic_alias_maximum: (config.limits.topic_alias_maximum > 0)
                    .then_some(config.limits.topic_alias_maximum),
                wildcard_subscription_available: (!features.wildcard_subscriptions).then_some(false),
                subscription_identifiers_available: (!features.subscription_identifiers).then_some(false),
                shared_subscription_available: (!features.shared_subscriptions).then_some(false),
                server_keep_alive,
                response_information: match (
                    props.request_response_information,
                    &features.response_information_prefix,
                ) {
                    (Some(true), Some(prefix)) => Some(ByteString::from(format!("{prefix}{client_id}"))),
                    _ => None,
                },
                authentication_method: auth_reply.as_ref().map(|(m, _)| m.clone()),
                authentication_data: auth_reply.and_then(|(_, d)| d),
                ..ConnAckProperties::default()
            };
        }
        self.send(Packet::ConnAck(connack));
        tracing::debug!(
            peer = %peer,
            client_id = &*client_id,
            version = %self.version,
            session_present = present,
            "client connected"
        );

        // Resend what was in flight, in order, with DUP (MQTT-4.4.0-1), within the client's
        // Receive Maximum (MQTT-3.3.4-9): `pump` resends the rest as acknowledgements come.
        let resends = session.lock().start_resend(self.window);
        self.resend(&session, resends, Instant::now());
        self.session = Some(session);
        Ok(())
    }

    /// Writes in-flight entries again: a PUBLISH with DUP, or a PUBREL. One the client can no
    /// longer take (larger than its Maximum Packet Size) leaves the session.
    fn resend(&mut self, session: &Session, resends: Vec<Inflight>, now: Instant) {
        let mut unsendable = Vec::new();
        for entry in resends {
            match entry.state {
                OutState::Published => {
                    if self.write_publish(&entry.delivery, entry.packet_id, true, now) {
                        Counters::add(&self.shared.counters.messages_out, 1);
                    } else {
                        unsendable.push(entry.packet_id);
                    }
                }
                OutState::Released => self.send(Packet::PubRel(PubRel::new(entry.packet_id))),
            }
        }
        if !unsendable.is_empty() {
            let mut state = session.lock();
            for packet_id in unsendable {
                if let Some(pos) = state.inflight_position(packet_id)
                    && let Some(entry) = state.remove_inflight(pos)
                    && entry.delivery.store_id != 0
                {
                    let op = Op::DeleteMessage(session.client_id.clone(), entry.delivery.store_id);
                    self.shared.storage.submit(op);
                }
            }
        }
    }

    /// Attaches this connection to the client's session, taking it over from another
    /// connection if needed. Returns the session and whether it was resumed.
    async fn attach(
        &mut self,
        client_id: Arc<str>,
        clean_start: bool,
        expiry: u32,
    ) -> Result<(Arc<Session>, bool), Close> {
        // Take the session over from a connection that still holds it (MQTT-3.1.4-3).
        let existing = self.shared.sessions().get(&client_id).cloned();
        if let Some(existing) = existing {
            let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
            loop {
                let detached = existing.released.notified();
                tokio::pin!(detached);
                detached.as_mut().enable();
                {
                    let mut state = existing.lock();
                    if state.connection.is_none() {
                        break;
                    }
                    state.taken_over = true;
                }
                existing.notify.notify_one();
                if tokio::time::timeout_at(deadline, detached).await.is_err() {
                    tracing::warn!(
                        client_id = &*client_id,
                        "previous connection did not let go of the session"
                    );
                    // It will not detach (nor publish or delete its will) any more.
                    if self.shared.storage.is_persistent() {
                        self.shared.storage.submit(Op::DeleteWill(client_id.clone()));
                    }
                    break;
                }
            }
        }
        let version = self.version;
        let mut ended = None;
        let owner = Owner::Client(self.username.clone());
        let (session, present) = {
            let mut sessions = self.shared.sessions();
            let current = sessions.get(&client_id).cloned();
            // Under an ACL, a session is only resumed by its own user: another one would get
            // messages queued for the first and keep its subscriptions.
            let resumable =
                |session: &Session| self.shared.authorizer.is_none() || session.lock().owner == owner;
            match current {
                Some(session) if !clean_start && resumable(&session) => {
                    // Resumed before the Will Delay Interval passed: no will (MQTT-3.1.3-9).
                    if session.lock().pending_will.take().is_some() {
                        self.shared.storage.submit(Op::DeleteWill(client_id.clone()));
                    }
                    (session, true)
                }
                other => {
                    ended = other;
                    let session = Arc::new(Session::new(client_id.clone(), version));
                    sessions.insert(client_id.clone(), session.clone());
                    (session, false)
                }
            }
        };
        if let Some(old) = ended {
            // Clean Start ends the previous session; a will still pending goes out now. Its
            // stored records go before the new session writes its own.
            let (will, owner) = {
                let mut state = old.lock();
                state.discarded = true;
                (state.pending_will.take(), state.owner.clone())
            };
            self.shared.storage.submit(Op::DeleteSession(client_id.clone()));
            if let Some(pending) = will {
                self.shared.publish_will(&client_id, owner.username(), pending.will);
            }
            self.shared.discard_session(&old);
        }
        {
            let mut state = session.lock();
            state.connection = Some(self.id);
            state.owner = owner;
            state.taken_over = false;
            state.generation += 1;
            state.expiry_interval = expiry;
            state.expires_at = None;
            state.version = version;
            self.shared.persist_session(&session, &state);
        }
        session.set_online(true);
        Ok((session, present))
    }

    async fn main_loop(&mut self) -> Result<(), Close> {
        let session = self.session.clone().expect("attached");
        let mut read_chunk = MIN_READ;
        let sleep = tokio::time::sleep(self.keep_alive.unwrap_or(Duration::from_secs(86_400)));
        tokio::pin!(sleep);
        loop {
            // A congested subscriber stops the decoding of this connection's packets, even
            // within one read, until it drains (see `backpressure`).
            let mut decoded = false;
            while self.congested.is_empty() && self.throttle.as_mut().is_none_or(|t| t.may_handle()) {
                let Some(packet) = self.decoder.decode(&mut self.rbuf)? else { break };
                decoded = true;
                if let Some(auth) = self.handle(packet)? {
                    // Boxed: rare, and its future must not enlarge every connection's task.
                    Box::pin(self.on_auth(auth)).await?;
                }
            }
            if decoded {
                // Keep-alive counts whole packets (MQTT-3.1.2-22), not bytes trickling in.
                self.last_packet = Instant::now();
            }
            self.flush_outbox();
            loop {
                let more = self.pump(&session)?;
                self.flush().await?;
                if !more {
                    break;
                }
            }
            if !self.congested.is_empty() {
                // Boxed like `on_auth`.
                Box::pin(self.backpressure(&session)).await?;
                continue; // packets may still be buffered
            }
            if let Some((pause, new)) = self.throttle.as_mut().and_then(|t| t.pause()) {
                if new {
                    Counters::add(&self.shared.counters.throttled, 1);
                    tracing::debug!(
                        client_id = &*self.client_id,
                        ?pause,
                        "over a rate limit: reading paused"
                    );
                }
                // Boxed like `on_auth`.
                Box::pin(self.pause(&session, pause)).await?;
                continue; // packets may still be buffered
            }
            // A connection that is not streaming holds no read buffer while it waits (the
            // read allocates one when bytes arrive); a streaming one keeps a larger one.
            if self.rbuf.is_empty() && (read_chunk == MIN_READ || self.rbuf.capacity() > 2 * read_chunk) {
                self.rbuf = BytesMut::new();
                self.outbox = None;
            }
            if (read_chunk > MIN_READ || !self.rbuf.is_empty())
                && self.rbuf.capacity() - self.rbuf.len() < read_chunk
            {
                self.rbuf.reserve(read_chunk);
            }
            let spare = (self.rbuf.capacity() - self.rbuf.len()).max(MIN_READ);
            tokio::select! {
                biased;
                _ = self.shared.stop.wait() => return Err(Close::Shutdown),
                _ = session.notify.notified() => {
                    if session.lock().taken_over {
                        return Err(Close::TakenOver);
                    }
                }
                result = read_lazily(&mut self.stream, &mut self.rbuf) => match result {
                    Ok(0) | Err(_) => return Err(Close::Lost),
                    Ok(n) => {
                        Counters::add(&self.shared.counters.bytes_in, n as u64);
                        if let Some(throttle) = &mut self.throttle {
                            throttle.on_read(n);
                        }
                        // A read that filled the buffer: the peer is streaming, read more at
                        // a time (up to MAX_READ); a small read: shrink back.
                        if n >= spare {
                            read_chunk = (read_chunk * 2).min(MAX_READ);
                        } else if n < read_chunk / 4 {
                            read_chunk = (read_chunk / 2).max(MIN_READ);
                        }
                    }
                },
                _ = &mut sleep, if self.keep_alive.is_some() => {
                    let deadline = self.last_packet + self.keep_alive.unwrap_or_default();
                    if Instant::now() >= deadline {
                        tracing::debug!(client_id = &*self.client_id, "keep-alive timeout");
                        return Err(Close::KeepAlive);
                    }
                    sleep.as_mut().reset(deadline.into());
                }
            }
        }
    }

    /// Moves queued messages into the write buffer; true if it stopped at the high-water
    /// mark with more to send.
    ///
    /// QoS 0 deliveries are taken out of the queue in batches and encoded after the
    /// session's lock is released, so that publishers queueing more for this session do
    /// not wait for the encoding; QoS 1/2 deliveries get their packet identifier and
    /// inflight entry under the lock. Queue order is kept.
    fn pump(&mut self, session: &Arc<Session>) -> Result<bool, Close> {
        let shared = self.shared.clone();
        let counters = &shared.counters;
        let now = Instant::now();
        let mut dropped = Vec::new();
        let mut batch = Vec::new();
        let (mut taken, mut written) = (0u64, 0u64);
        let mut more = true;
        while more && self.wbuf.len() < WRITE_HIGH_WATER {
            let mut state = session.lock();
            if state.taken_over {
                drop(state);
                Counters::sub(&counters.queued, taken);
                return Err(Close::TakenOver);
            }
            if state.has_unsent_resends() {
                let resends = state.take_resends(self.window);
                drop(state);
                self.resend(session, resends, now);
                state = session.lock();
            }
            let mut room = WRITE_HIGH_WATER - self.wbuf.len();
            loop {
                let Some(delivery) = state.next_to_send(self.window, now, counters, &mut dropped) else {
                    more = false;
                    break;
                };
                taken += 1;
                if delivery.qos == QoS::AtMostOnce {
                    room = room
                        .saturating_sub(delivery.message.payload.len() + delivery.message.topic.len() + 8);
                    batch.push(delivery);
                    if room == 0 {
                        break;
                    }
                    continue;
                }
                if !batch.is_empty() {
                    // Written after the QoS 0 ones before it.
                    drop(state);
                    written += self.write_batch(&mut batch, now);
                    state = session.lock();
                }
                let packet_id = state.next_packet_id();
                if self.write_publish(&delivery, packet_id, false, now) {
                    written += 1;
                    if delivery.store_id != 0 {
                        let op = Op::SetState(
                            session.client_id.clone(),
                            delivery.store_id,
                            storage::state_byte(OutState::Published),
                            packet_id,
                        );
                        shared.storage.submit(op);
                    }
                    state.inflight.push_back(Inflight { packet_id, delivery, state: OutState::Published });
                } else if delivery.store_id != 0 {
                    dropped.push(delivery.store_id);
                }
                if self.wbuf.len() >= WRITE_HIGH_WATER {
                    break;
                }
            }
            if more {
                more = !state.queue.is_empty();
            }
            let drained = state.queue.len() < shared.congestion_mark();
            drop(state);
            written += self.write_batch(&mut batch, now);
            if drained {
                session.released.notify_waiters();
            }
        }
        Counters::sub(&counters.queued, taken);
        Counters::add(&counters.messages_out, written);
        shared.forget_stored(&session.client_id, &mut dropped);
        Ok(more)
    }

    /// Writes and empties a batch of QoS 0 deliveries; returns how many were written.
    fn write_batch(&mut self, batch: &mut Vec<Delivery>, now: Instant) -> u64 {
        let mut written = 0;
        for delivery in batch.drain(..) {
            written += u64::from(self.write_publish(&delivery, 0, false, now));
        }
        written
    }

    /// Encodes a PUBLISH for a delivery (with a topic alias when the client allows one);
    /// false if it was not sent: expired, or larger than the client's Maximum Packet Size
    /// (counted and logged; MQTT-3.1.2-25). The caller counts it in `messages_out`.
    fn write_publish(&mut self, delivery: &Delivery, packet_id: u16, dup: bool, now: Instant) -> bool {
        let message = &delivery.message;
        let nothing_specific = delivery.qos == message.qos
            && (!self.v5()
                || (delivery.subscription_ids.is_empty()
                    && message.expires_at.is_none()
                    && self.client_alias_max == 0));
        if nothing_specific
            && let Some(frame) = message.frames.get(message, self.version)
            && frame.len() <= self.client_max_packet as usize
        {
            let dup = dup && delivery.qos != QoS::AtMostOnce;
            frame::put(&mut self.wbuf, frame, dup, delivery.retain, packet_id, message.topic.len());
            return true;
        }
        let Some(mut publish) = delivery.to_publish(packet_id, dup, now) else {
            Counters::add(&self.shared.counters.expired, 1);
            return false;
        };
        if !self.v5() {
            publish.properties = Default::default();
        }
        let mut new_alias = None;
        if self.v5() && self.client_alias_max > 0 {
            let aliases = self.aliases.get_or_insert_with(Aliases::boxed);
            if let Some(&alias) = aliases.outbound.get(&publish.topic) {
                publish.properties.topic_alias = Some(alias);
                publish.topic = ByteString::new();
            } else if aliases.next <= u32::from(self.client_alias_max) {
                publish.properties.topic_alias = u16::try_from(aliases.next).ok();
                new_alias = u16::try_from(aliases.next).ok();
            }
        }
        // The content was validated when the message was decoded (and a will's with its
        // CONNECT): sized and encoded without the content checks.
        let len = publish.wire_len(self.version);
        if len > self.client_max_packet as usize {
            Counters::add(&self.shared.counters.dropped, 1);
            tracing::warn!(
                client_id = &*self.client_id,
                topic = %delivery.message.topic,
                size = len,
                maximum = self.client_max_packet,
                "message larger than the client's Maximum Packet Size: dropped for this client"
            );
            return false;
        }
        if let Some(alias) = new_alias
            && let Some(aliases) = self.aliases.as_mut()
        {
            aliases.outbound.insert(delivery.message.topic.clone(), alias);
            aliases.next += 1;
        }
        if let Err(error) = publish.encode_unchecked(self.version, &mut self.wbuf) {
            // Only structural limits remain (a body over 268,435,455 bytes).
            tracing::error!(%error, "cannot encode PUBLISH; dropped");
            Counters::add(&self.shared.counters.dropped, 1);
            return false;
        }
        true
    }

    /// Handles a packet; an AUTH is handed back for [`Self::on_auth`] (asynchronous).
    fn handle(&mut self, packet: Packet) -> Result<Option<Box<Auth>>, Close> {
        if !matches!(&packet, Packet::Publish(p) if p.qos == QoS::AtMostOnce) {
            // Whatever this packet does comes after the QoS 0 messages before it.
            self.flush_outbox();
        }
        match packet {
            Packet::Publish(publish) => self.on_publish(publish).map(|()| None),
            Packet::PubAck(ack) => {
                self.complete(ack.packet_id, OutState::Published, QoS::AtLeastOnce);
                Ok(None)
            }
            Packet::PubRec(rec) => {
                self.on_pubrec(rec);
                Ok(None)
            }
            Packet::PubComp(comp) => {
                self.complete(comp.packet_id, OutState::Released, QoS::ExactlyOnce);
                Ok(None)
            }
            Packet::PubRel(rel) => {
                let session = self.session().clone();
                let known = session.lock().incoming_qos2.remove(&rel.packet_id);
                if known {
                    self.shared.storage.submit(Op::DeleteQos2(session.client_id.clone(), rel.packet_id));
                }
                let reason = if known { ReasonCode::Success } else { ReasonCode::PacketIdentifierNotFound };
                self.send(Packet::PubComp(PubComp::new(rel.packet_id).with_reason(reason)));
                Ok(None)
            }
            Packet::Subscribe(subscribe) => self.on_subscribe(subscribe).map(|()| None),
            Packet::Unsubscribe(unsubscribe) => {
                self.on_unsubscribe(unsubscribe);
                Ok(None)
            }
            Packet::PingReq => {
                self.send(Packet::PingResp);
                Ok(None)
            }
            Packet::Disconnect(disconnect) => self.on_disconnect(disconnect).map(|()| None),
            Packet::Auth(auth) => Ok(Some(Box::new(auth))),
            // MQTT-3.1.0-2: a second CONNECT is a Protocol Error.
            Packet::Connect(_) => Err(Close::Violation(ReasonCode::ProtocolError)),
            // Packets only a server sends.
            Packet::ConnAck(_) | Packet::SubAck(_) | Packet::UnsubAck(_) | Packet::PingResp => {
                Err(Close::Violation(ReasonCode::ProtocolError))
            }
        }
    }

    fn session(&self) -> &Arc<Session> {
        self.session.as_ref().expect("attached")
    }

    fn ack_properties(&self, reason: &str) -> AckProperties {
        AckProperties {
            reason_string: self.problem_info.then(|| ByteString::from(reason)),
            user_properties: Vec::new(),
        }
    }

    fn on_publish(&mut self, publish: Publish) -> Result<(), Close> {
        if let Some(throttle) = &mut self.throttle {
            throttle.on_publish();
        }
        let config = &self.shared.config;
        if !publish.properties.subscription_identifiers.is_empty() {
            // MQTT-3.3.4-6: only the server sends Subscription Identifiers.
            return Err(Close::Violation(ReasonCode::ProtocolError));
        }
        if publish.qos > config.maximum_qos() {
            return Err(Close::Violation(ReasonCode::QosNotSupported));
        }
        if publish.retain && !config.features.retain_available {
            return Err(Close::Violation(ReasonCode::RetainNotSupported));
        }
        // Topic alias from the client (MQTT 5.0 §3.3.2.3.4).
        let topic = match publish.properties.topic_alias {
            Some(alias) if alias == 0 || alias > config.limits.topic_alias_maximum => {
                return Err(Close::Violation(ReasonCode::TopicAliasInvalid));
            }
            Some(alias) if publish.topic.is_empty() => {
                match self.aliases.as_ref().and_then(|a| a.inbound.get(&alias)) {
                    Some(topic) => topic.clone(),
                    None => return Err(Close::Violation(ReasonCode::ProtocolError)),
                }
            }
            Some(alias) => {
                self.aliases.get_or_insert_with(Aliases::boxed).inbound.insert(alias, publish.topic.clone());
                publish.topic.clone()
            }
            None => publish.topic.clone(),
        };
        let (qos, packet_id, retain) = (publish.qos, publish.packet_id, publish.retain);
        if qos == QoS::ExactlyOnce {
            let session = self.session().clone();
            let state = session.lock();
            if state.incoming_qos2.contains(&packet_id) {
                // A retransmission of a PUBLISH already accepted: acknowledge, do not route
                // again (exactly once).
                drop(state);
                self.send(Packet::PubRec(PubRec::new(packet_id)));
                return Ok(());
            }
            if state.incoming_qos2.len() >= usize::from(config.limits.receive_maximum) {
                return Err(Close::Violation(ReasonCode::ReceiveMaximumExceeded));
            }
        }
        // Clients cannot publish to $SYS (reserved for the broker).
        if sys_topics::is_sys_topic(&topic) {
            tracing::debug!(client_id = &*self.client_id, %topic, "PUBLISH to $SYS refused");
            self.refuse_publish(qos, packet_id, "clients may not publish to $SYS topics");
            return Ok(());
        }
        if !self.shared.may_publish(&self.client_id, self.username.as_deref(), &topic, "PUBLISH") {
            self.refuse_publish(qos, packet_id, "not authorized to publish to this topic");
            return Ok(());
        }
        let message = Message::from_publish(
            publish,
            topic,
            Some(self.client_id.clone()),
            config.limits.max_message_expiry,
        );
        if qos == QoS::ExactlyOnce {
            // Before routing: the stored QoS 2 state is then never older than the stored
            // message, so a retransmission after a crash is not routed twice.
            self.accept_qos2(packet_id);
        }
        if qos == QoS::AtMostOnce {
            let outbox = self.outbox.get_or_insert_with(Box::default);
            self.shared.route_qos0(Arc::new(message), outbox);
            if outbox.is_full() {
                self.flush_outbox();
            }
            return Ok(());
        }
        let mut outcome = self.shared.route(Arc::new(message));
        self.congested.append(&mut outcome.congested);
        let (reason, properties) = if outcome.refused > 0 && self.v5() {
            (ReasonCode::QuotaExceeded, self.ack_properties("a subscriber's queue is full"))
        } else if outcome.refused > 0 {
            tracing::warn!(
                client_id = &*self.client_id,
                refused = outcome.refused,
                "QoS 1/2 message refused by full subscriber queues (MQTT 3.1.1 publisher cannot be told)"
            );
            (ReasonCode::Success, AckProperties::default())
        } else if outcome.delivered == 0 && self.v5() {
            (ReasonCode::NoMatchingSubscribers, AckProperties::default())
        } else {
            (ReasonCode::Success, AckProperties::default())
        };
        match qos {
            QoS::AtLeastOnce => {
                self.send(Packet::PubAck(PubAck { packet_id, reason_code: reason, properties }))
            }
            _ => {
                if reason.is_error() {
                    let session = self.session().clone();
                    if session.lock().incoming_qos2.remove(&packet_id) {
                        self.shared.storage.submit(Op::DeleteQos2(session.client_id.clone(), packet_id));
                    }
                }
                self.send(Packet::PubRec(PubRec { packet_id, reason_code: reason, properties }));
            }
        }
        if outcome.stored || retain {
            self.durable = self.shared.storage.ticket();
        }
        Ok(())
    }

    /// Answers a PUBLISH that is not routed: MQTT 5 QoS 1/2 with 0x87 Not authorized in
    /// PUBACK / PUBREC (one of their reason codes, `MQTT-3.4.2-1`, `MQTT-3.5.2-1`); 3.1.1,
    /// which has no way to say it, acknowledged according to the normal QoS rules
    /// (`MQTT-3.3.5-2`, as Mosquitto does); QoS 0 dropped.
    fn refuse_publish(&mut self, qos: QoS, packet_id: u16, reason_string: &str) {
        let reason = if self.v5() { ReasonCode::NotAuthorized } else { ReasonCode::Success };
        let properties = self.ack_properties(reason_string);
        match qos {
            QoS::AtMostOnce => {}
            QoS::AtLeastOnce => {
                self.send(Packet::PubAck(PubAck { packet_id, reason_code: reason, properties }))
            }
            QoS::ExactlyOnce => {
                self.send(Packet::PubRec(PubRec { packet_id, reason_code: reason, properties }));
                if reason == ReasonCode::Success {
                    self.accept_qos2(packet_id);
                }
            }
        }
    }

    /// Queues the QoS 0 deliveries routed so far.
    fn flush_outbox(&mut self) {
        if let Some(outbox) = self.outbox.as_mut().filter(|o| !o.is_empty()) {
            self.shared.flush_outbox(outbox);
        }
    }

    /// Remembers an incoming QoS 2 packet identifier until PUBREL (stored for persistent
    /// sessions, durably before PUBREC under `sync`, so that a retransmission after a
    /// restart is not delivered again).
    fn accept_qos2(&mut self, packet_id: u16) {
        let session = self.session().clone();
        let mut state = session.lock();
        state.incoming_qos2.insert(packet_id);
        if state.expiry_interval > 0 && self.shared.storage.is_persistent() {
            self.shared.storage.submit(Op::PutQos2(session.client_id.clone(), packet_id));
            drop(state);
            self.durable = self.shared.storage.ticket();
        }
    }

    /// Backpressure (QoS 1/2): waits until the online sessions this connection's
    /// publications congested have drained below half their queue limit, at most 5 s, so
    /// that a fast publisher is slowed down (TCP backpressure) instead of overflowing a
    /// subscriber that keeps up in the long run.
    async fn backpressure(&mut self, own: &Arc<Session>) -> Result<(), Close> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        let mark = self.shared.congestion_mark();
        let shared = self.shared.clone();
        for session in std::mem::take(&mut self.congested) {
            if Arc::ptr_eq(&session, own) {
                continue;
            }
            loop {
                let drained = session.released.notified();
                tokio::pin!(drained);
                drained.as_mut().enable();
                {
                    let state = session.lock();
                    if state.queue.len() < mark || state.discarded || !session.is_online() {
                        break;
                    }
                }
                let timed_out = tokio::select! {
                    _ = drained => false,
                    _ = tokio::time::sleep_until(deadline) => true,
                    _ = shared.stop.wait() => return Err(Close::Shutdown),
                };
                if timed_out {
                    tracing::warn!(
                        publisher = &*self.client_id,
                        subscriber = &*session.client_id,
                        "subscriber does not drain its queue: publishers are not slowed down for it for \
                         30 s (its queue limits apply; refused messages are counted)"
                    );
                    session.lock().backpressure_off_until = Some(Instant::now() + Duration::from_secs(30));
                    return Ok(());
                }
            }
        }
        Ok(())
    }

    /// PUBACK or PUBCOMP: the outgoing message leaves the inflight window.
    fn complete(&mut self, packet_id: u16, expected: OutState, qos: QoS) {
        let session = self.session().clone();
        let mut state = session.lock();
        if let Some(pos) = state.inflight_position(packet_id) {
            let entry = &state.inflight[pos];
            if entry.state == expected && entry.delivery.qos == qos {
                if let Some(done) = state.remove_inflight(pos)
                    && done.delivery.store_id != 0
                {
                    self.shared
                        .storage
                        .submit(Op::DeleteMessage(session.client_id.clone(), done.delivery.store_id));
                }
                return;
            }
        }
        tracing::debug!(
            client_id = &*self.client_id,
            packet_id,
            "acknowledgement for an unknown packet identifier"
        );
    }

    fn on_pubrec(&mut self, rec: PubRec) {
        let session = self.session().clone();
        let mut state = session.lock();
        let found = state.inflight_position(rec.packet_id).filter(|&pos| {
            let entry = &state.inflight[pos];
            entry.delivery.qos == QoS::ExactlyOnce
        });
        match found {
            Some(pos) if rec.reason_code.is_error() => {
                if let Some(done) = state.remove_inflight(pos)
                    && done.delivery.store_id != 0
                {
                    self.shared
                        .storage
                        .submit(Op::DeleteMessage(session.client_id.clone(), done.delivery.store_id));
                }
            }
            Some(pos) => {
                state.inflight[pos].state = OutState::Released;
                let store_id = state.inflight[pos].delivery.store_id;
                if store_id != 0 {
                    let released = storage::state_byte(OutState::Released);
                    let op = Op::SetState(session.client_id.clone(), store_id, released, rec.packet_id);
                    self.shared.storage.submit(op);
                }
                drop(state);
                self.send(Packet::PubRel(PubRel::new(rec.packet_id)));
            }
            None => {
                drop(state);
                let rel = PubRel::new(rec.packet_id).with_reason(ReasonCode::PacketIdentifierNotFound);
                self.send(Packet::PubRel(rel));
            }
        }
    }

    fn on_subscribe(&mut self, subscribe: Subscribe) -> Result<(), Close> {
        let config = &self.shared.config;
        let features = &config.features;
        let subscription_id = subscribe.properties.subscription_identifier;
        if subscription_id.is_some() && !features.subscription_identifiers {
            return Err(Close::Violation(ReasonCode::SubscriptionIdentifiersNotSupported));
        }
        let session = self.session().clone();
        let mut reasons = Vec::with_capacity(subscribe.subscriptions.len());
        let mut retained = Vec::new();
        for subscription in &subscribe.subscriptions {
            let parsed = match TopicFilter::parse(&subscription.filter) {
                Ok(parsed) => parsed,
                Err(_) => {
                    reasons.push(ReasonCode::TopicFilterInvalid);
                    continue;
                }
            };
            if parsed.is_shared() && !features.shared_subscriptions {
                reasons.push(ReasonCode::SharedSubscriptionsNotSupported);
                continue;
            }
            if parsed.has_wildcards() && !features.wildcard_subscriptions {
                reasons.push(ReasonCode::WildcardSubscriptionsNotSupported);
                continue;
            }
            // Shared subscriptions are checked on their filter, without `$share/{group}/`.
            if let Some(authorizer) = &self.shared.authorizer {
                let client =
                    ClientIdentity { client_id: &self.client_id, username: self.username.as_deref() };
                if !authorizer.authorize_subscribe(&client, parsed.filter) {
                    Counters::add(&self.shared.counters.subscribe_denied, 1);
                    tracing::warn!(
                        client_id = &*self.client_id,
                        username = self.username.as_deref(),
                        filter = &*subscription.filter,
                        "SUBSCRIBE denied: not authorized to read"
                    );
                    // A reason code per filter (MQTT-3.8.4-6, MQTT-3.9.3-2): 0x87 Not
                    // authorized in MQTT 5, 0x80 Failure in 3.1.1 (the encoder maps it).
                    reasons.push(ReasonCode::NotAuthorized);
                    continue;
                }
            }
            let mut options = subscription.options;
            options.qos = options.qos.min(config.maximum_qos());
            if !self.v5() {
                options.no_local = false;
                options.retain_as_published = false;
                options.retain_handling = RetainHandling::SendAtSubscribe;
            }
            let entry = SubscriptionEntry { options, id: subscription_id };
            let existed =
                write(self.shared.router()).subscribe(parsed.filter, parsed.share_group, &session, entry);
            if !existed {
                Counters::add(&self.shared.counters.subscriptions, 1);
            }
            {
                let mut state = session.lock();
                state.subscriptions.insert(subscription.filter.clone(), entry);
                self.shared.persist_subscriptions(&session, &state);
            }
            reasons.push(match options.qos {
                QoS::AtMostOnce => ReasonCode::Success,
                QoS::AtLeastOnce => ReasonCode::GrantedQos1,
                QoS::ExactlyOnce => ReasonCode::GrantedQos2,
            });
            // Retained messages (MQTT-3.3.1-9..11); none for shared subscriptions.
            let send_retained = !parsed.is_shared()
                && match options.retain_handling {
                    RetainHandling::SendAtSubscribe => true,
                    RetainHandling::SendIfNewSubscription => !existed,
                    RetainHandling::DoNotSend => false,
                };
            if send_retained && features.retain_available {
                for message in self.shared.retained_matching(parsed.filter) {
                    retained.push(Delivery {
                        qos: message.qos.min(options.qos),
                        retain: true,
                        subscription_ids: subscription_id.into_iter().collect(),
                        shared: None,
                        store_id: 0,
                        message,
                    });
                }
            }
        }
        let mut suback = SubAck::new(subscribe.packet_id, reasons);
        if self.problem_info && suback.reason_codes.iter().any(|r| r.is_error()) {
            suback.properties.reason_string = Some("one or more subscriptions were refused".into());
        }
        self.send(Packet::SubAck(suback));
        for delivery in retained {
            self.shared.deliver(&session, delivery);
        }
        Ok(())
    }

    fn on_unsubscribe(&mut self, unsubscribe: Unsubscribe) {
        let session = self.session().clone();
        let mut reasons = Vec::with_capacity(unsubscribe.filters.len());
        for filter in &unsubscribe.filters {
            let removed = match TopicFilter::parse(filter) {
                Ok(parsed) => {
                    let removed =
                        write(self.shared.router()).unsubscribe(parsed.filter, parsed.share_group, &session);
                    {
                        let mut state = session.lock();
                        state.subscriptions.remove(filter);
                        self.shared.persist_subscriptions(&session, &state);
                    }
                    if removed {
                        Counters::sub(&self.shared.counters.subscriptions, 1);
                    }
                    if removed { ReasonCode::Success } else { ReasonCode::NoSubscriptionExisted }
                }
                Err(_) => ReasonCode::TopicFilterInvalid,
            };
            reasons.push(removed);
        }
        self.send(Packet::UnsubAck(UnsubAck::new(unsubscribe.packet_id, reasons)));
    }

    fn on_disconnect(&mut self, disconnect: Disconnect) -> Result<(), Close> {
        if let Some(expiry) = disconnect.properties.session_expiry_interval {
            let session = self.session().clone();
            let mut state = session.lock();
            if state.expiry_interval == 0 && expiry != 0 {
                // MQTT-3.14.2-2.
                return Err(Close::Violation(ReasonCode::ProtocolError));
            }
            let max = self.shared.config.limits.max_session_expiry;
            state.expiry_interval = max.map_or(expiry, |max| expiry.min(max));
        }
        Err(Close::Client { will: disconnect.reason_code != ReasonCode::Success })
    }

    /// Re-authentication (MQTT 5.0 §4.12.1).
    async fn on_auth(&mut self, auth: Box<Auth>) -> Result<(), Close> {
        let Some(state) = self.auth.as_mut() else {
            return Err(Close::Violation(ReasonCode::ProtocolError));
        };
        let method = state.method.clone();
        if auth.properties.authentication_method.as_ref() != Some(&method) {
            return Err(Close::Violation(ReasonCode::ProtocolError));
        }
        let mut exchange = match (auth.reason_code, state.reauth.take()) {
            (ReasonCode::ReAuthenticate, _) => match self.shared.authenticator.start(&method) {
                Some(exchange) => exchange,
                None => return Err(Close::Violation(ReasonCode::BadAuthenticationMethod)),
            },
            (ReasonCode::ContinueAuthentication, Some(exchange)) => exchange,
            _ => return Err(Close::Violation(ReasonCode::ProtocolError)),
        };
        match exchange.step(auth.properties.authentication_data).await {
            AuthStep::Continue(data) => {
                self.send(Packet::Auth(Auth::new(ReasonCode::ContinueAuthentication, method, Some(data))));
                if let Some(state) = self.auth.as_mut() {
                    state.reauth = Some(exchange);
                }
                Ok(())
            }
            AuthStep::Success(data) => {
                // Re-authentication proves the same identity again; it cannot switch users.
                if let Some(username) = exchange.username()
                    && self.username.as_deref() != Some(username)
                {
                    tracing::warn!(
                        client_id = &*self.client_id,
                        username,
                        "re-authentication as another user refused"
                    );
                    return Err(Close::Violation(ReasonCode::NotAuthorized));
                }
                self.send(Packet::Auth(Auth::new(ReasonCode::Success, method, data)));
                Ok(())
            }
            AuthStep::Failure(reason) => {
                let reason = if reason.allowed_in(crate::protocol::PacketType::Disconnect) {
                    reason
                } else {
                    ReasonCode::NotAuthorized
                };
                Err(Close::Violation(reason))
            }
        }
    }

    /// Ends the connection: tells an MQTT 5 client why, then detaches from the session,
    /// arranging the will and session expiry.
    async fn finish(&mut self, result: Result<(), Close>) {
        // Messages received before the end are delivered (before any will).
        self.flush_outbox();
        self.outbox = None;
        let close = result.err().unwrap_or(Close::Lost);
        let code = match close {
            Close::Violation(code) => Some(code),
            Close::KeepAlive => Some(ReasonCode::KeepAliveTimeout),
            Close::TakenOver => Some(ReasonCode::SessionTakenOver),
            Close::Shutdown => Some(ReasonCode::ServerShuttingDown),
            Close::Client { .. } | Close::Lost | Close::Refused => None,
        };
        if let Some(code) = code {
            if self.v5() && self.session.is_some() {
                self.send(Packet::Disconnect(Disconnect::new(code)));
            }
            // Whatever is buffered (acks, the DISCONNECT) goes out, within a bound.
            let bytes = self.wbuf.len();
            let write = async {
                self.stream.write_all(&self.wbuf).await?;
                self.stream.flush().await
            };
            if matches!(tokio::time::timeout(Duration::from_secs(1), write).await, Ok(Ok(()))) {
                Counters::add(&self.shared.counters.bytes_out, bytes as u64);
            }
        }
        let _ = tokio::time::timeout(Duration::from_secs(1), self.stream.shutdown()).await;
        let Some(session) = self.session.take() else { return };
        let send_will = match close {
            Close::Client { will } => will,
            // The server closes the connection on shutdown: the will applies (MQTT-3.1.2-8).
            Close::Refused => false,
            Close::Lost | Close::Violation(_) | Close::KeepAlive | Close::TakenOver | Close::Shutdown => true,
        };
        tracing::debug!(client_id = &*self.client_id, ?close, "client disconnected");
        let will_stored = self.will.is_some() && self.shared.storage.is_persistent();
        let will = if send_will { self.will.take() } else { None };
        self.detach(session, will, will_stored, close == Close::Shutdown);
    }

    /// Detaches from the session. `will` is the will to publish now or after its delay;
    /// `will_stored` says whether the connection's will is in storage (to be replaced by the
    /// pending one, or deleted).
    fn detach(&self, session: Arc<Session>, will: Option<Box<Will>>, will_stored: bool, shutting_down: bool) {
        let now = Instant::now();
        let mut publish_now = None;
        let end = {
            let mut state = session.lock();
            if state.connection != Some(self.id) {
                return;
            }
            state.connection = None;
            state.generation += 1;
            session.set_online(false);
            let expiry = state.expiry_interval;
            // MQTT 3.1.1 has no Will Delay Interval.
            let delay = match &will {
                Some(will) if self.v5() => will.properties.will_delay_interval.unwrap_or(0).min(expiry),
                _ => 0,
            };
            if will_stored && delay == 0 {
                self.shared.storage.submit(Op::DeleteWill(session.client_id.clone()));
            }
            if let Some(will) = will {
                if delay == 0 {
                    publish_now = Some(*will);
                } else {
                    let due = now + Duration::from_secs(delay.into());
                    if self.shared.storage.is_persistent() {
                        let record = stored_will::encode(&will, due);
                        self.shared.storage.submit(Op::PutWill(session.client_id.clone(), record));
                    }
                    state.pending_will = Some(Box::new(PendingWill { will: *will, due }));
                    self.shared.schedule_will(due, session.client_id.clone(), state.generation);
                }
            }
            self.shared.persist_session(&session, &state);
            let end = expiry == 0 && !shutting_down;
            if !end && expiry != u32::MAX && !shutting_down {
                let at = now + Duration::from_secs(expiry.into());
                state.expires_at = Some(at);
                self.shared.schedule_expiry(at, session.client_id.clone(), state.generation);
            }
            end
        };
        if let Some(will) = publish_now {
            self.shared.publish_will(&session.client_id, self.username.as_deref(), will);
        }
        if end {
            self.shared.discard_session(&session);
        }
        session.released.notify_waiters();
    }
}
