//! `NativeClient`: one core [`Client`] on the shared runtime, with every operation callable
//! from asyncio (awaitable) or from a plain thread (blocking). The public classes
//! `mqttkit.Client` and `mqttkit.sync.Client` are thin Python wrappers around it.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use bytestring::ByteString;
use mqttkit::client::{
    Client, ClientOptions, ClientOptionsBuilder, OfflineBuffer, PublishOptions, ReconnectPolicy,
    SubscribeOptions, Timeouts, UnsubscribeOptions,
};
use mqttkit::protocol::{
    PayloadFormat, ProtocolVersion, QoS, RetainHandling, Subscription, SubscriptionOptions, UserProperty,
    Will, validate_topic_name,
};
use mqttkit::runtime::RuntimeUser;
use mqttkit::{Error, Operation};
use pyo3::prelude::*;
use pyo3::types::{PyByteArray, PyBytes, PyDict, PyList, PyString};
use tokio::runtime::Handle;

use crate::bridge::{self, Hold, Lane, with_python};
use crate::errors::{invalid_argument, invalid_configuration, to_exception, to_py_err};
use crate::events::{PySink, SinkShared};
use crate::types::{
    AuthResult, ConnectResult, PingResult, PublishResult, SubscribeResult, UnsubscribeResult,
};

/// Copies a payload given as `bytes`, `bytearray`, `memoryview` (or any buffer) or `str`
/// (UTF-8) into the one buffer the core sends from.
pub(crate) fn payload_bytes(value: &Bound<'_, PyAny>) -> PyResult<Bytes> {
    if let Ok(bytes) = value.cast::<PyBytes>() {
        return Ok(Bytes::copy_from_slice(bytes.as_bytes()));
    }
    if let Ok(text) = value.cast::<PyString>() {
        return Ok(Bytes::copy_from_slice(text.to_cow()?.as_bytes()));
    }
    if let Ok(array) = value.cast::<PyByteArray>() {
        return Ok(Bytes::from(array.to_vec()));
    }
    if value.is_none() {
        return Ok(Bytes::new());
    }
    // memoryview and other buffers: the stable ABI of Python 3.9 has no buffer protocol,
    // so Python copies them into bytes first.
    let copied =
        pyo3::types::PyMemoryView::from(value).and_then(|view| view.call_method0("tobytes")).map_err(
            |_| invalid_argument(format!("payload must be bytes-like or str, not {}", value.get_type())),
        )?;
    Ok(Bytes::copy_from_slice(copied.cast::<PyBytes>()?.as_bytes()))
}

fn qos(value: u8) -> PyResult<QoS> {
    QoS::from_u8(value).ok_or_else(|| invalid_argument(format!("qos must be 0, 1 or 2, got {value}")))
}

fn seconds(name: &str, value: f64) -> PyResult<Duration> {
    Duration::try_from_secs_f64(value).map_err(|_| {
        invalid_argument(format!("{name} must be a non-negative number of seconds, got {value}"))
    })
}

