//! The Python classes of operation results and received messages: immutable snapshots of
//! the core's result types, with reason codes as `int` and user properties as lists of
//! `(name, value)` pairs.

use mqttkit::client::{
    AuthResult as CoreAuth, ConnectResult as CoreConnect, DisconnectInfo as CoreDisconnect,
    Message as CoreMessage, PingResult as CorePing, PublishResult as CorePublish,
    SubscribeResult as CoreSubscribe, UnsubscribeResult as CoreUnsubscribe,
};
use mqttkit::protocol::{
    AckProperties, AuthProperties, ConnAckProperties, DisconnectProperties, PayloadFormat, PublishProperties,
    QoS, ReasonCode, UserProperty,
};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyString};

use crate::errors::to_py_err;

fn pairs(properties: &[UserProperty]) -> Vec<(String, String)> {
    properties.iter().map(|(name, value)| (name.to_string(), value.to_string())).collect()
}

fn codes(codes: &[ReasonCode]) -> Vec<u16> {
    codes.iter().map(|code| u16::from(code.code())).collect()
}

fn text(value: &Option<bytestring::ByteString>) -> Option<String> {
    value.as_ref().map(|s| s.to_string())
}

fn bytes_of(py: Python<'_>, value: &Option<bytes::Bytes>) -> Option<Py<PyBytes>> {
    value.as_ref().map(|data| PyBytes::new(py, data).unbind())
}

/// The CONNACK of a connection.
#[pyclass(frozen, get_all, module = "mqttkit")]
pub(crate) struct ConnectResult {
    /// Whether the server resumed a session.
    session_present: bool,
    /// CONNACK reason code.
    reason_code: u8,
    /// The client identifier the server assigned, if the client sent none.
    assigned_client_id: Option<String>,
    /// Session Expiry Interval the server set (MQTT 5).
    session_expiry_interval: Option<u32>,
    /// The server's Receive Maximum (MQTT 5).
    receive_maximum: Option<u16>,
    /// Maximum QoS the server supports (MQTT 5).
    maximum_qos: Option<u8>,
    /// Whether retained messages are supported (MQTT 5).
    retain_available: Option<bool>,
    /// Largest packet the server accepts (MQTT 5).
    maximum_packet_size: Option<u32>,
    /// Highest topic alias the server accepts (MQTT 5).
    topic_alias_maximum: Option<u16>,
    /// Keep alive the server imposes (MQTT 5).
    server_keep_alive: Option<u16>,
    /// Response Information (MQTT 5).
    response_information: Option<String>,
    /// Server Reference (MQTT 5).
    server_reference: Option<String>,
    /// Reason String (MQTT 5).
    reason_string: Option<String>,
    /// Authentication Method (MQTT 5).
    authentication_method: Option<String>,
    /// Authentication Data (MQTT 5).
    authentication_data: Option<Py<PyBytes>>,
    /// User properties (MQTT 5).
    user_properties: Vec<(String, String)>,
}

impl ConnectResult {
    pub(crate) fn new(py: Python<'_>, result: &CoreConnect) -> Self {
        let p: &ConnAckProperties = &result.properties;
        ConnectResult {
            session_present: result.session_present,
            reason_code: result.reason_code.code(),
            assigned_client_id: result.assigned_client_id.clone(),
            session_expiry_interval: p.session_expiry_interval,
            receive_maximum: p.receive_maximum,
            maximum_qos: p.maximum_qos.map(|qos| qos as u8),
            retain_available: p.retain_available,
            maximum_packet_size: p.maximum_packet_size,
            topic_alias_maximum: p.topic_alias_maximum,
            server_keep_alive: p.server_keep_alive,
            response_information: text(&p.response_information),
            server_reference: text(&p.server_reference),
            reason_string: text(&p.reason_string),
            authentication_method: text(&p.authentication_method),
            authentication_data: bytes_of(py, &p.authentication_data),
            user_properties: pairs(&p.user_properties),
        }
    }
}

#[pymethods]
impl ConnectResult {
    fn __repr__(&self) -> String {
        format!(
            "ConnectResult(session_present={}, reason_code={}, assigned_client_id={:?})",
            if self.session_present { "True" } else { "False" },
            self.reason_code,
            self.assigned_client_id
        )
    }
}

