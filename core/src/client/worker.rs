//! The connection task's lifecycle: idle until asked to connect, connect, serve the
//! connection, and on loss reconnect with back-off while buffering what the application
//! sends meanwhile.

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use bytes::BytesMut;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::mpsc;

use super::auth::AuthExchange;
use super::command::{Command, Reply, complete};
use super::connection::{End, ServerLimits};
use super::options::ClientOptions;
use super::results::{ConnectResult, DisconnectInfo, ManualAck};
use super::session::Session;
use crate::dispatch::Event;
use crate::error::{Error, Operation, Result};
use crate::protocol::{
    Auth, ConnAck, Connect, ConnectProperties, Decoder, Disconnect, Packet, ProtocolVersion, QoS, ReasonCode,
};
use crate::transport::connect::{self as transport, Connected};

/// State the handle reads without asking the connection task.
#[derive(Debug, Default)]
pub(crate) struct Shared {
    pub(crate) connected: AtomicBool,
    pub(crate) dropped_messages: AtomicU64,
}

/// Events on their way to the dispatcher. `emit` never waits: when the dispatcher's
/// channel is full, events wait here and the connection stops reading from the socket until
/// they are through (see [`Outbox::is_backed_up`]).
pub(crate) struct Outbox {
    sender: mpsc::Sender<Event>,
    overflow: VecDeque<Event>,
}

impl Outbox {
    pub(crate) fn new(sender: mpsc::Sender<Event>) -> Self {
        Outbox { sender, overflow: VecDeque::new() }
    }

    pub(crate) fn emit(&mut self, event: Event) {
        if !self.overflow.is_empty() {
            self.overflow.push_back(event);
            return;
        }
        match self.sender.try_send(event) {
            Ok(()) => {}
            Err(mpsc::error::TrySendError::Full(event)) => self.overflow.push_back(event),
            // The dispatcher is gone: nobody can receive events any more.
            Err(mpsc::error::TrySendError::Closed(_)) => {}
        }
    }

    pub(crate) fn is_backed_up(&self) -> bool {
        !self.overflow.is_empty()
    }

    /// How many events wait for room in the dispatcher's channel.
    pub(crate) fn backlog(&self) -> usize {
        self.overflow.len()
    }

    /// Moves waiting events into the dispatcher's channel as room appears (cancel-safe).
    pub(crate) async fn drain(&mut self) {
        while !self.overflow.is_empty() {
            let Ok(permit) = self.sender.reserve().await else {
                self.overflow.clear();
                return;
            };
            if let Some(event) = self.overflow.pop_front() {
                permit.send(event);
            }
        }
    }
}

/// Why the worker left the online state.
pub(crate) enum Stop {
    /// Back to idle (the application disconnected, or reconnecting gave up).
    Idle,
    /// Shut down; the reply (if any) is completed after cleanup.
    Shutdown(Reply<()>),
}

pub(crate) struct Worker {
    pub(crate) options: Arc<ClientOptions>,
    pub(crate) commands: mpsc::Receiver<Command>,
    pub(crate) acks: mpsc::UnboundedReceiver<ManualAck>,
    pub(crate) ack_sender: mpsc::UnboundedSender<ManualAck>,
    pub(crate) events: Outbox,
    pub(crate) session: Session,
    pub(crate) offline: VecDeque<Command>,
    /// Commands taken from the channel by a connection that ended before carrying them
    /// out; they come before anything still in the channel.
    pub(crate) replay: VecDeque<Command>,
    pub(crate) shared: Arc<Shared>,
    pub(crate) connection_id: u64,
    pub(crate) first_connect_done: bool,
    /// The client identifier the server assigned (when ours is empty), to resume the session
    /// with on reconnect.
    pub(crate) assigned_client_id: Option<String>,
}

