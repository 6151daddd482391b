//! The one place where core events and operation results become JavaScript values.
//!
//! Everything a client reports (events from the core's dispatcher and completions of
//! wait-for-ack operations) is queued as an [`Item`]; the JS thread takes the whole queue at
//! once (`drain`) as one packed [`Batch`]:
//!
//! - `nums`: a `Uint32Array` of item records, each starting with its tag (`TAG_*`);
//! - `refs`: an `Array` of the JS values the records refer to, in order;
//! - `topics`: every message topic of the batch joined in one string, sliced by UTF-16
//!   offsets from the records (a repeated topic is not repeated);
//! - `payloads`: every small message payload of the batch in one `Buffer`, sliced by offsets
//!   (large payloads cross one by one as external Buffers over the received bytes).
//!
//! So a message or an acknowledgement costs no Node-API call of its own; `index.js` decodes
//! the records (the layouts are documented at each `TAG_*`). The match on [`Event`] has no
//! catch-all arm: a new core event fails to compile here until it is given a JS form.

use bytes::Bytes;
use mqttkit::Error;
use mqttkit::client::{
    AuthResult, ConnectResult, DisconnectInfo, Message, PingResult, PublishResult, SubscribeResult,
    UnsubscribeResult,
};
use mqttkit::dispatch::Event;
use mqttkit::protocol::{AckProperties, PayloadFormat, PublishProperties, UserProperty};
use napi::bindgen_prelude::{Array, BufferSlice, Object, ToNapiValue, Uint32Array, Undefined};
use napi::{Env, Result};

use crate::errors;

/// Payloads at least this large cross as external Buffers over the received bytes (no
/// copy); smaller ones are copied into the batch's one payload Buffer.
const ZERO_COPY_THRESHOLD: usize = 4096;

/// `[1, flags, packetId, ackToken, topicStart, topicEnd, payloadStart, payloadEnd]`, flags =
/// qos | retain << 2 | dup << 3 | hasProperties << 4 | externalPayload << 5; refs: the
/// external payload Buffer if flagged, then the properties object if flagged. `ackToken` 0:
/// no manual ack needed.
pub(crate) const TAG_MESSAGE: u32 = 1;
/// `[2, requestId]`, refs: the value: a wait-for-ack operation succeeded.
pub(crate) const TAG_DONE: u32 = 2;
/// `[3, requestId]`, refs: the error info: a wait-for-ack operation failed.
pub(crate) const TAG_FAILED: u32 = 3;
/// `[4]`, refs: the CONNACK.
pub(crate) const TAG_CONNECTED: u32 = 4;
/// `[5]`, refs: the disconnect info.
pub(crate) const TAG_DISCONNECTED: u32 = 5;
/// `[6, packetId + 0x10000 (0: none), qos, reasonCode, hasProperties]`, refs: the
/// properties if flagged: a fire-and-forget publish was acknowledged.
pub(crate) const TAG_PUBLISHED: u32 = 6;
/// `[7]`, refs: the SUBACK.
pub(crate) const TAG_SUBSCRIBED: u32 = 7;
/// `[8]`, refs: the UNSUBACK.
pub(crate) const TAG_UNSUBSCRIBED: u32 = 8;
/// `[9]`, refs: `{ roundTrip }`.
pub(crate) const TAG_PING_RESPONSE: u32 = 9;
/// `[10]`, refs: the error info.
pub(crate) const TAG_ERROR: u32 = 10;
/// `[11]`, refs: the error info.
pub(crate) const TAG_CONNECTION_LOST: u32 = 11;
/// `[12, attempt, delayMs]`.
pub(crate) const TAG_RECONNECT_ATTEMPT: u32 = 12;
/// `[13, count]`.
pub(crate) const TAG_PENDING_CLEARED: u32 = 13;
/// `[14]`, refs: the AUTH packet.
pub(crate) const TAG_AUTH: u32 = 14;
/// `[15]`, refs: the certificate Buffer.
pub(crate) const TAG_PEER_CERTIFICATE: u32 = 15;
/// `[16]`: the client was shut down; nothing follows.
pub(crate) const TAG_CLOSED: u32 = 16;
/// `[18, requestId, packetId + 0x10000 (0: none), qos, reasonCode, hasProperties]`, refs:
/// the properties if flagged: a wait-for-ack publish succeeded.
pub(crate) const TAG_DONE_PUBLISH: u32 = 18;

