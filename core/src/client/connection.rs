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
use super::results::{
    Acker, AuthResult, ConnectResult, DisconnectInfo, ManualAck, Message, PingResult, PublishResult,
    SubscribeResult, UnsubscribeResult,
};
use super::session::{IncomingQos2, Outgoing, Stage};
use super::worker::{
    CLOSE_TIMEOUT, READ_CHUNK, WRITE_HIGH_WATER, Worker, answer_challenge, normal_disconnect,
};
use crate::dispatch::Event;
use crate::error::{Error, Operation, Result};
use crate::protocol::{
    AckProperties, Auth, ConnAck, Decoder, Disconnect, Packet, ProtocolError, ProtocolVersion, PubAck,
    PubComp, PubRec, PubRel, Publish, QoS, ReasonCode, SubAck, Subscribe, Subscription, UnsubAck,
    Unsubscribe,
    topic::{self, TopicFilter},
};
use crate::transport::Stream;

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
    /// Topic aliases we set up towards the server.
    aliases_out: HashMap<ByteString, u16>,
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
        self.shared.connected.store(true, Ordering::Release);
        self.events.emit(Event::Connected(result.clone()));
        complete(reply, Ok(result));
        while let Some(command) = self.offline.pop_front() {
            if let Some(end) = self.command(&mut link, command) {
                return end;
            }
        }
        let (mut reader, mut writer) = tokio::io::split(stream);
        let end = self.serve_loop(&mut link, &mut reader, &mut writer).await;
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
        let ping_timeout = self.options.timeouts.ping.unwrap_or(keep_alive);
        // Armed lazily: when it fires early (traffic moved the deadline), it is re-armed, so
        // the timer is touched once per keep-alive interval, not once per packet.
        let timer = tokio::time::sleep_until(link.last_sent + keep_alive);
        tokio::pin!(timer);
        loop {
            let accept_commands = link.write_buf.len() < WRITE_HIGH_WATER
                && link.waiting.len() < self.options.command_queue_size;
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
                    let deadline = match link.keep_alive_ping {
                        Some(sent) => sent + ping_timeout,
                        None => link.last_sent + keep_alive,
                    };
                    if Instant::now() < deadline {
                        timer.as_mut().reset(deadline);
                        continue;
                    }
                    if link.keep_alive_ping.is_some() {
                        return End::Lost(Error::Timeout { operation: Operation::Ping, timeout: ping_timeout });
                    }
                    if let Err(error) = link.encode(&Packet::PingReq) {
                        return End::Lost(error);
                    }
                    let now = Instant::now();
                    link.keep_alive_ping = Some(now);
                    link.pings.push_back((now, Ping::KeepAlive));
                    timer.as_mut().reset(now + ping_timeout);
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
        let ids = self.session.outgoing_in_order();
        if session_present && !self.options.sessionless {
            // MQTT-4.4.0-1: resend unacknowledged PUBLISH (DUP set) and PUBREL, in order.
            for id in ids {
                let Some(out) = self.session.outgoing.get_mut(&id) else { continue };
                let packet = match out.stage {
                    Stage::AwaitingAck => {
                        out.publish.dup = true;
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
                    self.offline.push_back(Command::Publish(publish, out.reply));
                }
            }
            let mut restore: Vec<Subscription> = self.session.subscriptions.clone();
            for wanted in &self.options.auto_subscribe {
                if !restore.iter().any(|known| known.filter == wanted.filter) {
                    restore.push(wanted.clone());
                }
            }
            if !restore.is_empty() && !self.options.sessionless {
                let subscribe = Subscribe::new(0, restore);
                self.offline.push_front(Command::Subscribe(subscribe, None));
            } else if self.options.sessionless && !self.options.auto_subscribe.is_empty() {
                let subscribe = Subscribe::new(0, self.options.auto_subscribe.clone());
                self.offline.push_front(Command::Subscribe(subscribe, None));
            }
        }
        // Subscribe/unsubscribe requests that were never answered are sent again.
        let pending_subscribes: Vec<_> = self.session.subscribes.drain().collect();
        for (_, (subscribe, reply)) in pending_subscribes {
            self.offline.push_front(Command::Subscribe(subscribe, reply));
        }
        let pending_unsubscribes: Vec<_> = self.session.unsubscribes.drain().collect();
        for (_, (unsubscribe, reply)) in pending_unsubscribes {
            self.offline.push_front(Command::Unsubscribe(unsubscribe, reply));
        }
        if cleared > 0 {
            self.events.emit(Event::PendingOperationsCleared { count: cleared });
        }
    }

    fn read_packets(&mut self, link: &mut Link) -> Option<End> {
        loop {
            match link.decoder.decode(&mut link.read_buf) {
                Ok(Some(packet)) => {
                    if let Err(error) = self.packet(link, packet) {
                        return Some(match error {
                            EndOr::End(end) => end,
                            EndOr::Error(error) => End::Lost(error),
                        });
                    }
                }
                Ok(None) => return None,
                Err(error) => return Some(End::Lost(protocol_error(error))),
            }
        }
    }

    fn packet(&mut self, link: &mut Link, packet: Packet) -> std::result::Result<(), EndOr> {
        match packet {
            Packet::Publish(publish) => self.incoming_publish(link, publish)?,
            Packet::PubAck(ack) => {
                self.publish_acknowledged(link, ack.packet_id, ack.reason_code, ack.properties, true)?
            }
            Packet::PubRec(rec) => {
                let id = rec.packet_id;
                match self.session.outgoing.get_mut(&id) {
                    Some(out) if out.stage == Stage::AwaitingAck && out.publish.qos == QoS::ExactlyOnce => {
                        if rec.reason_code.is_error() {
                            self.publish_acknowledged(link, id, rec.reason_code, rec.properties, false)?;
                        } else {
                            out.stage = Stage::AwaitingComplete;
                            link.encode(&Packet::PubRel(PubRel::new(id)))?;
                        }
                    }
                    Some(out) if out.stage == Stage::AwaitingComplete => {
                        link.encode(&Packet::PubRel(PubRel::new(id)))?;
                    }
                    _ => {
                        let rel = PubRel::new(id).with_reason(ReasonCode::PacketIdentifierNotFound);
                        link.encode(&Packet::PubRel(rel))?;
                    }
                }
            }
            Packet::PubComp(comp) => {
                self.publish_acknowledged(link, comp.packet_id, comp.reason_code, comp.properties, false)?
            }
            Packet::PubRel(rel) => {
                let id = rel.packet_id;
                match self.session.incoming_qos2.get(&id) {
                    Some(IncomingQos2::AwaitingApplication) => {
                        return Err(violation(
                            ReasonCode::ProtocolError,
                            format!("PUBREL for packet {id} before PUBREC"),
                        )
                        .into());
                    }
                    Some(IncomingQos2::Received) => {
                        self.session.incoming_qos2.remove(&id);
                        link.encode(&Packet::PubComp(PubComp::new(id)))?;
                    }
                    None => {
                        let comp = PubComp::new(id).with_reason(ReasonCode::PacketIdentifierNotFound);
                        link.encode(&Packet::PubComp(comp))?;
                    }
                }
            }
            Packet::SubAck(ack) => self.subscribe_acknowledged(ack),
            Packet::UnsubAck(ack) => self.unsubscribe_acknowledged(ack),
            // PINGRESPs answer PINGREQs in order.
            Packet::PingResp => match link.pings.pop_front() {
                Some((_, Ping::KeepAlive)) => link.keep_alive_ping = None,
                Some((sent, Ping::Requested(reply))) => {
                    let result = PingResult { round_trip: sent.elapsed() };
                    self.report(reply, result, Event::PingResponse, Ok);
                }
                None => tracing::debug!("PINGRESP without PINGREQ: ignored"),
            },
            Packet::Disconnect(disconnect) => {
                let info = DisconnectInfo {
                    reason_code: disconnect.reason_code,
                    by_server: true,
                    properties: disconnect.properties.clone(),
                };
                self.events.emit(Event::Disconnected(info));
                let mut message = format!("the server sent DISCONNECT {}", disconnect.reason_code);
                if let Some(reason) = &disconnect.properties.reason_string {
                    message.push_str(&format!(": {reason}"));
                }
                if let Some(server) = &disconnect.properties.server_reference {
                    message.push_str(&format!(" (use server {server})"));
                }
                return Err(End::Lost(Error::ConnectionLost {
                    reason_code: Some(disconnect.reason_code),
                    message,
                })
                .into());
            }
            Packet::Auth(auth) => self.incoming_auth(link, auth)?,
            other => {
                return Err(violation(
                    ReasonCode::ProtocolError,
                    format!("a server does not send {}", other.packet_type()),
                )
                .into());
            }
        }
        Ok(())
    }

    /// AUTH during re-authentication: answered by the authenticator when one runs the
    /// exchange, otherwise reported to the application (which answers with
    /// `auth_continue`).
    fn incoming_auth(&mut self, link: &mut Link, auth: Auth) -> Result<()> {
        if let (Some(exchange), Some(authenticator)) =
            (link.auth_exchange.as_mut(), &self.options.authenticator)
        {
            if auth.reason_code == ReasonCode::ContinueAuthentication {
                let answer = match answer_challenge(authenticator.method(), exchange.as_mut(), &auth) {
                    Ok(answer) => answer,
                    Err(error) => {
                        link.auth_exchange = None;
                        if !complete(link.auth.take(), Err(error.clone())) {
                            self.events.emit(Event::Error(error));
                        }
                        return Ok(());
                    }
                };
                return link.encode(&Packet::Auth(answer));
            }
            let finished = exchange.finish(auth.properties.authentication_data.as_deref());
            link.auth_exchange = None;
            let result = AuthResult { reason_code: auth.reason_code, properties: auth.properties };
            let outcome = finished
                .map(|()| result)
                .map_err(|why| Error::AuthFailed(format!("the server's final authentication data: {why}")));
            match link.auth.take() {
                Some(waiting) => {
                    let _ = waiting.send(outcome);
                }
                None => self.events.emit(match outcome {
                    Ok(result) => Event::AuthReceived(result),
                    Err(error) => Event::Error(error),
                }),
            }
            return Ok(());
        }
        let result = AuthResult { reason_code: auth.reason_code, properties: auth.properties };
        // The caller of auth_continue / re_authenticate_with gets the server's answer, Continue
        // or Success; a Continue is also an event, since it asks for the next step.
        let waited = complete(link.auth.take(), Ok(result.clone()));
        if !waited || result.reason_code != ReasonCode::Success {
            self.events.emit(Event::AuthReceived(result));
        }
        Ok(())
    }

    fn incoming_publish(&mut self, link: &mut Link, mut publish: Publish) -> std::result::Result<(), EndOr> {
        if let Some(alias) = publish.properties.topic_alias.take() {
            if alias > self.options.topic_alias_maximum {
                return Err(violation(
                    ReasonCode::TopicAliasInvalid,
                    format!("topic alias {alias} above our maximum"),
                )
                .into());
            }
            if publish.topic.is_empty() {
                publish.topic = link.aliases_in.get(&alias).cloned().ok_or_else(|| {
                    violation(ReasonCode::ProtocolError, format!("topic alias {alias} was never set"))
                })?;
            } else {
                link.aliases_in.insert(alias, publish.topic.clone());
            }
        }
        let id = publish.packet_id;
        let manual = !self.options.auto_ack;
        match publish.qos {
            QoS::AtMostOnce => {}
            QoS::AtLeastOnce => {
                if manual {
                    self.check_receive_maximum(link)?;
                    link.unacked_qos1.insert(id);
                } else {
                    link.encode(&Packet::PubAck(PubAck::new(id)))?;
                }
            }
            QoS::ExactlyOnce => match self.session.incoming_qos2.get(&id) {
                // A resent PUBLISH we already have: acknowledge again, deliver nothing.
                Some(IncomingQos2::Received) => {
                    link.encode(&Packet::PubRec(PubRec::new(id)))?;
                    return Ok(());
                }
                Some(IncomingQos2::AwaitingApplication) => return Ok(()),
                None => {
                    self.check_receive_maximum(link)?;
                    if manual {
                        self.session.incoming_qos2.insert(id, IncomingQos2::AwaitingApplication);
                    } else {
                        self.session.incoming_qos2.insert(id, IncomingQos2::Received);
                        link.encode(&Packet::PubRec(PubRec::new(id)))?;
                    }
                }
            },
        }
        let acker = (manual && publish.qos != QoS::AtMostOnce)
            .then(|| Acker { sender: self.ack_sender.clone(), connection: self.connection_id });
        self.events.emit(Event::Message(Message {
            topic: publish.topic,
            payload: publish.payload,
            qos: publish.qos,
            retain: publish.retain,
            dup: publish.dup,
            packet_id: id,
            properties: publish.properties,
            acker,
        }));
        Ok(())
    }

    /// Our Receive Maximum: the server may not have more unacknowledged QoS 1/2 messages
    /// in flight to us (MQTT-3.3.4-9 / §4.9).
    fn check_receive_maximum(&self, link: &Link) -> Result<()> {
        let in_flight = link.unacked_qos1.len() + self.session.incoming_qos2.len();
        if in_flight >= usize::from(self.options.receive_maximum) {
            return Err(violation(
                ReasonCode::ReceiveMaximumExceeded,
                format!("more than {} unacknowledged messages in flight", self.options.receive_maximum),
            ));
        }
        Ok(())
    }

    fn manual_ack(&mut self, link: &mut Link, ack: ManualAck) -> Result<()> {
        if ack.connection != self.connection_id {
            // The message came on an earlier connection; the server sends it again.
            return Ok(());
        }
        match ack.qos {
            QoS::AtLeastOnce if link.unacked_qos1.remove(&ack.packet_id) => {
                link.encode(&Packet::PubAck(PubAck::new(ack.packet_id)))
            }
            QoS::ExactlyOnce
                if self.session.incoming_qos2.get(&ack.packet_id)
                    == Some(&IncomingQos2::AwaitingApplication) =>
            {
                self.session.incoming_qos2.insert(ack.packet_id, IncomingQos2::Received);
                link.encode(&Packet::PubRec(PubRec::new(ack.packet_id)))
            }
            _ => Ok(()),
        }
    }

    fn publish_acknowledged(
        &mut self,
        link: &mut Link,
        id: u16,
        reason_code: ReasonCode,
        properties: AckProperties,
        is_puback: bool,
    ) -> Result<()> {
        let expected = match self.session.outgoing.get(&id) {
            Some(out) if is_puback => out.publish.qos == QoS::AtLeastOnce,
            Some(out) => out.publish.qos == QoS::ExactlyOnce,
            None => false,
        };
        if !expected {
            tracing::debug!(packet_id = id, "acknowledgement for a packet identifier not in flight: ignored");
            return Ok(());
        }
        let Some(out) = self.session.outgoing.remove(&id) else { return Ok(()) };
        let result = PublishResult { packet_id: Some(id), qos: out.publish.qos, reason_code, properties };
        self.report(out.reply, result, Event::Published, |result| {
            if result.reason_code.is_error() {
                Err(Error::PublishFailed {
                    packet_id: id,
                    reason_code: result.reason_code,
                    reason_string: result.properties.reason_string.as_ref().map(|s| s.to_string()),
                })
            } else {
                Ok(result)
            }
        });
        // A slot under the server's Receive Maximum is free.
        while self.session.outgoing.len() < link.limits.receive_maximum {
            let Some((publish, reply)) = link.waiting.pop_front() else { break };
            self.send_publish(link, publish, reply)?;
        }
        Ok(())
    }

    fn subscribe_acknowledged(&mut self, ack: SubAck) {
        let Some((subscribe, reply)) = self.session.subscribes.remove(&ack.packet_id) else { return };
        let granted = subscribe
            .subscriptions
            .into_iter()
            .zip(&ack.reason_codes)
            .filter(|(_, code)| !code.is_error())
            .map(|(subscription, _)| subscription);
        self.session.remember_subscriptions(granted);
        let result = SubscribeResult {
            packet_id: ack.packet_id,
            reason_codes: ack.reason_codes,
            properties: ack.properties,
        };
        self.report(reply, result, Event::Subscribed, |result| {
            if result.is_success() {
                Ok(result)
            } else {
                Err(Error::SubscribeFailed { reason_codes: result.reason_codes })
            }
        });
    }

    fn unsubscribe_acknowledged(&mut self, ack: UnsubAck) {
        let Some((unsubscribe, reply)) = self.session.unsubscribes.remove(&ack.packet_id) else { return };
        self.session.forget_subscriptions(&unsubscribe.filters);
        let result = UnsubscribeResult {
            packet_id: ack.packet_id,
            reason_codes: ack.reason_codes,
            properties: ack.properties,
        };
        self.report(reply, result, Event::Unsubscribed, |result| {
            if result.is_success() {
                Ok(result)
            } else {
                Err(Error::UnsubscribeFailed { reason_codes: result.reason_codes })
            }
        });
    }

    /// Hands an acknowledgement to the caller waiting for it (as `outcome` makes it: a
    /// failure reason code becomes an error), or, for a fire-and-forget operation, to the
    /// event stream as it is.
    fn report<T>(
        &mut self,
        reply: Reply<T>,
        result: T,
        event: fn(T) -> Event,
        outcome: impl FnOnce(T) -> Result<T>,
    ) {
        match reply {
            Some(waiting) => {
                // A caller that gave up (timeout, cancelled task) has dropped the receiver.
                let _ = waiting.send(outcome(result));
            }
            None => self.events.emit(event(result)),
        }
    }

    /// Carries out one command on the live connection.
    fn command(&mut self, link: &mut Link, command: Command) -> Option<End> {
        let outcome = match command {
            Command::Connect(reply) => {
                complete(reply, Err(Error::AlreadyConnected));
                Ok(())
            }
            Command::Publish(publish, reply) => match self.check_publish(link, &publish) {
                Err(error) => {
                    self.fail(Command::Publish(publish, reply), error);
                    Ok(())
                }
                Ok(()) if publish.qos == QoS::AtMostOnce => self.send_publish(link, publish, reply),
                Ok(()) if self.session.outgoing.len() >= link.limits.receive_maximum => {
                    link.waiting.push_back((publish, reply));
                    Ok(())
                }
                Ok(()) => self.send_publish(link, publish, reply),
            },
            Command::Subscribe(subscribe, reply) => match self.check_subscribe(link, &subscribe) {
                Err(error) => {
                    self.fail(Command::Subscribe(subscribe, reply), error);
                    Ok(())
                }
                Ok(()) => self.send_subscribe(link, subscribe, reply),
            },
            Command::Unsubscribe(unsubscribe, reply) => self.send_unsubscribe(link, unsubscribe, reply),
            Command::Ping(reply) => link
                .encode(&Packet::PingReq)
                .map(|()| link.pings.push_back((Instant::now(), Ping::Requested(reply)))),
            Command::Auth(auth, reply) => {
                if link.version != ProtocolVersion::V5 {
                    self.fail(Command::Auth(auth, reply), Error::InvalidArgument("AUTH needs MQTT 5".into()));
                    Ok(())
                } else {
                    complete(
                        link.auth.take(),
                        Err(Error::InvalidArgument("superseded by a newer AUTH".into())),
                    );
                    link.auth = reply;
                    link.encode(&Packet::Auth(auth))
                }
            }
            Command::ReAuthenticate(reply) => {
                let Some(authenticator) = self.options.authenticator.clone() else {
                    self.fail(Command::ReAuthenticate(reply), no_authenticator());
                    return None;
                };
                let mut exchange = authenticator.start();
                let auth =
                    Auth::new(ReasonCode::ReAuthenticate, authenticator.method(), exchange.initial_data());
                complete(link.auth.take(), Err(Error::InvalidArgument("superseded by a newer AUTH".into())));
                link.auth = reply;
                link.auth_exchange = Some(exchange);
                link.encode(&Packet::Auth(auth))
            }
            Command::Disconnect(disconnect, reply) => {
                let info = DisconnectInfo {
                    reason_code: disconnect.reason_code,
                    by_server: false,
                    properties: disconnect.properties,
                };
                return Some(End::Disconnected(info, reply));
            }
            Command::Shutdown(reply) => return Some(End::Shutdown(reply)),
        };
        outcome.err().map(End::Lost)
    }

    fn check_publish(&self, link: &Link, publish: &Publish) -> Result<()> {
        if publish.qos > link.limits.maximum_qos {
            return Err(Error::InvalidArgument(format!(
                "QoS {} is above the server's Maximum QoS {}",
                publish.qos as u8, link.limits.maximum_qos as u8
            )));
        }
        if publish.retain && !link.limits.retain_available {
            return Err(Error::InvalidArgument("the server does not support retained messages".into()));
        }
        if let Some(alias) =
            publish.properties.topic_alias.filter(|alias| *alias > link.limits.topic_alias_maximum)
        {
            return Err(Error::InvalidArgument(format!(
                "topic alias {alias} is above the server's Topic Alias Maximum {}",
                link.limits.topic_alias_maximum
            )));
        }
        if let Some(max) = link.limits.maximum_packet_size {
            let size = publish.wire_len(link.version);
            if size > max {
                return Err(Error::InvalidArgument(format!(
                    "PUBLISH of {size} bytes exceeds the server's Maximum Packet Size of {max} bytes"
                )));
            }
        }
        Ok(())
    }

    fn check_subscribe(&self, link: &Link, subscribe: &Subscribe) -> Result<()> {
        for subscription in &subscribe.subscriptions {
            let filter = TopicFilter::parse(&subscription.filter).map_err(|e| {
                Error::InvalidArgument(format!("topic filter {:?}: {e}", &*subscription.filter))
            })?;
            if filter.is_shared() && !link.limits.shared_subscriptions {
                return Err(Error::InvalidArgument(
                    "the server does not support shared subscriptions".into(),
                ));
            }
            if filter.has_wildcards() && !link.limits.wildcards {
                return Err(Error::InvalidArgument(
                    "the server does not support wildcard subscriptions".into(),
                ));
            }
        }
        if subscribe.properties.subscription_identifier.is_some() && !link.limits.subscription_identifiers {
            return Err(Error::InvalidArgument(
                "the server does not support subscription identifiers".into(),
            ));
        }
        Ok(())
    }

    /// Sends a publication (QoS 1/2: records it as in flight first).
    fn send_publish(
        &mut self,
        link: &mut Link,
        mut publish: Publish,
        reply: Reply<PublishResult>,
    ) -> Result<()> {
        if publish.qos == QoS::AtMostOnce {
            self.encode_publish(link, &publish)?;
            complete(
                reply,
                Ok(PublishResult {
                    packet_id: None,
                    qos: QoS::AtMostOnce,
                    reason_code: ReasonCode::Success,
                    properties: AckProperties::default(),
                }),
            );
            return Ok(());
        }
        let id = match self.session.allocate_packet_id() {
            Ok(id) => id,
            Err(error) => {
                self.fail(Command::Publish(publish, reply), error);
                return Ok(());
            }
        };
        publish.packet_id = id;
        self.encode_publish(link, &publish)?;
        let sequence = self.session.next_sequence();
        self.session.outgoing.insert(id, Outgoing { publish, stage: Stage::AwaitingAck, reply, sequence });
        Ok(())
    }

    /// Encodes a PUBLISH (validated when the application handed it over), replacing its
    /// topic by an alias when automatic aliasing is on.
    fn encode_publish(&mut self, link: &mut Link, publish: &Publish) -> Result<()> {
        let internal = |error: ProtocolError| Error::InvalidArgument(error.to_string());
        if !self.options.auto_topic_alias
            || link.limits.topic_alias_maximum == 0
            || publish.properties.topic_alias.is_some()
        {
            return publish.encode_unchecked(link.version, &mut link.write_buf).map_err(internal);
        }
        let known = link.aliases_out.get(&publish.topic).copied();
        let (alias, topic) = match known {
            Some(alias) => (alias, ByteString::new()),
            None if link.aliases_out.len() < usize::from(link.limits.topic_alias_maximum) => {
                let alias = link.aliases_out.len() as u16 + 1;
                link.aliases_out.insert(publish.topic.clone(), alias);
                (alias, publish.topic.clone())
            }
            None => return publish.encode_unchecked(link.version, &mut link.write_buf).map_err(internal),
        };
        let mut aliased = publish.clone();
        aliased.topic = topic;
        aliased.properties.topic_alias = Some(alias);
        aliased.encode_unchecked(link.version, &mut link.write_buf).map_err(internal)
    }

    fn send_subscribe(
        &mut self,
        link: &mut Link,
        mut subscribe: Subscribe,
        reply: Reply<SubscribeResult>,
    ) -> Result<()> {
        match self.session.allocate_packet_id() {
            Ok(id) => subscribe.packet_id = id,
            Err(error) => {
                self.fail(Command::Subscribe(subscribe, reply), error);
                return Ok(());
            }
        }
        link.encode(&Packet::Subscribe(subscribe.clone()))?;
        self.session.subscribes.insert(subscribe.packet_id, (subscribe, reply));
        Ok(())
    }

    fn send_unsubscribe(
        &mut self,
        link: &mut Link,
        mut unsubscribe: Unsubscribe,
        reply: Reply<UnsubscribeResult>,
    ) -> Result<()> {
        for filter in &unsubscribe.filters {
            if let Err(error) = topic::validate_topic_filter(filter) {
                let error = Error::InvalidArgument(format!("topic filter {:?}: {error}", &**filter));
                self.fail(Command::Unsubscribe(unsubscribe, reply), error);
                return Ok(());
            }
        }
        match self.session.allocate_packet_id() {
            Ok(id) => unsubscribe.packet_id = id,
            Err(error) => {
                self.fail(Command::Unsubscribe(unsubscribe, reply), error);
                return Ok(());
            }
        }
        link.encode(&Packet::Unsubscribe(unsubscribe.clone()))?;
        self.session.unsubscribes.insert(unsubscribe.packet_id, (unsubscribe, reply));
        Ok(())
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