impl Worker {
    pub(crate) async fn run(mut self) {
        loop {
            let command = match self.replay.pop_front() {
                Some(command) => command,
                None => {
                    let room = self.events.backlog() < self.options.command_queue_size;
                    let received = tokio::select! {
                        command = self.commands.recv(), if room => command,
                        // Idle, events still on their way out (a slow sink) keep moving.
                        () = self.events.drain(), if self.events.is_backed_up() => continue,
                    };
                    match received {
                        Some(command) => command,
                        None => break,
                    }
                }
            };
            match command {
                Command::Connect(reply) => match self.online(reply).await {
                    Stop::Idle => {}
                    Stop::Shutdown(reply) => return self.finish(reply).await,
                },
                Command::Shutdown(reply) => return self.finish(reply).await,
                Command::Disconnect(_, reply) => {
                    complete(reply, Ok(()));
                }
                other => self.fail(other, Error::NotConnected),
            }
        }
        self.finish(None).await;
    }

    /// Shuts down: fails what is left, hands the last events to the dispatcher (within
    /// [`CLOSE_TIMEOUT`]: a sink that stopped taking them does not hold the shutdown up),
    /// then completes the shutdown's reply.
    async fn finish(&mut self, reply: Reply<()>) {
        self.fail_everything(Error::ChannelClosed);
        if tokio::time::timeout(CLOSE_TIMEOUT, self.events.drain()).await.is_err() {
            tracing::warn!(
                events = self.events.backlog(),
                "shutdown: the event sink took no more events within {CLOSE_TIMEOUT:?}; they are dropped"
            );
        }
        complete(reply, Ok(()));
    }

    /// Connected or trying to be, until the application disconnects or shuts down, or
    /// reconnecting gives up.
    async fn online(&mut self, mut reply: Reply<ConnectResult>) -> Stop {
        // A waiting caller gets the first attempt's result; fire-and-forget follows the
        // reconnect policy from the start.
        let mut retry = reply.is_none() && self.options.reconnect.enabled;
        let mut attempt: u32 = 0;
        loop {
            let mut exchange = self.options.authenticator.as_ref().map(|auth| auth.start());
            let mut connect = self.connect_packet();
            if let (Some(auth), Some(exchange)) = (&self.options.authenticator, exchange.as_mut()) {
                connect.properties.authentication_method = Some(auth.method().into());
                connect.properties.authentication_data = exchange.initial_data();
            }
            let options = self.options.clone();
            let established = match self.while_offline(establish(options, connect, exchange)).await {
                Ok(result) => result,
                Err(stop) => {
                    complete(reply.take(), Err(Error::NotConnected));
                    return stop;
                }
            };
            let end = match established {
                Ok((connected, buffered, connack)) => {
                    retry = self.options.reconnect.enabled;
                    if let Some(certificate) = connected.peer_certificate {
                        self.events.emit(Event::PeerCertificateReceived(certificate));
                    }
                    let since = tokio::time::Instant::now();
                    let end = self.serve(connected.stream, buffered, connack, reply.take()).await;
                    // The back-off starts over only after a connection that held: one that
                    // a server accepts and drops at once is retried ever more slowly.
                    if since.elapsed() >= STABLE_CONNECTION {
                        attempt = 0;
                    }
                    end
                }
                Err(error) => {
                    if !retry {
                        if !complete(reply.take(), Err(error.clone())) {
                            self.events.emit(Event::Error(error));
                        }
                        self.fail_offline(Error::NotConnected);
                        return Stop::Idle;
                    }
                    self.events.emit(Event::Error(error.clone()));
                    if error.is_fatal() {
                        // No reconnect follows: nothing in flight can complete any more.
                        self.fail_offline(error.clone());
                        self.fail_connection_pending(&error);
                        return Stop::Idle;
                    }
                    End::Lost(error)
                }
            };
            match end {
                End::Disconnected(info, done) => {
                    self.shared.connected.store(false, Ordering::Release);
                    self.events.emit(Event::Disconnected(info));
                    self.fail_offline(Error::NotConnected);
                    complete(done, Ok(()));
                    return Stop::Idle;
                }
                End::Shutdown(done) => {
                    self.shared.connected.store(false, Ordering::Release);
                    return Stop::Shutdown(done);
                }
                End::Lost(error) => {
                    self.shared.connected.store(false, Ordering::Release);
                    if !self.options.reconnect.enabled {
                        self.fail_offline(Error::NotConnected);
                        self.fail_connection_pending(&error);
                        return Stop::Idle;
                    }
                    attempt += 1;
                    let policy = self.options.reconnect;
                    if policy.max_attempts != 0 && attempt > policy.max_attempts {
                        self.events.emit(Event::Error(Error::ConnectionLost {
                            reason_code: None,
                            message: format!("gave up after {} reconnect attempts", policy.max_attempts),
                        }));
                        self.fail_offline(Error::NotConnected);
                        self.fail_connection_pending(&error);
                        return Stop::Idle;
                    }
                    let delay = policy.delay(attempt, rand::random::<f64>());
                    self.events.emit(Event::ReconnectAttempt { attempt, delay });
                    if let Err(stop) = self.while_offline(tokio::time::sleep(delay)).await {
                        return stop;
                    }
                }
            }
        }
    }