/// The value a successful operation resolves with.
#[derive(Debug)]
pub(crate) enum Reply {
    /// `connect`.
    Connect(ConnectResult),
    /// `publish`.
    Publish(PublishResult),
    /// `subscribe`.
    Subscribe(SubscribeResult),
    /// `unsubscribe`.
    Unsubscribe(UnsubscribeResult),
    /// `ping`.
    Ping(PingResult),
    /// `authContinue`, `reAuthenticate`.
    Auth(AuthResult),
    /// Operations without a result (`disconnect`, `end`, every `...Nowait`).
    Unit,
}

/// One thing queued for the JS thread.
#[derive(Debug)]
pub(crate) enum Item {
    /// A core event; a message carries its manual-ack token (0: none).
    Event(Event, u32),
    /// A wait-for-ack operation finished.
    Done(u32, std::result::Result<Reply, Error>),
    /// The client is shut down; the last item.
    Closed,
}

/// A batch being packed for the JS thread.
pub(crate) struct Batch<'env> {
    env: &'env Env,
    nums: Vec<u32>,
    refs: Array<'env>,
    ref_count: u32,
    topics: String,
    topics_utf16: u32,
    last_topic: Option<(bytestring::ByteString, u32, u32)>,
    payloads: Vec<u8>,
}

impl<'env> Batch<'env> {
    /// An empty batch sized for `items` items.
    pub(crate) fn new(env: &'env Env, items: usize) -> Result<Self> {
        Ok(Batch {
            env,
            nums: Vec::with_capacity(items * 8),
            refs: env.create_array(0)?,
            ref_count: 0,
            topics: String::new(),
            topics_utf16: 0,
            last_topic: None,
            payloads: Vec::new(),
        })
    }

    fn push_ref<V: ToNapiValue>(&mut self, value: V) -> Result<()> {
        self.refs.set(self.ref_count, value)?;
        self.ref_count += 1;
        Ok(())
    }