/// The acknowledgement of a publish.
#[pyclass(frozen, get_all, module = "mqttkit")]
pub(crate) struct PublishResult {
    /// Packet identifier (None for QoS 0).
    packet_id: Option<u16>,
    /// QoS the message was sent with.
    qos: u8,
    /// PUBACK / PUBREC / PUBCOMP reason code (0 for QoS 0).
    reason_code: u8,
    /// Reason String (MQTT 5).
    reason_string: Option<String>,
    /// User properties (MQTT 5).
    user_properties: Vec<(String, String)>,
}

impl PublishResult {
    pub(crate) fn new(result: &CorePublish) -> Self {
        let AckProperties { reason_string, user_properties } = &result.properties;
        PublishResult {
            packet_id: result.packet_id,
            qos: result.qos as u8,
            reason_code: result.reason_code.code(),
            reason_string: text(reason_string),
            user_properties: pairs(user_properties),
        }
    }
}

#[pymethods]
impl PublishResult {
    /// Whether the server accepted the message.
    #[getter]
    fn is_success(&self) -> bool {
        self.reason_code < 0x80
    }
    fn __repr__(&self) -> String {
        format!(
            "PublishResult(packet_id={}, qos={}, reason_code={})",
            self.packet_id.map_or_else(|| "None".to_owned(), |id| id.to_string()),
            self.qos,
            self.reason_code
        )
    }
}

/// The SUBACK of a subscribe.
#[pyclass(frozen, get_all, module = "mqttkit")]
pub(crate) struct SubscribeResult {
    /// Packet identifier of the SUBSCRIBE.
    packet_id: u16,
    /// One per filter: the granted QoS (0, 1, 2) or a failure code (>= 0x80).
    reason_codes: Vec<u16>,
    /// Reason String (MQTT 5).
    reason_string: Option<String>,
    /// User properties (MQTT 5).
    user_properties: Vec<(String, String)>,
}

impl SubscribeResult {
    pub(crate) fn new(result: &CoreSubscribe) -> Self {
        SubscribeResult {
            packet_id: result.packet_id,
            reason_codes: codes(&result.reason_codes),
            reason_string: text(&result.properties.reason_string),
            user_properties: pairs(&result.properties.user_properties),
        }
    }
}

#[pymethods]
impl SubscribeResult {
    /// Whether every filter was accepted.
    #[getter]
    fn is_success(&self) -> bool {
        self.reason_codes.iter().all(|code| *code < 0x80)
    }
    fn __repr__(&self) -> String {
        format!("SubscribeResult(packet_id={}, reason_codes={:?})", self.packet_id, self.reason_codes)
    }
}

/// The UNSUBACK of an unsubscribe.
#[pyclass(frozen, get_all, module = "mqttkit")]
pub(crate) struct UnsubscribeResult {
    /// Packet identifier of the UNSUBSCRIBE.
    packet_id: u16,
    /// One per filter (MQTT 5; empty on 3.1.1).
    reason_codes: Vec<u16>,
    /// Reason String (MQTT 5).
    reason_string: Option<String>,
    /// User properties (MQTT 5).
    user_properties: Vec<(String, String)>,
}

impl UnsubscribeResult {
    pub(crate) fn new(result: &CoreUnsubscribe) -> Self {
        UnsubscribeResult {
            packet_id: result.packet_id,
            reason_codes: codes(&result.reason_codes),
            reason_string: text(&result.properties.reason_string),
            user_properties: pairs(&result.properties.user_properties),
        }
    }
}

#[pymethods]
impl UnsubscribeResult {
    /// Whether every filter was removed (or there was nothing to remove).
    #[getter]
    fn is_success(&self) -> bool {
        self.reason_codes.iter().all(|code| *code < 0x80)
    }
    fn __repr__(&self) -> String {
        format!("UnsubscribeResult(packet_id={}, reason_codes={:?})", self.packet_id, self.reason_codes)
    }
}

/// A PINGRESP.
#[pyclass(frozen, get_all, module = "mqttkit")]
pub(crate) struct PingResult {
    /// Seconds from PINGREQ written to PINGRESP read.
    round_trip: f64,
}

impl PingResult {
    pub(crate) fn new(result: &CorePing) -> Self {
        PingResult { round_trip: result.round_trip.as_secs_f64() }
    }
}

