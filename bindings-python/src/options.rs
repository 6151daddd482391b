//! Client options and per-call arguments: Python values (dicts built by the `mqttkit`
//! package, numbers in seconds) become the core's option types here, with an error naming
//! every value that is wrong or unknown.

use std::time::Duration;

use bytestring::ByteString;
use mqttkit::client::{
    ClientOptions, ClientOptionsBuilder, NO_TIMEOUT, OfflineBuffer, PublishOptions, ReconnectPolicy, Timeouts,
};
use mqttkit::protocol::{
    PayloadFormat, ProtocolVersion, QoS, RetainHandling, Subscription, SubscriptionOptions, UserProperty,
    Will,
};
use mqttkit::transport::TlsOptions;
use pyo3::prelude::*;
use pyo3::types::PyDict;

use crate::authenticator::{PyAuthenticator, SharedObject};
use crate::errors::{invalid_argument, invalid_configuration, to_py_err};
use crate::payload::payload_bytes;

/// A QoS number (0, 1 or 2).
pub(crate) fn qos(value: u8) -> PyResult<QoS> {
    QoS::from_u8(value).ok_or_else(|| invalid_argument(format!("qos must be 0, 1 or 2, got {value}")))
}

/// A number of seconds as a [`Duration`]; `name` is the argument named in the error.
pub(crate) fn seconds(name: &str, value: f64) -> PyResult<Duration> {
    Duration::try_from_secs_f64(value).map_err(|_| {
        invalid_argument(format!("{name} must be a non-negative number of seconds, got {value}"))
    })
}

/// User properties given as `(name, value)` pairs.
pub(crate) fn user_properties(pairs: Option<Vec<(String, String)>>) -> Vec<UserProperty> {
    pairs.unwrap_or_default().into_iter().map(|(name, value)| (name.into(), value.into())).collect()
}

/// Reads a dict of options, complaining about every key it does not know.
struct Options<'py> {
    dict: Bound<'py, PyDict>,
}

impl<'py> Options<'py> {
    fn take<T: for<'a> pyo3::FromPyObject<'a, 'py>>(&self, key: &str) -> PyResult<Option<T>> {
        match self.dict.get_item(key)? {
            Some(value) => {
                self.dict.del_item(key)?;
                if value.is_none() {
                    return Ok(None);
                }
                value.extract::<T>().map(Some).map_err(|error| {
                    let error: PyErr = error.into();
                    invalid_configuration(format!("option {key}: {}", error.value(self.dict.py())))
                })
            }
            None => Ok(None),
        }
    }

    fn any(&self, key: &str) -> PyResult<Option<Bound<'py, PyAny>>> {
        match self.dict.get_item(key)? {
            Some(value) => {
                self.dict.del_item(key)?;
                Ok(if value.is_none() { None } else { Some(value) })
            }
            None => Ok(None),
        }
    }

    fn finish(&self) -> PyResult<()> {
        if let Some((key, _)) = self.dict.iter().next() {
            return Err(invalid_configuration(format!("unknown client option {key}")));
        }
        Ok(())
    }
}

/// A per-call `timeout=` as Python gives it: `None` for the client's default, `math.inf`
/// for no limit, else a number of seconds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Limit {
    /// The client's configured timeout for the operation.
    Default,
    /// Wait as long as it takes.
    Forever,
    /// This long.
    After(Duration),
}

impl Limit {
    /// Reads `timeout=` (seconds; `math.inf`: no limit).
    pub(crate) fn of(value: Option<f64>) -> PyResult<Limit> {
        match value {
            None => Ok(Limit::Default),
            Some(secs) if secs == f64::INFINITY => Ok(Limit::Forever),
            Some(secs) => seconds("timeout", secs).map(Limit::After),
        }
    }

    /// As the `timeout` of the core's option structs: `None` for the default,
    /// [`NO_TIMEOUT`] for none.
    pub(crate) fn option(self) -> Option<Duration> {
        match self {
            Limit::Default => None,
            Limit::Forever => Some(NO_TIMEOUT),
            Limit::After(limit) => Some(limit),
        }
    }

    /// As an explicit timeout (`None`: no limit), `default` standing for the client's.
    pub(crate) fn or(self, default: Option<Duration>) -> Option<Duration> {
        match self {
            Limit::Default => default,
            Limit::Forever => None,
            Limit::After(limit) => Some(limit),
        }
    }
}