    /// `[nums, refs, topics, payloads]` for `drain`.
    pub(crate) fn finish(self) -> Result<Array<'env>> {
        let mut out = self.env.create_array(4)?;
        out.set(0, Uint32Array::new(self.nums))?;
        out.set(1, self.refs)?;
        out.set(2, self.topics)?;
        if self.payloads.is_empty() {
            out.set(3, Undefined::default())?;
        } else {
            out.set(3, BufferSlice::from_data(self.env, self.payloads)?)?;
        }
        Ok(out)
    }

    /// Packs one item.
    pub(crate) fn push(&mut self, item: Item) -> Result<()> {
        let env = self.env;
        match item {
            Item::Event(event, token) => match event {
                Event::Message(message) => self.push_message(message, token)?,
                Event::Connected(result) => {
                    self.nums.push(TAG_CONNECTED);
                    self.push_ref(connect_result(env, &result)?)?;
                }
                Event::Disconnected(info) => {
                    self.nums.push(TAG_DISCONNECTED);
                    self.push_ref(disconnect_info(env, &info)?)?;
                }
                Event::Published(result) => {
                    self.nums.push(TAG_PUBLISHED);
                    self.push_publish_result(&result)?;
                }
                Event::Subscribed(result) => {
                    self.nums.push(TAG_SUBSCRIBED);
                    self.push_ref(subscribe_result(
                        env,
                        result.packet_id,
                        &result.reason_codes,
                        &result.properties,
                    )?)?;
                }
                Event::Unsubscribed(result) => {
                    self.nums.push(TAG_UNSUBSCRIBED);
                    self.push_ref(subscribe_result(
                        env,
                        result.packet_id,
                        &result.reason_codes,
                        &result.properties,
                    )?)?;
                }
                Event::PingResponse(result) => {
                    self.nums.push(TAG_PING_RESPONSE);
                    self.push_ref(ping_result(env, &result)?)?;
                }
                Event::Error(error) => {
                    self.nums.push(TAG_ERROR);
                    self.push_ref(errors::info(&error))?;
                }
                Event::ConnectionLost(error) => {
                    self.nums.push(TAG_CONNECTION_LOST);
                    self.push_ref(errors::info(&error))?;
                }
                Event::ReconnectAttempt { attempt, delay } => {
                    let delay_ms = u32::try_from(delay.as_millis()).unwrap_or(u32::MAX);
                    self.nums.extend([TAG_RECONNECT_ATTEMPT, attempt, delay_ms]);
                }
                Event::PendingOperationsCleared { count } => {
                    self.nums.extend([TAG_PENDING_CLEARED, u32::try_from(count).unwrap_or(u32::MAX)]);
                }
                Event::AuthReceived(result) => {
                    self.nums.push(TAG_AUTH);
                    self.push_ref(auth_result(env, &result)?)?;
                }
                Event::PeerCertificateReceived(der) => {
                    self.nums.push(TAG_PEER_CERTIFICATE);
                    self.push_ref(BufferSlice::from_data(env, der)?)?;
                }
            },
            Item::Done(id, Ok(Reply::Publish(result))) => {
                self.nums.extend([TAG_DONE_PUBLISH, id]);
                self.push_publish_result(&result)?;
            }
            Item::Done(id, Ok(reply)) => {
                self.nums.extend([TAG_DONE, id]);
                match reply {
                    Reply::Connect(result) => self.push_ref(connect_result(env, &result)?)?,
                    Reply::Publish(result) => self.push_ref(publish_result(env, &result)?)?,
                    Reply::Subscribe(result) => self.push_ref(subscribe_result(
                        env,
                        result.packet_id,
                        &result.reason_codes,
                        &result.properties,
                    )?)?,
                    Reply::Unsubscribe(result) => self.push_ref(subscribe_result(
                        env,
                        result.packet_id,
                        &result.reason_codes,
                        &result.properties,
                    )?)?,
                    Reply::Ping(result) => self.push_ref(ping_result(env, &result)?)?,
                    Reply::Auth(result) => self.push_ref(auth_result(env, &result)?)?,
                    Reply::Unit => self.push_ref(Undefined::default())?,
                }
            }
            Item::Done(id, Err(error)) => {
                self.nums.extend([TAG_FAILED, id]);
                self.push_ref(errors::info(&error))?;
            }
            Item::Closed => self.nums.push(TAG_CLOSED),
        }
        Ok(())
    }

    fn push_publish_result(&mut self, result: &PublishResult) -> Result<()> {
        let has_properties = result.properties != AckProperties::default();
        self.nums.extend([
            result.packet_id.map_or(0, |id| u32::from(id) + 0x10000),
            result.qos as u32,
            u32::from(result.reason_code.code()),
            u32::from(has_properties),
        ]);
        if has_properties {
            self.push_ref(ack_properties(self.env, &result.properties)?)?;
        }
        Ok(())
    }

    fn push_message(&mut self, message: Message, token: u32) -> Result<()> {
        let (start, end) = match &self.last_topic {
            Some((topic, start, end)) if *topic == message.topic => (*start, *end),
            _ => {
                let start = self.topics_utf16;
                let units = if message.topic.is_ascii() {
                    message.topic.len()
                } else {
                    message.topic.encode_utf16().count()
                };
                self.topics.push_str(&message.topic);
                self.topics_utf16 += u32::try_from(units).unwrap_or(u32::MAX);
                self.last_topic = Some((message.topic.clone(), start, self.topics_utf16));
                (start, self.topics_utf16)
            }
        };
        let has_properties = message.properties != PublishProperties::default();
        let external = message.payload.len() >= ZERO_COPY_THRESHOLD;
        let flags = message.qos as u32
            | (u32::from(message.retain) << 2)
            | (u32::from(message.dup) << 3)
            | (u32::from(has_properties) << 4)
            | (u32::from(external) << 5);
        let (payload_start, payload_end) = if external {
            (0, 0)
        } else {
            let payload_start = self.payloads.len();
            self.payloads.extend_from_slice(&message.payload);
            (payload_start as u32, self.payloads.len() as u32)
        };
        self.nums.extend([
            TAG_MESSAGE,
            flags,
            u32::from(message.packet_id),
            token,
            start,
            end,
            payload_start,
            payload_end,
        ]);
        if external {
            let buffer = payload_buffer(self.env, message.payload)?;
            self.push_ref(buffer)?;
        }
        if has_properties {
            let properties = publish_properties(self.env, &message.properties)?;
            self.push_ref(properties)?;
        }
        Ok(())
    }
}