#[pymethods]
impl PingResult {
    fn __repr__(&self) -> String {
        format!("PingResult(round_trip={:.6})", self.round_trip)
    }
}

/// An AUTH packet from the server, or the end of an authentication exchange.
#[pyclass(frozen, get_all, module = "mqttkit")]
pub(crate) struct AuthResult {
    /// Continue authentication (0x18) or Success (0x00).
    reason_code: u8,
    /// Authentication Method.
    method: Option<String>,
    /// Authentication Data.
    data: Option<Py<PyBytes>>,
    /// Reason String.
    reason_string: Option<String>,
    /// User properties.
    user_properties: Vec<(String, String)>,
}

impl AuthResult {
    pub(crate) fn new(py: Python<'_>, result: &CoreAuth) -> Self {
        let p: &AuthProperties = &result.properties;
        AuthResult {
            reason_code: result.reason_code.code(),
            method: text(&p.authentication_method),
            data: bytes_of(py, &p.authentication_data),
            reason_string: text(&p.reason_string),
            user_properties: pairs(&p.user_properties),
        }
    }
}

#[pymethods]
impl AuthResult {
    fn __repr__(&self) -> String {
        format!("AuthResult(reason_code={}, method={:?})", self.reason_code, self.method)
    }
}

/// How a connection ended (the `on_disconnect` event).
#[pyclass(frozen, get_all, module = "mqttkit")]
pub(crate) struct DisconnectInfo {
    /// DISCONNECT reason code (0: normal disconnection).
    reason_code: u8,
    /// Whether the server sent the DISCONNECT.
    by_server: bool,
    /// Reason String (MQTT 5).
    reason_string: Option<String>,
    /// Server Reference (MQTT 5).
    server_reference: Option<String>,
    /// Session Expiry Interval (MQTT 5).
    session_expiry_interval: Option<u32>,
    /// User properties (MQTT 5).
    user_properties: Vec<(String, String)>,
}

impl DisconnectInfo {
    pub(crate) fn new(info: &CoreDisconnect) -> Self {
        let p: &DisconnectProperties = &info.properties;
        DisconnectInfo {
            reason_code: info.reason_code.code(),
            by_server: info.by_server,
            reason_string: text(&p.reason_string),
            server_reference: text(&p.server_reference),
            session_expiry_interval: p.session_expiry_interval,
            user_properties: pairs(&p.user_properties),
        }
    }
}

#[pymethods]
impl DisconnectInfo {
    fn __repr__(&self) -> String {
        format!(
            "DisconnectInfo(reason_code={}, by_server={})",
            self.reason_code,
            if self.by_server { "True" } else { "False" }
        )
    }
}

/// A reconnect attempt about to start (the `on_reconnect_attempt` event).
#[pyclass(frozen, get_all, module = "mqttkit")]
pub(crate) struct ReconnectAttempt {
    /// 1 for the first attempt after a loss.
    attempt: u32,
    /// Seconds of back-off before this attempt.
    delay: f64,
}

impl ReconnectAttempt {
    pub(crate) fn new(attempt: u32, delay: std::time::Duration) -> Self {
        ReconnectAttempt { attempt, delay: delay.as_secs_f64() }
    }
}

#[pymethods]
impl ReconnectAttempt {
    fn __repr__(&self) -> String {
        format!("ReconnectAttempt(attempt={}, delay={:.3})", self.attempt, self.delay)
    }
}

/// The MQTT 5 properties of a received message.
#[pyclass(frozen, get_all, module = "mqttkit")]
pub(crate) struct MessageProperties {
    /// True when the payload is declared UTF-8, False when declared bytes, None if absent.
    payload_format_utf8: Option<bool>,
    /// Message Expiry Interval in seconds.
    message_expiry_interval: Option<u32>,
    /// Content Type.
    content_type: Option<String>,
    /// Response Topic.
    response_topic: Option<String>,
    /// Correlation Data.
    correlation_data: Option<Py<PyBytes>>,
    /// Subscription Identifiers of the matching subscriptions.
    subscription_identifiers: Vec<u32>,
    /// Topic Alias the server used (already resolved into `Message.topic`).
    topic_alias: Option<u16>,
    /// User properties, in order, duplicates kept.
    user_properties: Vec<(String, String)>,
}