    /// Fails what only makes sense on a live connection when no reconnect will follow.
    fn fail_connection_pending(&mut self, error: &Error) {
        for (_, out) in self.session.outgoing.drain() {
            complete(out.reply, Err(error.clone()));
        }
        for (_, (_, _, reply)) in self.session.subscribes.drain() {
            complete(reply, Err(error.clone()));
        }
        for (_, (_, _, reply)) in self.session.unsubscribes.drain() {
            complete(reply, Err(error.clone()));
        }
    }

    /// Runs `future` while answering commands as a disconnected client does: buffer
    /// publications and (un)subscriptions, refuse the rest, stop on disconnect/shutdown.
    async fn while_offline<F: std::future::Future>(
        &mut self,
        future: F,
    ) -> std::result::Result<F::Output, Stop> {
        tokio::pin!(future);
        loop {
            if let Some(command) = self.replay.pop_front() {
                match self.offline_command(command) {
                    Some(stop) => return Err(stop),
                    None => continue,
                }
            }
            tokio::select! {
                output = &mut future => return Ok(output),
                // Not while the events commands may cause could not be handed over.
                command = self.commands.recv(), if self.events.backlog() < self.options.command_queue_size => {
                    let Some(command) = command else { return Err(Stop::Shutdown(None)) };
                    if let Some(stop) = self.offline_command(command) {
                        return Err(stop);
                    }
                }
                () = self.events.drain(), if self.events.is_backed_up() => {}
            }
        }
    }

    fn offline_command(&mut self, command: Command) -> Option<Stop> {
        match command {
            Command::Connect(reply) => {
                complete(reply, Err(Error::AlreadyConnected));
            }
            Command::Disconnect(_, reply) => {
                self.fail_offline(Error::NotConnected);
                let info = DisconnectInfo {
                    reason_code: ReasonCode::Success,
                    by_server: false,
                    properties: Default::default(),
                };
                self.events.emit(Event::Disconnected(info));
                complete(reply, Ok(()));
                return Some(Stop::Idle);
            }
            Command::Shutdown(reply) => return Some(Stop::Shutdown(reply)),
            command @ (Command::Publish(..) | Command::Subscribe(..) | Command::Unsubscribe(..)) => {
                self.buffer(command)
            }
            other => self.fail(other, Error::NotConnected),
        }
        None
    }

    /// Adds an operation to the offline buffer, following [`super::OfflineBuffer`]'s policy.
    fn buffer(&mut self, command: Command) {
        let policy = self.options.offline_buffer;
        if !policy.enabled {
            return self.fail(command, Error::NotConnected);
        }
        if self.offline.len() >= policy.capacity {
            let oldest_qos0 = self
                .offline
                .iter()
                .position(|queued| matches!(queued, Command::Publish(p, _) if p.qos == QoS::AtMostOnce));
            match oldest_qos0 {
                Some(index) => {
                    // A caller waiting for it learns why (fire-and-forget drops are counted,
                    // not reported one by one).
                    if let Some(Command::Publish(_, reply)) = self.offline.remove(index) {
                        complete(reply, Err(Error::BufferFull { capacity: policy.capacity }));
                    }
                    self.shared.dropped_messages.fetch_add(1, Ordering::Relaxed);
                }
                None => return self.fail(command, Error::BufferFull { capacity: policy.capacity }),
            }
        }
        self.offline.push_back(command);
    }

