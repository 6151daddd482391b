//! Serving one established connection: reading and dispatching packets, turning commands
//! into packets, flow control, keep-alive, and writing in batches.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::Ordering;
use std::time::Duration;

use bytes::BytesMut;
use bytestring::ByteString;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::io::{ReadHalf, WriteHalf};
use tokio::time::Instant;

use super::command::{Command, Reply, complete};
use super::options::ClientOptions;
use super::results::{AuthResult, ConnectResult, DisconnectInfo, PingResult, PublishResult};
use super::session::{self, Stage};
use super::worker::{CLOSE_TIMEOUT, READ_CHUNK, WRITE_HIGH_WATER, Worker, normal_disconnect};
use crate::dispatch::Event;
use crate::error::{Error, Operation, Result};
use crate::protocol::{
    ConnAck, Decoder, Disconnect, Packet, ProtocolError, ProtocolVersion, PubRel, Publish, QoS, ReasonCode,
    Subscription,
};
use crate::transport::Stream;

/// A wait as good as endless (30 years), for limits given as `NO_TIMEOUT`.
const ENDLESS: Duration = Duration::from_secs(30 * 365 * 24 * 3600);

mod incoming;
mod outgoing;

/// How a connection ended.
pub(crate) enum End {
    /// The application disconnected. (A DISCONNECT from the server is a loss.)
    Disconnected(DisconnectInfo, Reply<()>),
    /// The application shut the client down.
    Shutdown(Reply<()>),
    /// The network connection failed or the server closed it.
    Lost(Error),
}

/// What the server allows on this connection (CONNACK properties and defaults).
#[derive(Debug, Clone)]
pub(crate) struct ServerLimits {
    receive_maximum: usize,
    maximum_qos: QoS,
    retain_available: bool,
    maximum_packet_size: Option<usize>,
    topic_alias_maximum: u16,
    wildcards: bool,
    shared_subscriptions: bool,
    subscription_identifiers: bool,
    keep_alive: Duration,
}

impl ServerLimits {
    pub(crate) fn from_connack(options: &ClientOptions, connack: &ConnAck) -> Self {
        let p = &connack.properties;
        ServerLimits {
            receive_maximum: p.receive_maximum.unwrap_or(u16::MAX).min(options.max_inflight) as usize,
            maximum_qos: p.maximum_qos.unwrap_or(QoS::ExactlyOnce),
            retain_available: p.retain_available.unwrap_or(true),
            maximum_packet_size: p.maximum_packet_size.map(|size| size as usize),
            topic_alias_maximum: p.topic_alias_maximum.unwrap_or(0),
            wildcards: p.wildcard_subscription_available.unwrap_or(true),
            shared_subscriptions: p.shared_subscription_available.unwrap_or(true),
            subscription_identifiers: p.subscription_identifiers_available.unwrap_or(true),
            keep_alive: Duration::from_secs(p.server_keep_alive.unwrap_or(options.keep_alive).into()),
        }
    }
}

/// Per-connection state.
struct Link {
    version: ProtocolVersion,
    limits: ServerLimits,
    decoder: Decoder,
    read_buf: BytesMut,
    write_buf: BytesMut,
    /// Topic aliases the server set up towards us.
    aliases_in: HashMap<u16, ByteString>,
    /// Topic aliases we set up towards the server automatically.
    aliases_out: HashMap<ByteString, u16>,
    /// Topic aliases the application set up on this connection (alias to topic), as its
    /// publications were accepted (some may still wait for Receive Maximum).
    aliases_chosen: HashMap<u16, ByteString>,
    /// What the server knows of them: the aliases the PUBLISH packets sent so far set up.
    aliases_sent: HashMap<u16, ByteString>,
    /// QoS 1 messages delivered to the application and not yet acknowledged (auto-ack off).
    unacked_qos1: std::collections::HashSet<u16>,
    /// QoS 1/2 publications waiting for a slot under the server's Receive Maximum.
    waiting: VecDeque<(Publish, Reply<PublishResult>)>,
    /// PINGREQs sent and not answered yet, oldest first.
    pings: VecDeque<(Instant, Ping)>,
    keep_alive_ping: Option<Instant>,
    last_sent: Instant,
    /// The caller of a re-authentication in progress.
    auth: Reply<AuthResult>,
    /// The authenticator's exchange, when the re-authentication runs automatically.
    auth_exchange: Option<Box<dyn super::AuthExchange>>,
}

/// Who sent a PINGREQ.
enum Ping {
    /// Keep-alive, because nothing else was sent for a keep-alive interval.
    KeepAlive,
    /// The application.
    Requested(Reply<PingResult>),
}