impl MessageProperties {
    fn new(py: Python<'_>, p: &PublishProperties) -> Self {
        MessageProperties {
            payload_format_utf8: p.payload_format_indicator.map(|format| format == PayloadFormat::Utf8),
            message_expiry_interval: p.message_expiry_interval,
            content_type: text(&p.content_type),
            response_topic: text(&p.response_topic),
            correlation_data: bytes_of(py, &p.correlation_data),
            subscription_identifiers: p.subscription_identifiers.clone(),
            topic_alias: p.topic_alias,
            user_properties: pairs(&p.user_properties),
        }
    }
}

#[pymethods]
impl MessageProperties {
    fn __repr__(&self) -> String {
        format!(
            "MessageProperties(content_type={:?}, response_topic={:?}, user_properties={:?})",
            self.content_type, self.response_topic, self.user_properties
        )
    }
}

/// A received message. `payload` is `bytes` (copied once out of the received packet).
#[pyclass(frozen, module = "mqttkit")]
pub(crate) struct Message {
    topic: Py<PyString>,
    payload: Py<PyBytes>,
    qos: QoS,
    retain: bool,
    dup: bool,
    packet_id: u16,
    properties: PublishProperties,
    /// The core message (without its payload), kept only when it must be acknowledged.
    ack: Option<CoreMessage>,
}

impl Message {
    pub(crate) fn new(py: Python<'_>, mut message: CoreMessage) -> Self {
        let topic = PyString::new(py, &message.topic).unbind();
        let payload = PyBytes::new(py, &message.payload).unbind();
        let properties = std::mem::take(&mut message.properties);
        let ack = message.needs_ack().then(|| {
            message.payload = bytes::Bytes::new();
            message.clone()
        });
        Message {
            topic,
            payload,
            qos: message.qos,
            retain: message.retain,
            dup: message.dup,
            packet_id: message.packet_id,
            properties,
            ack,
        }
    }
}

#[pymethods]
impl Message {
    /// The topic the message was published to.
    #[getter]
    fn topic(&self, py: Python<'_>) -> Py<PyString> {
        self.topic.clone_ref(py)
    }
    /// The payload.
    #[getter]
    fn payload(&self, py: Python<'_>) -> Py<PyBytes> {
        self.payload.clone_ref(py)
    }
    /// QoS it was delivered with (0, 1, 2).
    #[getter]
    fn qos(&self) -> u8 {
        self.qos as u8
    }
    /// Whether it is a retained message.
    #[getter]
    fn retain(&self) -> bool {
        self.retain
    }
    /// Whether it may be a re-delivery.
    #[getter]
    fn dup(&self) -> bool {
        self.dup
    }
    /// Packet identifier (0 for QoS 0).
    #[getter]
    fn packet_id(&self) -> u16 {
        self.packet_id
    }
    /// MQTT 5 properties.
    #[getter]
    fn properties(&self, py: Python<'_>) -> MessageProperties {
        MessageProperties::new(py, &self.properties)
    }
    /// User properties as `(name, value)` pairs (shortcut for `properties.user_properties`).
    #[getter]
    fn user_properties(&self) -> Vec<(String, String)> {
        pairs(&self.properties.user_properties)
    }
    /// Whether `ack()` must be called (the client has `auto_ack=False` and QoS > 0).
    #[getter]
    fn needs_ack(&self) -> bool {
        self.ack.is_some()
    }
    /// Acknowledges the message (PUBACK / PUBREC) when the client has `auto_ack=False`;
    /// does nothing otherwise.
    fn ack(&self) -> PyResult<()> {
        match &self.ack {
            Some(message) => message.ack().map_err(to_py_err),
            None => Ok(()),
        }
    }
    /// The payload decoded as UTF-8 (errors replaced).
    fn payload_str(&self, py: Python<'_>) -> String {
        String::from_utf8_lossy(self.payload.as_bytes(py)).into_owned()
    }
    fn __repr__(&self, py: Python<'_>) -> String {
        format!(
            "Message(topic={:?}, payload={} bytes, qos={}, retain={})",
            self.topic.bind(py).to_string(),
            self.payload.as_bytes(py).len(),
            self.qos as u8,
            if self.retain { "True" } else { "False" }
        )
    }
}
