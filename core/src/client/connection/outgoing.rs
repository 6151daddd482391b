//! Commands from the application: checking them against the server's limits and turning
//! them into packets.

use bytestring::ByteString;
use tokio::time::Instant;

use crate::client::command::{Command, Reply, complete};
use crate::client::results::{DisconnectInfo, PublishResult, SubscribeResult, UnsubscribeResult};
use crate::client::session::{Outgoing, Stage};
use crate::client::worker::Worker;
use crate::error::{Error, Result};
use crate::protocol::{
    AckProperties, Auth, Packet, ProtocolError, ProtocolVersion, Publish, QoS, ReasonCode, Subscribe,
    Unsubscribe,
    topic::{self, TopicFilter},
};

use super::{End, Link, Ping, no_authenticator};

impl Worker {
    /// Carries out one command on the live connection.
    pub(super) fn command(&mut self, link: &mut Link, command: Command) -> Option<End> {
        let outcome = match command {
            Command::Connect(reply) => {
                complete(reply, Err(Error::AlreadyConnected));
                Ok(())
            }
            Command::Publish(mut publish, reply) => match self.check_publish(link, &mut publish) {
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
                    // Cloned: AUTH is rare, and the caller gets it back in the error.
                    if let Err(error) = link.encode_request(&Packet::Auth(auth.clone())) {
                        self.fail(Command::Auth(auth, reply), error);
                        return None;
                    }
                    complete(
                        link.auth.take(),
                        Err(Error::InvalidArgument("superseded by a newer AUTH".into())),
                    );
                    link.auth = reply;
                    Ok(())
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

    /// Checks a publication against the server's limits. One that names its topic by an
    /// alias only gets its topic back (from this connection's aliases), so that it stands
    /// on its own wherever it is sent.
    pub(super) fn check_publish(&self, link: &mut Link, publish: &mut Publish) -> Result<()> {
        if publish.qos > link.limits.maximum_qos {
            return Err(Error::InvalidArgument(format!(
                "QoS {} is above the server's Maximum QoS {}",
                publish.qos as u8, link.limits.maximum_qos as u8
            )));
        }
        if publish.retain && !link.limits.retain_available {
            return Err(Error::InvalidArgument("the server does not support retained messages".into()));
        }
        if publish.properties.topic_alias.is_some() && self.options.auto_topic_alias {
            return Err(Error::InvalidArgument(
                "topic aliases are chosen automatically (auto_topic_alias): none may be given".into(),
            ));
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
            // As given: an alias-only publication goes out without its topic.
            let size = publish.wire_len(link.version);
            if size > max {
                return Err(Error::InvalidArgument(format!(
                    "PUBLISH of {size} bytes exceeds the server's Maximum Packet Size of {max} bytes"
                )));
            }
        }
        if let Some(alias) = publish.properties.topic_alias {
            if publish.topic.is_empty() {
                publish.topic = link.aliases_chosen.get(&alias).cloned().ok_or_else(|| {
                    Error::InvalidArgument(format!(
                        "topic alias {alias} was not set up on this connection (MQTT-3.3.2-7: aliases do not outlive it)"
                    ))
                })?;
            } else {
                link.aliases_chosen.insert(alias, publish.topic.clone());
            }
        }
        Ok(())
    }

    pub(super) fn check_subscribe(&self, link: &Link, subscribe: &Subscribe) -> Result<()> {
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
    pub(super) fn send_publish(
        &mut self,
        link: &mut Link,
        mut publish: Publish,
        reply: Reply<PublishResult>,
    ) -> Result<()> {
        if publish.qos == QoS::AtMostOnce {
            if let Err(error) = self.encode_publish(link, &mut publish) {
                self.fail(Command::Publish(publish, reply), error);
                return Ok(());
            }
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
        if let Err(error) = self.encode_publish(link, &mut publish) {
            self.fail(Command::Publish(publish, reply), error);
            return Ok(());
        }
        let sequence = self.session.next_sequence();
        self.session.outgoing.insert(id, Outgoing { publish, stage: Stage::AwaitingAck, reply, sequence });
        Ok(())
    }

    /// Encodes a PUBLISH (validated when the application handed it over), replacing its
    /// topic by an alias when automatic aliasing is on.
    pub(super) fn encode_publish(&mut self, link: &mut Link, publish: &mut Publish) -> Result<()> {
        if let Some(alias) = publish.properties.topic_alias {
            // The application's alias: the topic goes out only when the alias does not stand
            // for it on this connection yet.
            if link.aliases_sent.get(&alias) == Some(&publish.topic) {
                return encode_as(link, publish, ByteString::new(), Some(alias));
            }
            encode_plain(link, publish)?;
            link.aliases_sent.insert(alias, publish.topic.clone());
            return Ok(());
        }
        if !self.options.auto_topic_alias || link.limits.topic_alias_maximum == 0 {
            return encode_plain(link, publish);
        }
        let known = link.aliases_out.get(&publish.topic).copied();
        let (alias, topic) = match known {
            Some(alias) => (alias, ByteString::new()),
            None if link.aliases_out.len() < usize::from(link.limits.topic_alias_maximum) => {
                (link.aliases_out.len() as u16 + 1, publish.topic.clone())
            }
            None => return encode_plain(link, publish),
        };
        encode_as(link, publish, topic, Some(alias))?;
        // Only a PUBLISH that went out sets the alias.
        if known.is_none() {
            link.aliases_out.insert(publish.topic.clone(), alias);
        }
        Ok(())
    }

    pub(super) fn send_subscribe(
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
        if let Err(error) = link.encode_request(&Packet::Subscribe(subscribe.clone())) {
            self.fail(Command::Subscribe(subscribe, reply), error);
            return Ok(());
        }
        let sequence = self.session.next_sequence();
        self.session.subscribes.insert(subscribe.packet_id, (sequence, subscribe, reply));
        Ok(())
    }

    pub(super) fn send_unsubscribe(
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
        if let Err(error) = link.encode_request(&Packet::Unsubscribe(unsubscribe.clone())) {
            self.fail(Command::Unsubscribe(unsubscribe, reply), error);
            return Ok(());
        }
        let sequence = self.session.next_sequence();
        self.session.unsubscribes.insert(unsubscribe.packet_id, (sequence, unsubscribe, reply));
        Ok(())
    }
}

/// Encodes `publish` (validated when the application handed it over) with `topic` and
/// `alias` in place of its own, which it keeps: the stored form stands on its own for a
/// resend on another connection.
fn encode_as(link: &mut Link, publish: &mut Publish, topic: ByteString, alias: Option<u16>) -> Result<()> {
    let own_topic = std::mem::replace(&mut publish.topic, topic);
    let own_alias = std::mem::replace(&mut publish.properties.topic_alias, alias);
    let encoded = publish.encode_unchecked(link.version, &mut link.write_buf);
    publish.topic = own_topic;
    publish.properties.topic_alias = own_alias;
    encoded.map_err(invalid)
}

/// Encodes `publish` as it is (validated when the application handed it over).
fn encode_plain(link: &mut Link, publish: &Publish) -> Result<()> {
    publish.encode_unchecked(link.version, &mut link.write_buf).map_err(invalid)
}

/// An encoding refused: the application's arguments were at fault.
fn invalid(error: ProtocolError) -> Error {
    Error::InvalidArgument(error.to_string())
}