    fn fail_offline(&mut self, error: Error) {
        while let Some(command) = self.offline.pop_front() {
            self.fail(command, error.clone());
        }
    }

    fn fail_everything(&mut self, error: Error) {
        self.fail_offline(error.clone());
        self.fail_connection_pending(&error);
        while let Some(command) = self.replay.pop_front() {
            self.fail(command, error.clone());
        }
        self.commands.close();
        while let Ok(command) = self.commands.try_recv() {
            self.fail(command, error.clone());
        }
    }

    /// Fails one command: a waiting caller gets the error, otherwise it becomes an
    /// [`Event::Error`].
    pub(crate) fn fail(&mut self, command: Command, error: Error) {
        let waited = match command {
            Command::Connect(reply) => complete(reply, Err(error.clone())),
            Command::Publish(_, reply) => complete(reply, Err(error.clone())),
            Command::Subscribe(_, reply) => complete(reply, Err(error.clone())),
            Command::Unsubscribe(_, reply) => complete(reply, Err(error.clone())),
            Command::Ping(reply) => complete(reply, Err(error.clone())),
            Command::Auth(_, reply) | Command::ReAuthenticate(reply) => complete(reply, Err(error.clone())),
            Command::Disconnect(_, reply) | Command::Shutdown(reply) => complete(reply, Err(error.clone())),
        };
        if !waited {
            self.events.emit(Event::Error(error));
        }
    }

    /// The CONNECT for the next attempt: after the first successful connect, a client with
    /// a session to keep resumes it.
    fn connect_packet(&self) -> Connect {
        let o = &self.options;
        let resume = self.first_connect_done
            && !o.sessionless
            && match o.protocol_version {
                ProtocolVersion::V5 => o.session_expiry_interval > 0,
                ProtocolVersion::V311 => !o.clean_start,
            };
        Connect {
            protocol_version: o.protocol_version,
            clean_start: if self.first_connect_done { !resume } else { o.clean_start || o.sessionless },
            keep_alive: o.keep_alive,
            // A session the server created under an identifier it assigned is resumed under
            // that identifier (an empty one would get a new session).
            client_id: match &self.assigned_client_id {
                Some(assigned) if resume && o.client_id.is_empty() => assigned.clone().into(),
                _ => o.client_id.clone().into(),
            },
            will: o.will.clone(),
            username: o.username.clone().map(Into::into),
            password: o.password.clone(),
            properties: ConnectProperties {
                session_expiry_interval: (o.session_expiry_interval > 0).then_some(o.session_expiry_interval),
                receive_maximum: (o.receive_maximum != u16::MAX).then_some(o.receive_maximum),
                maximum_packet_size: o.maximum_packet_size,
                topic_alias_maximum: (o.topic_alias_maximum > 0).then_some(o.topic_alias_maximum),
                request_response_information: o.request_response_information.then_some(true),
                request_problem_information: (!o.request_problem_information).then_some(false),
                authentication_method: None,
                authentication_data: None,
                user_properties: o.user_properties.clone(),
            },
        }
    }

    pub(crate) fn connect_result(connack: &ConnAck) -> ConnectResult {
        ConnectResult {
            session_present: connack.session_present,
            reason_code: connack.reason_code,
            assigned_client_id: connack
                .properties
                .assigned_client_identifier
                .as_ref()
                .map(|id| id.to_string()),
            properties: connack.properties.clone(),
        }
    }

    pub(crate) fn limits(&self, connack: &ConnAck) -> ServerLimits {
        ServerLimits::from_connack(&self.options, connack)
    }
}