/// The client options for `url` from the keyword options the package passes (a dict), and
/// the Python authenticator among them, if any.
pub(crate) fn build_options(
    url: &str,
    options: &Bound<'_, PyDict>,
) -> PyResult<(ClientOptions, Option<SharedObject>)> {
    let o = Options { dict: options.copy()? };
    let mut b: ClientOptionsBuilder = ClientOptions::builder(url);
    if let Some(id) = o.take::<String>("client_id")? {
        b = b.client_id(id);
    }
    if let Some(version) = o.any("protocol_version")? {
        let text = version.str()?.to_string();
        b = b.protocol_version(match text.as_str() {
            "5" | "5.0" => ProtocolVersion::V5,
            "4" | "3.1.1" | "311" => ProtocolVersion::V311,
            other => {
                return Err(invalid_configuration(format!(
                    "protocol_version must be 5 or \"3.1.1\", got {other}"
                )));
            }
        });
    }
    if let Some(v) = o.take::<bool>("clean_start")? {
        b = b.clean_start(v);
    }
    if let Some(v) = o.take::<f64>("keep_alive")? {
        b = b.keep_alive(seconds("keep_alive", v)?);
    }
    if let Some(v) = o.take::<String>("username")? {
        b = b.username(v);
    }
    if let Some(v) = o.any("password")? {
        b = b.password(payload_bytes(&v)?);
    }
    if let Some(will) = o.any("will")? {
        b = b.will(build_will(&will.cast_into::<PyDict>()?)?);
    }
    if let Some(v) = o.take::<u32>("session_expiry_interval")? {
        b = b.session_expiry_interval(v);
    }
    if let Some(v) = o.take::<bool>("sessionless")? {
        b = b.sessionless(v);
    }
    if let Some(list) = o.take::<Vec<SubscriptionSpec>>("auto_subscribe")? {
        let list = subscriptions(list).map_err(|error| {
            invalid_configuration(format!("option auto_subscribe: {}", error.value(o.dict.py())))
        })?;
        for subscription in list {
            b = b.auto_subscribe(subscription);
        }
    }
    if let Some(v) = o.take::<bool>("auto_ack")? {
        b = b.auto_ack(v);
    }
    if let Some(v) = o.take::<u32>("maximum_packet_size")? {
        b = b.maximum_packet_size(v);
    }
    if let Some(v) = o.take::<bool>("request_response_information")? {
        b = b.request_response_information(v);
    }
    if let Some(v) = o.take::<bool>("request_problem_information")? {
        b = b.request_problem_information(v);
    }
    if let Some(v) = o.take::<u16>("receive_maximum")? {
        b = b.receive_maximum(v);
    }
    if let Some(v) = o.take::<u16>("max_inflight")? {
        b = b.max_inflight(v);
    }
    if let Some(v) = o.take::<u16>("topic_alias_maximum")? {
        b = b.topic_alias_maximum(v);
    }
    if let Some(v) = o.take::<bool>("auto_topic_alias")? {
        b = b.auto_topic_alias(v);
    }
    for (name, value) in o.take::<Vec<(String, String)>>("user_properties")?.unwrap_or_default() {
        b = b.user_property(name, value);
    }
    if let Some(reconnect) = o.any("reconnect")? {
        b = b.reconnect(build_reconnect(&reconnect)?);
    }
    if let Some(timeouts) = o.any("timeouts")? {
        b = b.timeouts(build_timeouts(&timeouts)?);
    }
    if let Some(buffer) = o.any("offline_buffer")? {
        b = b.offline_buffer(build_offline_buffer(&buffer)?);
    }
    if let Some(v) = o.take::<usize>("command_queue_size")? {
        b = b.command_queue_size(v);
    }
    if let Some(v) = o.take::<bool>("tcp_nodelay")? {
        b = b.tcp_nodelay(v);
    }
    if let Some(tls) = o.any("tls")? {
        b = b.tls(build_tls(&tls.cast_into::<PyDict>()?)?);
    }
    let scram_login = o.take::<(String, String)>("scram")?;
    let mut python_authenticator = None;
    let authenticator = o.any("authenticator")?;
    match (scram_login, authenticator) {
        (Some(_), Some(_)) => {
            return Err(invalid_configuration("give either scram or authenticator, not both"));
        }
        (Some((username, password)), None) => b = scram(b, username, password)?,
        (None, Some(object)) => {
            let authenticator = PyAuthenticator::new(&object)?;
            python_authenticator = Some(authenticator.shared());
            b = b.authenticator(authenticator);
        }
        (None, None) => {}
    }
    o.finish()?;
    Ok((b.build().map_err(to_py_err)?, python_authenticator))
}