fn payload_buffer<'env>(env: &'env Env, payload: Bytes) -> Result<BufferSlice<'env>> {
    let data = payload.as_ptr().cast_mut();
    let len = payload.len();
    // SAFETY: `data..data+len` stays valid while `payload` (the finalize hint) lives, and the
    // finalizer drops it only when V8 collects the Buffer. JavaScript may write into the
    // Buffer; these bytes belong to this message alone (a view nobody else reads).
    unsafe { BufferSlice::from_external(env, data, len, payload, |_, payload| drop(payload)) }
}

/// MQTT.js-style user properties: `{ name: value }`, repeated names as arrays.
fn user_properties<'env>(env: &'env Env, properties: &[UserProperty]) -> Result<Object<'env>> {
    let mut object = Object::new(env)?;
    let mut seen: Vec<&str> = Vec::new();
    for (name, _) in properties {
        if seen.contains(&&**name) {
            continue;
        }
        seen.push(name);
        let values: Vec<&str> = properties.iter().filter(|(n, _)| n == name).map(|(_, v)| &**v).collect();
        if values.len() == 1 {
            object.set(&**name, values[0])?;
        } else {
            object.set(&**name, values.iter().map(|v| v.to_string()).collect::<Vec<_>>())?;
        }
    }
    Ok(object)
}

fn publish_properties<'env>(env: &'env Env, p: &PublishProperties) -> Result<Object<'env>> {
    let mut object = Object::new(env)?;
    if let Some(format) = p.payload_format_indicator {
        object.set("payloadFormatIndicator", format == PayloadFormat::Utf8)?;
    }
    if let Some(seconds) = p.message_expiry_interval {
        object.set("messageExpiryInterval", seconds)?;
    }
    if let Some(alias) = p.topic_alias {
        object.set("topicAlias", u32::from(alias))?;
    }
    if let Some(topic) = &p.response_topic {
        object.set("responseTopic", &**topic)?;
    }
    if let Some(data) = &p.correlation_data {
        object.set("correlationData", BufferSlice::copy_from(env, data)?)?;
    }
    if !p.user_properties.is_empty() {
        object.set("userProperties", user_properties(env, &p.user_properties)?)?;
    }
    match p.subscription_identifiers.as_slice() {
        [] => {}
        [one] => object.set("subscriptionIdentifier", *one)?,
        many => object.set("subscriptionIdentifier", many.to_vec())?,
    }
    if let Some(content_type) = &p.content_type {
        object.set("contentType", &**content_type)?;
    }
    Ok(object)
}

fn ack_properties<'env>(env: &'env Env, p: &AckProperties) -> Result<Object<'env>> {
    let mut object = Object::new(env)?;
    if let Some(reason) = &p.reason_string {
        object.set("reasonString", &**reason)?;
    }
    if !p.user_properties.is_empty() {
        object.set("userProperties", user_properties(env, &p.user_properties)?)?;
    }
    Ok(object)
}