/// Opens the network connection and performs CONNECT → (AUTH ...) → CONNACK within the
/// connect timeout. Returns the stream, bytes read past the CONNACK, and the CONNACK.
async fn establish(
    options: Arc<ClientOptions>,
    connect: Connect,
    mut exchange: Option<Box<dyn AuthExchange>>,
) -> Result<(Connected, BytesMut, ConnAck)> {
    let attempt = async {
        let mut connected = transport::connect(
            &options.url,
            #[cfg(feature = "tls")]
            options.tls.as_ref(),
            options.tcp_nodelay,
        )
        .await?;
        let stream = &mut connected.stream;
        let version = connect.protocol_version;
        let mut out = BytesMut::with_capacity(256);
        Packet::Connect(Box::new(connect)).encode(version, &mut out)?;
        stream.write_all(&out).await?;
        let mut decoder = Decoder::new(version);
        if let Some(max) = options.maximum_packet_size {
            decoder.set_max_packet_size(max as usize);
        }
        let mut buffer = BytesMut::with_capacity(4096);
        // Stays inside the connect timeout, so a server that keeps challenging is cut off.
        loop {
            if let Some(packet) = decoder.decode(&mut buffer)? {
                return match packet {
                    Packet::ConnAck(connack) if connack.reason_code.is_error() => {
                        Err(Error::ConnectionRefused {
                            reason_code: connack.reason_code,
                            reason_string: connack.properties.reason_string.as_ref().map(|s| s.to_string()),
                        })
                    }
                    Packet::ConnAck(connack) => {
                        if let Some(exchange) = exchange.as_mut() {
                            exchange.finish(connack.properties.authentication_data.as_deref()).map_err(
                                |why| {
                                    Error::AuthFailed(format!(
                                        "the server's final authentication data: {why}"
                                    ))
                                },
                            )?;
                        }
                        Ok((connected, buffer, connack))
                    }
                    Packet::Auth(auth) => {
                        let (Some(authenticator), Some(exchange)) =
                            (&options.authenticator, exchange.as_mut())
                        else {
                            return Err(Error::AuthFailed(
                                "the server started enhanced authentication, but no authenticator is configured".into(),
                            ));
                        };
                        let reply = answer_challenge(authenticator.method(), exchange.as_mut(), &auth)?;
                        out.clear();
                        Packet::Auth(reply).encode(version, &mut out)?;
                        stream.write_all(&out).await?;
                        continue;
                    }
                    other => Err(Error::ProtocolViolation {
                        reason_code: ReasonCode::ProtocolError,
                        message: format!("expected CONNACK, got {}", other.packet_type()),
                    }),
                };
            }
            if stream.read_buf(&mut buffer).await? == 0 {
                return Err(Error::ConnectionLost {
                    reason_code: None,
                    message: "the server closed the connection before CONNACK".into(),
                });
            }
        }
    };
    match options.timeouts.connect {
        Some(limit) => tokio::time::timeout(limit, attempt)
            .await
            .unwrap_or(Err(Error::Timeout { operation: Operation::Connect, timeout: limit })),
        None => attempt.await,
    }
}

/// The AUTH that answers a server's Continue authentication (§4.12).
pub(crate) fn answer_challenge(method: &str, exchange: &mut dyn AuthExchange, auth: &Auth) -> Result<Auth> {
    if auth.reason_code != ReasonCode::ContinueAuthentication {
        return Err(Error::AuthFailed(format!("unexpected AUTH {} from the server", auth.reason_code)));
    }
    if auth.properties.authentication_method.as_deref() != Some(method) {
        return Err(Error::AuthFailed(format!(
            "the server answered with method {:?}, expected {method:?}",
            auth.properties.authentication_method.as_deref().unwrap_or("")
        )));
    }
    let data = exchange
        .respond(auth.properties.authentication_data.as_deref())
        .map_err(|why| Error::AuthFailed(format!("cannot answer the server's challenge: {why}")))?;
    Ok(Auth::new(ReasonCode::ContinueAuthentication, method, data))
}

/// Disconnect reason for the DISCONNECT a shutdown sends.
pub(crate) fn normal_disconnect() -> Disconnect {
    Disconnect::new(ReasonCode::Success)
}

pub(crate) const WRITE_HIGH_WATER: usize = 256 * 1024;
pub(crate) const READ_CHUNK: usize = 64 * 1024;
pub(crate) const CLOSE_TIMEOUT: Duration = Duration::from_secs(5);

/// How long a connection must last for the reconnect back-off to start over.
const STABLE_CONNECTION: Duration = Duration::from_secs(10);