#[cfg(feature = "broker")]
fn scram(
    builder: ClientOptionsBuilder,
    username: String,
    password: String,
) -> PyResult<ClientOptionsBuilder> {
    Ok(builder.authenticator(mqttkit::client::ScramSha256::new(username, password)))
}

#[cfg(not(feature = "broker"))]
fn scram(_: ClientOptionsBuilder, _: String, _: String) -> PyResult<ClientOptionsBuilder> {
    Err(invalid_configuration("scram needs mqttkit built with the broker feature"))
}

fn build_will(dict: &Bound<'_, PyDict>) -> PyResult<Will> {
    let o = Options { dict: dict.copy()? };
    let topic: String = o.take("topic")?.ok_or_else(|| invalid_configuration("will needs a topic"))?;
    let payload = o.any("payload")?.map(|p| payload_bytes(&p)).transpose()?.unwrap_or_default();
    let mut will = Will::new(topic, payload);
    will.qos = qos(o.take::<u8>("qos")?.unwrap_or(0))?;
    will.retain = o.take::<bool>("retain")?.unwrap_or(false);
    let p = &mut will.properties;
    p.will_delay_interval = o.take("delay_interval")?;
    p.message_expiry_interval = o.take("message_expiry_interval")?;
    p.content_type = o.take::<String>("content_type")?.map(Into::into);
    p.response_topic = o.take::<String>("response_topic")?.map(Into::into);
    p.correlation_data = o.any("correlation_data")?.map(|d| payload_bytes(&d)).transpose()?;
    p.payload_format_indicator = o
        .take::<bool>("payload_format_utf8")?
        .map(|utf8| if utf8 { PayloadFormat::Utf8 } else { PayloadFormat::Unspecified });
    p.user_properties = user_properties(o.take("user_properties")?);
    o.finish()?;
    Ok(will)
}

/// `TlsOptions` as the package passes them: PEM contents (files already read), the server
/// name, ALPN protocols as bytes and the verification switch.
fn build_tls(dict: &Bound<'_, PyDict>) -> PyResult<TlsOptions> {
    let o = Options { dict: dict.copy()? };
    let tls = TlsOptions {
        ca_pem: o.take::<Vec<u8>>("ca_pem")?,
        client_cert_pem: o.take::<Vec<u8>>("client_cert_pem")?,
        client_key_pem: o.take::<Vec<u8>>("client_key_pem")?,
        server_name: o.take::<String>("server_name")?,
        alpn: o.take::<Vec<Vec<u8>>>("alpn")?.unwrap_or_default(),
        insecure_skip_verify: o.take::<bool>("insecure_skip_verify")?.unwrap_or(false),
    };
    o.finish()?;
    Ok(tls)
}

fn build_reconnect(value: &Bound<'_, PyAny>) -> PyResult<ReconnectPolicy> {
    if let Ok(enabled) = value.extract::<bool>() {
        return Ok(if enabled { ReconnectPolicy::default() } else { ReconnectPolicy::disabled() });
    }
    let o = Options { dict: value.cast::<PyDict>()?.copy()? };
    let mut r = ReconnectPolicy::default();
    if let Some(v) = o.take::<bool>("enabled")? {
        r.enabled = v;
    }
    if let Some(v) = o.take::<f64>("initial_delay")? {
        r.initial_delay = seconds("initial_delay", v)?;
    }
    if let Some(v) = o.take::<f64>("max_delay")? {
        r.max_delay = seconds("max_delay", v)?;
    }
    if let Some(v) = o.take::<f64>("multiplier")? {
        r.multiplier = v;
    }
    if let Some(v) = o.take::<f64>("jitter")? {
        r.jitter = v;
    }
    if let Some(v) = o.take::<u32>("max_attempts")? {
        r.max_attempts = v;
    }
    o.finish()?;
    Ok(r)
}