impl Link {
    fn encode(&mut self, packet: &Packet) -> Result<()> {
        packet.encode(self.version, &mut self.write_buf).map_err(|error| Error::Internal(error.to_string()))
    }

    /// Encodes a packet built from the application's arguments: one the encoder refuses
    /// (nothing is written then) is the caller's error, not the connection's.
    fn encode_request(&mut self, packet: &Packet) -> Result<()> {
        packet
            .encode(self.version, &mut self.write_buf)
            .map_err(|error| Error::InvalidArgument(error.to_string()))
    }
}

fn violation(reason_code: ReasonCode, message: impl Into<String>) -> Error {
    Error::ProtocolViolation { reason_code, message: message.into() }
}

impl Worker {
    /// Serves a connection until it ends.
    pub(crate) async fn serve(
        &mut self,
        stream: Box<dyn Stream>,
        read_buf: BytesMut,
        connack: ConnAck,
        reply: Reply<ConnectResult>,
    ) -> End {
        self.connection_id += 1;
        let version = self.options.protocol_version;
        let mut decoder = Decoder::new(version);
        if let Some(max) = self.options.maximum_packet_size {
            decoder.set_max_packet_size(max as usize);
        }
        let mut link = Link {
            version,
            limits: self.limits(&connack),
            decoder,
            read_buf,
            write_buf: BytesMut::with_capacity(16 * 1024),
            aliases_in: HashMap::new(),
            aliases_out: HashMap::new(),
            aliases_chosen: HashMap::new(),
            aliases_sent: HashMap::new(),
            unacked_qos1: Default::default(),
            waiting: VecDeque::new(),
            pings: VecDeque::new(),
            keep_alive_ping: None,
            last_sent: Instant::now(),
            auth: None,
            auth_exchange: None,
        };
        let result = Self::connect_result(&connack);
        self.restore_session(&mut link, connack.session_present);
        self.first_connect_done = true;
        if let Some(assigned) = &connack.properties.assigned_client_identifier {
            self.assigned_client_id = Some(assigned.to_string());
        }
        self.shared.connected.store(true, Ordering::Release);
        self.events.emit(Event::Connected(result.clone()));
        complete(reply, Ok(result));
        let mut ended = None;
        while let Some(command) = self.offline.pop_front() {
            ended = self.command(&mut link, command);
            if ended.is_some() {
                break;
            }
        }
        let (mut reader, mut writer) = tokio::io::split(stream);
        // An end while the buffered commands go out is handled like any other (close, then
        // what was in flight waits for the next connection).
        let end = match ended {
            Some(end) => end,
            None => self.serve_loop(&mut link, &mut reader, &mut writer).await,
        };
        self.close(&mut link, &mut writer, &end).await;
        self.end_link(&mut link, &end);
        end
    }

