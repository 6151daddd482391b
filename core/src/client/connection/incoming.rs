//! Packets from the server: dispatching them, incoming publications and their
//! acknowledgements, AUTH, and the acknowledgements of our own requests.

use crate::client::command::{Reply, complete};
use crate::client::results::{
    Acker, AuthResult, DisconnectInfo, ManualAck, Message, PingResult, PublishResult, SubscribeResult,
    UnsubscribeResult,
};
use crate::client::session::{IncomingQos2, Stage};
use crate::client::worker::{Worker, answer_challenge};
use crate::dispatch::Event;
use crate::error::{Error, Result};
use crate::protocol::{
    AckProperties, Auth, Packet, PubAck, PubComp, PubRec, PubRel, Publish, QoS, ReasonCode, SubAck, UnsubAck,
};

use super::{End, EndOr, Link, Ping, protocol_error, violation};

impl Worker {
    pub(super) fn read_packets(&mut self, link: &mut Link) -> Option<End> {
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

    pub(super) fn packet(&mut self, link: &mut Link, packet: Packet) -> std::result::Result<(), EndOr> {
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
                    Some(IncomingQos2::AwaitingApplication { .. }) => {
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
    pub(super) fn incoming_auth(&mut self, link: &mut Link, auth: Auth) -> Result<()> {
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

    pub(super) fn incoming_publish(
        &mut self,
        link: &mut Link,
        mut publish: Publish,
    ) -> std::result::Result<(), EndOr> {
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
                // Still with the application, which acknowledges it once (on this connection
                // or a later one).
                Some(IncomingQos2::AwaitingApplication { .. }) => return Ok(()),
                None => {
                    self.check_receive_maximum(link)?;
                    if manual {
                        let awaiting = IncomingQos2::AwaitingApplication { delivered_on: self.connection_id };
                        self.session.incoming_qos2.insert(id, awaiting);
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
    pub(super) fn check_receive_maximum(&self, link: &Link) -> Result<()> {
        let in_flight = link.unacked_qos1.len() + self.session.incoming_qos2.len();
        if in_flight >= usize::from(self.options.receive_maximum) {
            return Err(violation(
                ReasonCode::ReceiveMaximumExceeded,
                format!("more than {} unacknowledged messages in flight", self.options.receive_maximum),
            ));
        }
        Ok(())
    }

    pub(super) fn manual_ack(&mut self, link: &mut Link, ack: ManualAck) -> Result<()> {
        match ack.qos {
            // A QoS 1 message from an earlier connection is sent again and acknowledged then.
            QoS::AtLeastOnce
                if ack.connection == self.connection_id && link.unacked_qos1.remove(&ack.packet_id) =>
            {
                link.encode(&Packet::PubAck(PubAck::new(ack.packet_id)))
            }
            // The same delivery (not a later message that reuses the packet identifier after
            // the session was lost), whichever connection carries the acknowledgement.
            QoS::ExactlyOnce
                if self.session.incoming_qos2.get(&ack.packet_id)
                    == Some(&IncomingQos2::AwaitingApplication { delivered_on: ack.connection }) =>
            {
                self.session.incoming_qos2.insert(ack.packet_id, IncomingQos2::Received);
                link.encode(&Packet::PubRec(PubRec::new(ack.packet_id)))
            }
            _ => Ok(()),
        }
    }

    pub(super) fn publish_acknowledged(
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

    pub(super) fn subscribe_acknowledged(&mut self, ack: SubAck) {
        let Some((_, subscribe, reply)) = self.session.subscribes.remove(&ack.packet_id) else { return };
        let id = subscribe.properties.subscription_identifier;
        let granted = subscribe
            .subscriptions
            .into_iter()
            .zip(&ack.reason_codes)
            .filter(|(_, code)| !code.is_error())
            .map(|(subscription, _)| subscription);
        self.session.remember_subscriptions(granted, id);
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

    pub(super) fn unsubscribe_acknowledged(&mut self, ack: UnsubAck) {
        let Some((_, unsubscribe, reply)) = self.session.unsubscribes.remove(&ack.packet_id) else { return };
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
    pub(super) fn report<T>(
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
}
