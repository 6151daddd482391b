//! Per-call options of publish, subscribe and unsubscribe.
//!
//! Each carries an optional timeout for its wait-for-acknowledgement form: `None` uses the
//! client's default ([`Timeouts`](super::Timeouts)), a duration overrides it for this call,
//! and [`NO_TIMEOUT`] (what `no_timeout()` sets) waits as long as it takes.

use std::time::Duration;

use bytes::Bytes;

use crate::protocol::{PayloadFormat, PublishProperties, QoS, UserProperty};

/// A per-call timeout that never expires: the call waits as long as it takes.
pub const NO_TIMEOUT: Duration = Duration::MAX;

/// Options of one publication beyond topic and payload.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[must_use]
pub struct PublishOptions {
    /// QoS (default 0).
    pub qos: QoS,
    /// Retain the message (default false).
    pub retain: bool,
    /// MQTT 5 properties: payload format, message expiry, content type, response topic,
    /// correlation data, user properties, topic alias.
    pub properties: PublishProperties,
    /// Overrides the client's publish timeout for this call ([`NO_TIMEOUT`]: none).
    pub timeout: Option<Duration>,
}

impl PublishOptions {
    /// Options with this QoS.
    pub fn qos(qos: QoS) -> Self {
        PublishOptions { qos, ..Default::default() }
    }
    /// Sets RETAIN.
    pub fn retain(mut self, retain: bool) -> Self {
        self.retain = retain;
        self
    }
    /// Marks the payload as UTF-8 (or unspecified bytes).
    pub fn payload_format(mut self, format: PayloadFormat) -> Self {
        self.properties.payload_format_indicator = Some(format);
        self
    }
    /// Message Expiry Interval.
    pub fn message_expiry(mut self, interval: Duration) -> Self {
        self.properties.message_expiry_interval = Some(interval.as_secs().min(u64::from(u32::MAX)) as u32);
        self
    }
    /// Content Type.
    pub fn content_type(mut self, content_type: impl Into<String>) -> Self {
        self.properties.content_type = Some(content_type.into().into());
        self
    }
    /// Response Topic (request/response).
    pub fn response_topic(mut self, topic: impl Into<String>) -> Self {
        self.properties.response_topic = Some(topic.into().into());
        self
    }
    /// Correlation Data (request/response).
    pub fn correlation_data(mut self, data: impl Into<Bytes>) -> Self {
        self.properties.correlation_data = Some(data.into());
        self
    }
    /// Adds a user property.
    pub fn user_property(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.properties.user_properties.push((name.into().into(), value.into().into()));
        self
    }
    /// Uses topic alias `alias` (within the server's Topic Alias Maximum). With a topic it
    /// sets the alias up on this connection; with an empty topic it stands for the topic it
    /// was set up with (refused if it was not: aliases do not outlive a connection, and a
    /// resend after a reconnect carries the topic again). Refused while `auto_topic_alias`
    /// chooses the aliases.
    pub fn topic_alias(mut self, alias: u16) -> Self {
        self.properties.topic_alias = Some(alias);
        self
    }
}

/// Options of one SUBSCRIBE beyond its filters.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[must_use]
pub struct SubscribeOptions {
    /// Subscription Identifier, echoed in matching messages (MQTT 5).
    pub subscription_identifier: Option<u32>,
    /// User properties (MQTT 5).
    pub user_properties: Vec<UserProperty>,
    /// Overrides the client's subscribe timeout for this call ([`NO_TIMEOUT`]: none).
    pub timeout: Option<Duration>,
}

impl SubscribeOptions {
    /// Sets the subscription identifier.
    pub fn subscription_identifier(mut self, id: u32) -> Self {
        self.subscription_identifier = Some(id);
        self
    }
}

/// Options of one UNSUBSCRIBE beyond its filters.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[must_use]
pub struct UnsubscribeOptions {
    /// User properties (MQTT 5).
    pub user_properties: Vec<UserProperty>,
    /// Overrides the client's unsubscribe timeout for this call ([`NO_TIMEOUT`]: none).
    pub timeout: Option<Duration>,
}

/// The builder methods every per-call options type shares: its timeout, and (where the
/// user properties are a field of its own) adding one.
macro_rules! shared_setters {
    ($options:ident, $operation:literal $(, $user_properties:ident)?) => {
        impl $options {
            $(
                /// Adds a user property.
                pub fn user_property(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
                    self.$user_properties.push((name.into().into(), value.into().into()));
                    self
                }
            )?
            #[doc = concat!("Overrides the client's ", $operation, " timeout for this call.")]
            pub fn timeout(mut self, timeout: Duration) -> Self {
                self.timeout = Some(timeout);
                self
            }
            /// Waits for the acknowledgement as long as it takes.
            pub fn no_timeout(self) -> Self {
                self.timeout(NO_TIMEOUT)
            }
        }
    };
}

shared_setters!(PublishOptions, "publish");
shared_setters!(SubscribeOptions, "subscribe", user_properties);
shared_setters!(UnsubscribeOptions, "unsubscribe", user_properties);