    async fn serve_loop(
        &mut self,
        link: &mut Link,
        reader: &mut ReadHalf<Box<dyn Stream>>,
        writer: &mut WriteHalf<Box<dyn Stream>>,
    ) -> End {
        let mut batch = Vec::with_capacity(256);
        // Packets already read with the CONNACK.
        if let Some(end) = self.read_packets(link) {
            return end;
        }
        let keep_alive = link.limits.keep_alive;
        // `NO_TIMEOUT` (Duration::MAX) cannot be added to an instant: capped to a wait as good
        // as endless.
        let ping_timeout = self.options.timeouts.ping.unwrap_or(keep_alive).min(ENDLESS);
        // Armed lazily: when it fires early (traffic moved the deadline), it is re-armed, so
        // the timer is touched once per keep-alive interval, not once per packet.
        let timer = tokio::time::sleep_until(link.last_sent + keep_alive);
        tokio::pin!(timer);
        loop {
            // Commands wait in their (bounded) channel while the write buffer is full, while
            // too many wait for the server's Receive Maximum, and while the events they may
            // cause could not be handed over (a slow sink): nothing grows without bound.
            let accept_commands = link.write_buf.len() < WRITE_HIGH_WATER
                && link.waiting.len() < self.options.command_queue_size
                && self.events.backlog() < self.options.command_queue_size;
            if link.read_buf.capacity() - link.read_buf.len() < READ_CHUNK / 4 {
                link.read_buf.reserve(READ_CHUNK);
            }
            tokio::select! {
                biased;
                written = writer.write_buf(&mut link.write_buf), if !link.write_buf.is_empty() => {
                    match written {
                        Ok(0) => return End::Lost(lost("the connection was closed while writing")),
                        Ok(_) => link.last_sent = Instant::now(),
                        Err(error) => return End::Lost(Error::network(&error)),
                    }
                }
                () = self.events.drain(), if self.events.is_backed_up() => {}
                read = reader.read_buf(&mut link.read_buf), if !self.events.is_backed_up() => {
                    match read {
                        Ok(0) => return End::Lost(lost("the server closed the connection")),
                        Ok(_) => if let Some(end) = self.read_packets(link) { return end },
                        Err(error) => return End::Lost(Error::network(&error)),
                    }
                }
                count = self.commands.recv_many(&mut batch, 256), if accept_commands => {
                    if count == 0 {
                        return End::Shutdown(None);
                    }
                    let mut commands = batch.drain(..);
                    while let Some(command) = commands.next() {
                        if let Some(end) = self.command(link, command) {
                            // Later commands of the batch are handled in the state the
                            // client is in next (idle, reconnecting, shut down), in order.
                            self.replay.extend(commands);
                            return end;
                        }
                    }
                }
                Some(ack) = self.acks.recv() => {
                    if let Err(error) = self.manual_ack(link, ack) {
                        return End::Lost(error);
                    }
                }
                () = &mut timer, if !keep_alive.is_zero() => {
                    let now = Instant::now();
                    match link.keep_alive_ping {
                        Some(sent) if now >= sent + ping_timeout => {
                            if !self.events.is_backed_up() {
                                return End::Lost(Error::Timeout { operation: Operation::Ping, timeout: ping_timeout });
                            }
                            // Not reading while the event sink catches up: the PINGRESP may be
                            // in the socket. The wait restarts once reading does.
                            link.keep_alive_ping = Some(now);
                        }
                        // Still unanswered, and a keep-alive has passed since we last sent
                        // anything: another PINGREQ keeps us within it (MQTT-3.1.2-20); the
                        // first one's deadline stands.
                        Some(_) if now >= link.last_sent + keep_alive => {
                            if let Err(error) = link.encode(&Packet::PingReq) {
                                return End::Lost(error);
                            }
                            link.pings.push_back((now, Ping::KeepAlive));
                        }
                        Some(_) => {}
                        None if now >= link.last_sent + keep_alive => {
                            if let Err(error) = link.encode(&Packet::PingReq) {
                                return End::Lost(error);
                            }
                            link.keep_alive_ping = Some(now);
                            link.pings.push_back((now, Ping::KeepAlive));
                        }
                        None => {}
                    }
                    // Next: the PINGRESP's deadline, but no later than a keep-alive from now,
                    // when the next PINGREQ may be due (the ping timeout can be the longer).
                    let next = match link.keep_alive_ping {
                        Some(sent) => (sent + ping_timeout).min(now + keep_alive),
                        None => link.last_sent + keep_alive,
                    };
                    timer.as_mut().reset(next);
                }
            }
        }
    }

    /// Writes what is left and a DISCONNECT where the end calls for one, then closes.
    async fn close(&mut self, link: &mut Link, writer: &mut WriteHalf<Box<dyn Stream>>, end: &End) {
        let disconnect = match end {
            End::Disconnected(info, _) if !info.by_server => {
                Some(Disconnect { reason_code: info.reason_code, properties: info.properties.clone() })
            }
            End::Shutdown(_) => Some(normal_disconnect()),
            End::Lost(Error::ProtocolViolation { reason_code, message })
                if link.version == ProtocolVersion::V5 =>
            {
                let mut disconnect = Disconnect::new(*reason_code);
                disconnect.properties.reason_string = Some(message.as_str().into());
                Some(disconnect)
            }
            _ => None,
        };
        let Some(disconnect) = disconnect else { return };
        if link.encode(&Packet::Disconnect(disconnect)).is_err() {
            return;
        }
        let flush = async {
            writer.write_all_buf(&mut link.write_buf).await?;
            writer.shutdown().await
        };
        let _ = tokio::time::timeout(CLOSE_TIMEOUT, flush).await;
    }

    /// Per-connection waiters that cannot outlive the connection.
    fn end_link(&mut self, link: &mut Link, end: &End) {
        let error = match end {
            End::Lost(error) => {
                self.events.emit(Event::ConnectionLost(error.clone()));
                error.clone()
            }
            _ => Error::NotConnected,
        };
        for (_, ping) in link.pings.drain(..) {
            if let Ping::Requested(reply) = ping {
                complete(reply, Err(error.clone()));
            }
        }
        complete(link.auth.take(), Err(error.clone()));
        // Publications that never got a slot wait for the next connection.
        for (publish, reply) in link.waiting.drain(..).rev() {
            self.offline.push_front(Command::Publish(publish, reply));
        }
    }