fn build_timeouts(value: &Bound<'_, PyAny>) -> PyResult<Timeouts> {
    if let Ok(preset) = value.extract::<String>() {
        return match preset.as_str() {
            "internet" => Ok(Timeouts::INTERNET),
            "local_network" => Ok(Timeouts::LOCAL_NETWORK),
            "satellite" => Ok(Timeouts::SATELLITE),
            "none" => Ok(Timeouts::NONE),
            other => Err(invalid_configuration(format!(
                "timeouts preset must be internet, local_network, satellite or none, got {other:?}"
            ))),
        };
    }
    let dict = value.cast::<PyDict>()?;
    let mut t = Timeouts::INTERNET;
    for (key, item) in dict.iter() {
        let key: String = key.extract()?;
        let limit = if item.is_none() { None } else { Some(seconds(&key, item.extract::<f64>()?)?) };
        match key.as_str() {
            "connect" => t.connect = limit,
            "publish" => t.publish = limit,
            "subscribe" => t.subscribe = limit,
            "unsubscribe" => t.unsubscribe = limit,
            "ping" => t.ping = limit,
            "auth" => t.auth = limit,
            other => return Err(invalid_configuration(format!("unknown timeout {other}"))),
        }
    }
    Ok(t)
}

fn build_offline_buffer(value: &Bound<'_, PyAny>) -> PyResult<OfflineBuffer> {
    if let Ok(enabled) = value.extract::<bool>() {
        return Ok(OfflineBuffer { enabled, ..OfflineBuffer::default() });
    }
    if let Ok(capacity) = value.extract::<usize>() {
        return Ok(OfflineBuffer { enabled: true, capacity });
    }
    let o = Options { dict: value.cast::<PyDict>()?.copy()? };
    let mut buffer = OfflineBuffer::default();
    if let Some(v) = o.take::<bool>("enabled")? {
        buffer.enabled = v;
    }
    if let Some(v) = o.take::<usize>("capacity")? {
        buffer.capacity = v;
    }
    o.finish()?;
    Ok(buffer)
}

/// The options of one publication (`properties`: the dict of its MQTT 5 properties).
pub(crate) fn publish_options(
    qos_value: u8,
    retain: bool,
    properties: Option<&Bound<'_, PyDict>>,
    timeout: Limit,
) -> PyResult<PublishOptions> {
    let mut options = PublishOptions::qos(qos(qos_value)?).retain(retain);
    options.timeout = timeout.option();
    if let Some(properties) = properties {
        let o = Options { dict: properties.copy()? };
        let p = &mut options.properties;
        p.payload_format_indicator = o
            .take::<bool>("payload_format_utf8")?
            .map(|utf8| if utf8 { PayloadFormat::Utf8 } else { PayloadFormat::Unspecified });
        p.message_expiry_interval = o.take("message_expiry_interval")?;
        p.content_type = o.take::<String>("content_type")?.map(Into::into);
        p.response_topic = o.take::<String>("response_topic")?.map(Into::into);
        p.correlation_data = o.any("correlation_data")?.map(|d| payload_bytes(&d)).transpose()?;
        p.topic_alias = o.take("topic_alias")?;
        p.user_properties = user_properties(o.take("user_properties")?);
        if o.take::<Vec<u32>>("subscription_identifiers")?.is_some_and(|ids| !ids.is_empty()) {
            return Err(invalid_argument("subscription_identifiers cannot be set on a publish"));
        }
        o.finish().map_err(|_| invalid_argument("unknown publish property"))?;
    }
    Ok(options)
}

/// `(filter, qos, no_local, retain_as_published, retain_handling)`, as the Python layer
/// normalises every form of subscription.
pub(crate) type SubscriptionSpec = (String, u8, bool, bool, u8);

/// The core's subscriptions from the normalised tuples.
pub(crate) fn subscriptions(specs: Vec<SubscriptionSpec>) -> PyResult<Vec<Subscription>> {
    specs
        .into_iter()
        .map(|(filter, q, no_local, retain_as_published, retain_handling)| {
            let retain_handling = match retain_handling {
                0 => RetainHandling::SendAtSubscribe,
                1 => RetainHandling::SendIfNewSubscription,
                2 => RetainHandling::DoNotSend,
                other => {
                    return Err(invalid_argument(format!("retain_handling must be 0, 1 or 2, got {other}")));
                }
            };
            Ok(Subscription {
                filter: ByteString::from(filter),
                options: SubscriptionOptions { qos: qos(q)?, no_local, retain_as_published, retain_handling },
            })
        })
        .collect()
}