fn user_properties(pairs: Option<Vec<(String, String)>>) -> Vec<UserProperty> {
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

fn timeout_of(value: Option<f64>) -> PyResult<Option<Duration>> {
    value.map(|secs| seconds("timeout", secs)).transpose()
}

fn build_options(url: &str, options: &Bound<'_, PyDict>) -> PyResult<ClientOptions> {
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
    if let Some(list) = o.take::<Vec<(String, u8)>>("auto_subscribe")? {
        for (filter, q) in list {
            b = b.auto_subscribe(Subscription::new(ByteString::from(filter), qos(q)?));
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
    if let Some((username, password)) = o.take::<(String, String)>("scram")? {
        b = scram(b, username, password)?;
    }
    o.finish()?;
    b.build().map_err(to_py_err)
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

fn publish_options(
    qos_value: u8,
    retain: bool,
    properties: Option<&Bound<'_, PyDict>>,
    timeout: Option<f64>,
) -> PyResult<PublishOptions> {
    let mut options = PublishOptions::qos(qos(qos_value)?).retain(retain);
    options.timeout = timeout_of(timeout)?;
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
type SubscriptionSpec = (String, u8, bool, bool, u8);

fn subscriptions(specs: Vec<SubscriptionSpec>) -> PyResult<Vec<Subscription>> {
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

fn none(py: Python<'_>, (): ()) -> PyResult<Py<PyAny>> {
    Ok(py.None())
}

fn connect_result(py: Python<'_>, result: mqttkit::client::ConnectResult) -> PyResult<Py<PyAny>> {
    Ok(Py::new(py, ConnectResult::new(py, &result))?.into_any())
}

fn publish_result(py: Python<'_>, result: mqttkit::client::PublishResult) -> PyResult<Py<PyAny>> {
    Ok(Py::new(py, PublishResult::new(&result))?.into_any())
}

fn subscribe_result(py: Python<'_>, result: mqttkit::client::SubscribeResult) -> PyResult<Py<PyAny>> {
    Ok(Py::new(py, SubscribeResult::new(&result))?.into_any())
}

fn unsubscribe_result(py: Python<'_>, result: mqttkit::client::UnsubscribeResult) -> PyResult<Py<PyAny>> {
    Ok(Py::new(py, UnsubscribeResult::new(&result))?.into_any())
}

fn ping_result(py: Python<'_>, result: mqttkit::client::PingResult) -> PyResult<Py<PyAny>> {
    Ok(Py::new(py, PingResult::new(&result))?.into_any())
}

fn auth_result(py: Python<'_>, result: mqttkit::client::AuthResult) -> PyResult<Py<PyAny>> {
    Ok(Py::new(py, AuthResult::new(py, &result))?.into_any())
}

/// Bounds `future` by `timeout` (for operations whose core form has no per-call timeout).
async fn limited<T>(
    operation: Operation,
    timeout: Option<Duration>,
    future: impl std::future::Future<Output = mqttkit::Result<T>>,
) -> mqttkit::Result<T> {
    match timeout {
        Some(limit) => tokio::time::timeout(limit, future)
            .await
            .unwrap_or(Err(Error::Timeout { operation, timeout: limit })),
        None => future.await,
    }
}

/// One MQTT client on the shared runtime (the engine behind `mqttkit.Client` and
/// `mqttkit.sync.Client`).
#[pyclass(frozen, weakref, module = "mqttkit._mqttkit")]
pub(crate) struct NativeClient {
    client: Client,
    handle: Handle,
    runtime: Mutex<Option<RuntimeUser>>,
    sink: Arc<SinkShared>,
    lane: Lane,
}

impl NativeClient {
    /// A fire-and-forget form the core lacks: starts `future` in call order and reports its
    /// failure (or an `auth` result) as an event.
    fn detached<T, F>(
        &self,
        py: Python<'_>,
        future: F,
        event: Option<(&'static str, bridge::Convert<T>)>,
    ) -> PyResult<()>
    where
        F: std::future::Future<Output = mqttkit::Result<T>> + Send + 'static,
        T: Send + 'static,
    {
        let sink = self.sink.clone();
        let report = move |result: mqttkit::Result<T>| async move {
            if let Ok(permit) = sink.credits.acquire().await {
                permit.forget();
            } else {
                return;
            }
            let delivered = with_python(|py| -> PyResult<bool> {
                let item = match (result, event) {
                    (Ok(value), Some((name, convert))) => (name, convert(py, value)?),
                    (Ok(_), None) => return Ok(false),
                    (Err(error), _) => ("error", to_exception(py, &error).into_value(py).into_any()),
                };
                let guard = sink.deliver.lock().unwrap_or_else(|p| p.into_inner());
                let Some(target) = guard.as_ref().map(|t| t.clone_ref(py)) else { return Ok(false) };
                drop(guard);
                let batch = PyList::new(py, [(item.0, item.1)])?;
                target.call1(py, (batch,))?;
                Ok(true)
            });
            if !matches!(delivered, Some(Ok(true))) {
                sink.credits.add_permits(1);
            }
        };
        self.lane.detach(py, &self.handle, async move { report(future.await).await });
        Ok(())
    }
}

#[pymethods]
impl NativeClient {
    /// Validates `options` and creates the client; nothing connects yet.
    #[new]
    fn new(py: Python<'_>, url: &str, options: &Bound<'_, PyDict>) -> PyResult<Self> {
        let options = build_options(url, options)?;
        crate::logging::refresh_level(py);
        let runtime = py
            .detach(RuntimeUser::acquire)
            .map_err(|error| to_py_err(Error::Internal(format!("cannot start the runtime: {error}"))))?;
        let handle = runtime.handle().clone();
        let sink = SinkShared::new();
        let client = {
            let _entered = handle.enter();
            Client::new(options, PySink(sink.clone())).map_err(to_py_err)?
        };
        Ok(NativeClient { client, handle, runtime: Mutex::new(Some(runtime)), sink, lane: Lane::default() })
    }

    /// Sets where event batches go (`deliver(batch)`), or `None` to drop them.
    fn set_deliver(&self, deliver: Option<Py<PyAny>>) {
        *self.sink.deliver.lock().unwrap_or_else(|p| p.into_inner()) = deliver;
    }

    /// Gives back `count` event credits (events Python has consumed).
    fn release(&self, count: usize) {
        if count > 0 {
            self.sink.credits.add_permits(count);
        }
    }

    /// Whether a connection is established right now.
    #[getter]
    fn is_connected(&self) -> bool {
        self.client.is_connected()
    }

    /// QoS 0 messages dropped from the offline buffer.
    #[getter]
    fn dropped_messages(&self) -> u64 {
        self.client.dropped_messages()
    }

    /// The client identifier configured.
    #[getter]
    fn client_id(&self) -> String {
        self.client.options().client_id().to_owned()
    }

    /// Whether the client speaks MQTT 5.
    #[getter]
    fn is_v5(&self) -> bool {
        self.client.options().protocol_version() == ProtocolVersion::V5
    }

    #[pyo3(signature = (blocking, timeout=None, wait=true))]
    fn connect(
        &self,
        py: Python<'_>,
        blocking: bool,
        timeout: Option<f64>,
        wait: bool,
    ) -> PyResult<Py<PyAny>> {
        let client = self.client.clone();
        if !wait {
            return self.lane.run(
                py,
                &self.handle,
                blocking,
                Hold::UntilDone,
                async move { client.connect_nowait().await },
                none,
            );
        }
        let limit = match timeout {
            Some(secs) => Some(seconds("timeout", secs)?),
            None => self.client.options().timeouts().connect,
        };
        self.lane.run(
            py,
            &self.handle,
            blocking,
            Hold::UntilSent,
            async move { client.connect_with_timeout(limit).await },
            connect_result,
        )
    }

    #[pyo3(signature = (topic, payload, qos, retain, properties, timeout, wait, blocking))]
    #[allow(clippy::too_many_arguments)]
    fn publish(
        &self,
        py: Python<'_>,
        topic: &Bound<'_, PyString>,
        payload: &Bound<'_, PyAny>,
        qos: u8,
        retain: bool,
        properties: Option<&Bound<'_, PyDict>>,
        timeout: Option<f64>,
        wait: bool,
        blocking: bool,
    ) -> PyResult<Py<PyAny>> {
        let topic = ByteString::from(topic.to_cow()?.as_ref());
        let payload = payload_bytes(payload)?;
        let options = publish_options(qos, retain, properties, timeout)?;
        let client = self.client.clone();
        if wait {
            self.lane.run(
                py,
                &self.handle,
                blocking,
                Hold::UntilSent,
                async move { client.publish_with(topic, payload, options).await },
                publish_result,
            )
        } else {
            if !(topic.is_empty() && options.properties.topic_alias.is_some()) {
                validate_topic_name(&topic)
                    .map_err(|e| invalid_argument(format!("topic {:?}: {e}", &*topic)))?;
            }
            self.lane.run(
                py,
                &self.handle,
                blocking,
                Hold::UntilDone,
                async move { client.publish_with_nowait(topic, payload, options).await },
                none,
            )
        }
    }

    #[pyo3(signature = (subscriptions, subscription_identifier, user_properties, timeout, wait, blocking))]
    #[allow(clippy::too_many_arguments)]
    fn subscribe(
        &self,
        py: Python<'_>,
        subscriptions: Vec<SubscriptionSpec>,
        subscription_identifier: Option<u32>,
        user_properties: Option<Vec<(String, String)>>,
        timeout: Option<f64>,
        wait: bool,
        blocking: bool,
    ) -> PyResult<Py<PyAny>> {
        let subscriptions = self::subscriptions(subscriptions)?;
        let options = SubscribeOptions {
            subscription_identifier,
            user_properties: self::user_properties(user_properties),
            timeout: timeout_of(timeout)?,
        };
        let client = self.client.clone();
        if wait {
            self.lane.run(
                py,
                &self.handle,
                blocking,
                Hold::UntilSent,
                async move { client.subscribe_with(subscriptions, options).await },
                subscribe_result,
            )
        } else {
            self.lane.run(
                py,
                &self.handle,
                blocking,
                Hold::UntilDone,
                async move { client.subscribe_with_nowait(subscriptions, options).await },
                none,
            )
        }
    }

    #[pyo3(signature = (filters, user_properties, timeout, wait, blocking))]
    fn unsubscribe(
        &self,
        py: Python<'_>,
        filters: Vec<String>,
        user_properties: Option<Vec<(String, String)>>,
        timeout: Option<f64>,
        wait: bool,
        blocking: bool,
    ) -> PyResult<Py<PyAny>> {
        let options = UnsubscribeOptions {
            user_properties: self::user_properties(user_properties),
            timeout: timeout_of(timeout)?,
        };
        let client = self.client.clone();
        if wait {
            return self.lane.run(
                py,
                &self.handle,
                blocking,
                Hold::UntilSent,
                async move { client.unsubscribe_with(filters, options).await },
                unsubscribe_result,
            );
        }
        self.lane.run(
            py,
            &self.handle,
            blocking,
            Hold::UntilDone,
            async move { client.unsubscribe_with_nowait(filters, options).await },
            none,
        )
    }

    #[pyo3(signature = (timeout, wait, blocking))]
    fn ping(&self, py: Python<'_>, timeout: Option<f64>, wait: bool, blocking: bool) -> PyResult<Py<PyAny>> {
        let client = self.client.clone();
        if !wait {
            return self.lane.run(
                py,
                &self.handle,
                blocking,
                Hold::UntilDone,
                async move { client.ping_nowait().await },
                none,
            );
        }
        let limit = match timeout {
            Some(secs) => Some(seconds("timeout", secs)?),
            None => self.client.options().timeouts().ping,
        };
        self.lane.run(
            py,
            &self.handle,
            blocking,
            Hold::UntilSent,
            async move { client.ping_with_timeout(limit).await },
            ping_result,
        )
    }

    #[pyo3(signature = (method, data, timeout, wait, blocking))]
    fn auth_continue(
        &self,
        py: Python<'_>,
        method: String,
        data: Option<&Bound<'_, PyAny>>,
        timeout: Option<f64>,
        wait: bool,
        blocking: bool,
    ) -> PyResult<Py<PyAny>> {
        let data = data.map(payload_bytes).transpose()?;
        let limit = timeout_of(timeout)?;
        let client = self.client.clone();
        let future = async move { limited(Operation::Auth, limit, client.auth_continue(method, data)).await };
        if wait {
            self.lane.run(py, &self.handle, blocking, Hold::UntilSent, future, auth_result)
        } else {
            self.detached(py, future, Some(("auth", auth_result)))?;
            Ok(py.None())
        }
    }

    #[pyo3(signature = (method, data, timeout, wait, blocking))]
    fn re_authenticate(
        &self,
        py: Python<'_>,
        method: Option<String>,
        data: Option<&Bound<'_, PyAny>>,
        timeout: Option<f64>,
        wait: bool,
        blocking: bool,
    ) -> PyResult<Py<PyAny>> {
        let data = data.map(payload_bytes).transpose()?;
        let limit = timeout_of(timeout)?;
        let client = self.client.clone();
        let future = async move {
            limited(Operation::Auth, limit, async {
                match method {
                    Some(method) => client.re_authenticate_with(method, data).await,
                    None => client.re_authenticate().await,
                }
            })
            .await
        };
        if wait {
            self.lane.run(py, &self.handle, blocking, Hold::UntilSent, future, auth_result)
        } else {
            self.detached(py, future, Some(("auth", auth_result)))?;
            Ok(py.None())
        }
    }

    #[pyo3(signature = (reason_code, session_expiry_interval, reason_string, user_properties, timeout, wait, blocking))]
    #[allow(clippy::too_many_arguments)]
    fn disconnect(
        &self,
        py: Python<'_>,
        reason_code: u8,
        session_expiry_interval: Option<u32>,
        reason_string: Option<String>,
        user_properties: Option<Vec<(String, String)>>,
        timeout: Option<f64>,
        wait: bool,
        blocking: bool,
    ) -> PyResult<Py<PyAny>> {
        let reason = mqttkit::protocol::ReasonCode::from_u8(reason_code)
            .ok_or_else(|| invalid_argument(format!("unknown reason code {reason_code}")))?;
        let properties = mqttkit::protocol::DisconnectProperties {
            session_expiry_interval,
            reason_string: reason_string.map(Into::into),
            user_properties: self::user_properties(user_properties),
            server_reference: None,
        };
        let plain = reason_code == 0 && properties == Default::default();
        let limit = timeout_of(timeout)?;
        let client = self.client.clone();
        if !wait && plain {
            return self.lane.run(
                py,
                &self.handle,
                blocking,
                Hold::UntilDone,
                async move { client.disconnect_nowait().await },
                none,
            );
        }
        let future = async move {
            limited(Operation::Disconnect, limit, client.disconnect_with(reason, properties)).await
        };
        if wait {
            self.lane.run(py, &self.handle, blocking, Hold::UntilSent, future, none)
        } else {
            self.detached(py, future, None)?;
            Ok(py.None())
        }
    }

    /// Stops the client for good: no more events, the connection task ends (at most
    /// `timeout` seconds), and the runtime is released. Idempotent; never raises for a
    /// client that is already closed.
    #[pyo3(signature = (timeout=5.0))]
    fn close(&self, py: Python<'_>, timeout: f64) -> PyResult<()> {
        let Some(runtime) = self.runtime.lock().unwrap_or_else(|p| p.into_inner()).take() else {
            return Ok(());
        };
        self.sink.credits.close();
        let deliver = self.sink.deliver.lock().unwrap_or_else(|p| p.into_inner()).take();
        drop(deliver);
        let client = self.client.clone();
        let limit = seconds("timeout", timeout)?;
        py.detach(move || {
            if Handle::try_current().is_err() {
                let _ = runtime.block_on(async move { tokio::time::timeout(limit, client.shutdown()).await });
            } else {
                runtime.handle().spawn(async move { client.shutdown().await });
            }
            drop(runtime);
        });
        Ok(())
    }

    /// Whether `close()` was called.
    #[getter]
    fn closed(&self) -> bool {
        self.runtime.lock().unwrap_or_else(|p| p.into_inner()).is_none()
    }
}

impl Drop for NativeClient {
    fn drop(&mut self) {
        // Garbage-collected without close(): release the runtime without holding the GIL
        // (its threads may be waiting for it). The core client disconnects on its own.
        let runtime = self.runtime.get_mut().unwrap_or_else(|p| p.into_inner()).take();
        self.sink.credits.close();
        if let Some(runtime) = runtime {
            let release = move || drop(runtime);
            if bridge::closing() {
                // At interpreter exit: never join threads from here.
                std::mem::forget(release);
            } else {
                Python::attach(|py| py.detach(release));
            }
        }
    }
}