    /// After CONNACK: resend or restart what was in flight, restore subscriptions.
    fn restore_session(&mut self, link: &mut Link, session_present: bool) {
        let mut cleared = 0;
        // Sent before the publications buffered meanwhile, in this order.
        let mut first = Vec::new();
        let mut requeued = Vec::new();
        let ids = self.session.outgoing_in_order();
        if session_present && !self.options.sessionless {
            // MQTT-4.4.0-1: resend unacknowledged PUBLISH (DUP set) and PUBREL, in order.
            for id in ids {
                let Some(out) = self.session.outgoing.get_mut(&id) else { continue };
                let packet = match out.stage {
                    Stage::AwaitingAck => {
                        out.publish.dup = true;
                        // Stored with its topic: with an alias it sets the alias up again.
                        if let Some(alias) = out.publish.properties.topic_alias {
                            link.aliases_chosen.insert(alias, out.publish.topic.clone());
                            link.aliases_sent.insert(alias, out.publish.topic.clone());
                        }
                        Packet::Publish(out.publish.clone())
                    }
                    Stage::AwaitingComplete => Packet::PubRel(PubRel::new(id)),
                };
                let _ = link.encode(&packet);
            }
        } else {
            // The server has no session: what it had acknowledged in part is gone.
            self.session.incoming_qos2.clear();
            for id in ids {
                let Some(out) = self.session.outgoing.remove(&id) else { continue };
                if self.options.sessionless || out.stage == Stage::AwaitingComplete {
                    // PUBREC was received: the server had the message; without its session
                    // the exchange cannot be completed, and sending again could duplicate it.
                    complete(out.reply, Err(lost("the server lost the session before PUBCOMP")));
                    cleared += 1;
                } else {
                    let mut publish = out.publish;
                    publish.dup = false;
                    requeued.push(Command::Publish(publish, out.reply));
                }
            }
            // The subscriptions the server had acknowledged (with their Subscription
            // Identifiers), and the configured ones.
            let mut wanted: Vec<(Subscription, Option<u32>)> =
                if self.options.sessionless { Vec::new() } else { self.session.subscriptions.clone() };
            for configured in &self.options.auto_subscribe {
                if !wanted.iter().any(|(known, _)| known.filter == configured.filter) {
                    wanted.push((configured.clone(), None));
                }
            }
            if !link.limits.subscription_identifiers {
                // This server takes none (it would refuse the SUBSCRIBE).
                for (_, id) in &mut wanted {
                    *id = None;
                }
            }
            let restore = session::restoring_subscribes(&wanted, link.limits.maximum_packet_size);
            first.extend(restore.into_iter().map(|subscribe| Command::Subscribe(subscribe, None)));
        }
        // Then the subscribe/unsubscribe requests that were never answered, in the order
        // they were made (a subscribe then an unsubscribe of one filter ends unsubscribed).
        let mut pending: Vec<(u64, Command)> = self
            .session
            .subscribes
            .drain()
            .map(|(_, (sequence, subscribe, reply))| (sequence, Command::Subscribe(subscribe, reply)))
            .chain(self.session.unsubscribes.drain().map(|(_, (sequence, unsubscribe, reply))| {
                (sequence, Command::Unsubscribe(unsubscribe, reply))
            }))
            .collect();
        pending.sort_unstable_by_key(|(sequence, _)| *sequence);
        first.extend(pending.into_iter().map(|(_, command)| command));
        // Publications sent again from the start come before the ones made after them.
        first.extend(requeued);
        // Ahead of the buffered publications.
        for command in first.into_iter().rev() {
            self.offline.push_front(command);
        }
        if cleared > 0 {
            self.events.emit(Event::PendingOperationsCleared { count: cleared });
        }
    }
}

/// A handler's way out: end the connection, or fail it with an error.
enum EndOr {
    End(End),
    Error(Error),
}

impl From<End> for EndOr {
    fn from(end: End) -> Self {
        EndOr::End(end)
    }
}

impl From<Error> for EndOr {
    fn from(error: Error) -> Self {
        EndOr::Error(error)
    }
}

fn lost(message: &str) -> Error {
    Error::ConnectionLost { reason_code: None, message: message.to_owned() }
}

/// A decode failure: the server sent something malformed; tell it why when we can.
fn protocol_error(error: ProtocolError) -> Error {
    Error::ProtocolViolation {
        reason_code: error.reason_code(),
        message: format!("malformed packet from server: {error}"),
    }
}

/// Re-authenticating by the configured authenticator without one.
pub(crate) fn no_authenticator() -> Error {
    Error::InvalidArgument("re_authenticate needs an authenticator in the client options".into())
}