fn connect_result<'env>(env: &'env Env, result: &ConnectResult) -> Result<Object<'env>> {
    let mut object = Object::new(env)?;
    object.set("cmd", "connack")?;
    object.set("sessionPresent", result.session_present)?;
    object.set("reasonCode", u32::from(result.reason_code.code()))?;
    if let Some(id) = &result.assigned_client_id {
        object.set("assignedClientId", id.as_str())?;
    }
    let p = &result.properties;
    let mut props = Object::new(env)?;
    macro_rules! copy {
        ($($field:ident => $name:literal),+) => {
            $( if let Some(value) = p.$field { props.set($name, value)?; } )+
        };
    }
    copy!(session_expiry_interval => "sessionExpiryInterval", retain_available => "retainAvailable",
        maximum_packet_size => "maximumPacketSize", wildcard_subscription_available => "wildcardSubscriptionAvailable",
        subscription_identifiers_available => "subscriptionIdentifiersAvailable",
        shared_subscription_available => "sharedSubscriptionAvailable");
    if let Some(value) = p.receive_maximum {
        props.set("receiveMaximum", u32::from(value))?;
    }
    if let Some(value) = p.topic_alias_maximum {
        props.set("topicAliasMaximum", u32::from(value))?;
    }
    if let Some(value) = p.server_keep_alive {
        props.set("serverKeepAlive", u32::from(value))?;
    }
    if let Some(qos) = p.maximum_qos {
        props.set("maximumQoS", qos as u32)?;
    }
    for (value, name) in [
        (&p.assigned_client_identifier, "assignedClientIdentifier"),
        (&p.reason_string, "reasonString"),
        (&p.response_information, "responseInformation"),
        (&p.server_reference, "serverReference"),
        (&p.authentication_method, "authenticationMethod"),
    ] {
        if let Some(value) = value {
            props.set(name, &**value)?;
        }
    }
    if let Some(data) = &p.authentication_data {
        props.set("authenticationData", BufferSlice::copy_from(env, data)?)?;
    }
    if !p.user_properties.is_empty() {
        props.set("userProperties", user_properties(env, &p.user_properties)?)?;
    }
    object.set("properties", props)?;
    Ok(object)
}

fn publish_result<'env>(env: &'env Env, result: &PublishResult) -> Result<Object<'env>> {
    let mut object = Object::new(env)?;
    object.set("packetId", result.packet_id.map(u32::from))?;
    object.set("qos", result.qos as u32)?;
    object.set("reasonCode", u32::from(result.reason_code.code()))?;
    object.set("properties", ack_properties(env, &result.properties)?)?;
    Ok(object)
}

fn subscribe_result<'env>(
    env: &'env Env,
    packet_id: u16,
    reason_codes: &[mqttkit::protocol::ReasonCode],
    properties: &AckProperties,
) -> Result<Object<'env>> {
    let mut object = Object::new(env)?;
    object.set("packetId", u32::from(packet_id))?;
    object.set("reasonCodes", reason_codes.iter().map(|code| u32::from(code.code())).collect::<Vec<_>>())?;
    object.set("properties", ack_properties(env, properties)?)?;
    Ok(object)
}

fn ping_result<'env>(env: &'env Env, result: &PingResult) -> Result<Object<'env>> {
    let mut object = Object::new(env)?;
    object.set("roundTrip", result.round_trip.as_secs_f64() * 1000.0)?;
    Ok(object)
}

fn auth_result<'env>(env: &'env Env, result: &AuthResult) -> Result<Object<'env>> {
    let mut object = Object::new(env)?;
    object.set("cmd", "auth")?;
    object.set("reasonCode", u32::from(result.reason_code.code()))?;
    let p = &result.properties;
    let mut props = Object::new(env)?;
    if let Some(method) = &p.authentication_method {
        props.set("authenticationMethod", &**method)?;
    }
    if let Some(data) = &p.authentication_data {
        props.set("authenticationData", BufferSlice::copy_from(env, data)?)?;
    }
    if let Some(reason) = &p.reason_string {
        props.set("reasonString", &**reason)?;
    }
    if !p.user_properties.is_empty() {
        props.set("userProperties", user_properties(env, &p.user_properties)?)?;
    }
    object.set("properties", props)?;
    Ok(object)
}

fn disconnect_info<'env>(env: &'env Env, info: &DisconnectInfo) -> Result<Object<'env>> {
    let mut object = Object::new(env)?;
    object.set("cmd", "disconnect")?;
    object.set("reasonCode", u32::from(info.reason_code.code()))?;
    object.set("byServer", info.by_server)?;
    let p = &info.properties;
    let mut props = Object::new(env)?;
    if let Some(seconds) = p.session_expiry_interval {
        props.set("sessionExpiryInterval", seconds)?;
    }
    if let Some(reason) = &p.reason_string {
        props.set("reasonString", &**reason)?;
    }
    if let Some(reference) = &p.server_reference {
        props.set("serverReference", &**reference)?;
    }
    if !p.user_properties.is_empty() {
        props.set("userProperties", user_properties(env, &p.user_properties)?)?;
    }
    object.set("properties", props)?;
    Ok(object)
}
