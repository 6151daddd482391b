//! The cross-language scenarios of `tests/scenarios/` (format in its README), run with
//! the Rust client against a fresh embedded broker per file, and against a fresh Mosquitto
//! per file (so the scenarios check MQTT, not only what our broker does). Python, Node and
//! C run the same files with their own APIs against the embedded broker.
#![cfg(all(feature = "client", feature = "broker"))]

mod client_support;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use client_support::Mosquitto;
use mqttkit::broker::{Broker, BrokerHandle};
use mqttkit::client::{Client, ClientOptions, PublishOptions, ReconnectPolicy, SubscribeOptions};
use mqttkit::dispatch::EventStream;
use mqttkit::protocol::{ProtocolVersion, QoS, Subscription, SubscriptionOptions};

/// How long `receive` and `nothing` wait for a message.
const RECEIVE_WITHIN: Duration = Duration::from_secs(10);

/// One line of a scenario: `verb client key=value ...`.
struct Step {
    line: usize,
    verb: String,
    client: String,
    args: HashMap<String, String>,
}

impl Step {
    fn parse(line: usize, text: &str) -> Option<Step> {
        let text = text.split(" #").next().unwrap_or_default().trim();
        if text.is_empty() || text.starts_with('#') {
            return None;
        }
        let mut words = text.split_whitespace();
        let verb = words.next().unwrap().to_owned();
        let client = words.next().unwrap_or_else(|| panic!("line {line}: no client name")).to_owned();
        let args = words
            .map(|word| {
                let (key, value) =
                    word.split_once('=').unwrap_or_else(|| panic!("line {line}: `{word}` is not key=value"));
                (key.to_owned(), value.to_owned())
            })
            .collect();
        Some(Step { line, verb, client, args })
    }

    fn get(&self, key: &str) -> Option<&str> {
        self.args.get(key).map(String::as_str)
    }

    fn required(&self, key: &str) -> &str {
        self.get(key).unwrap_or_else(|| panic!("line {}: `{}` needs {key}=", self.line, self.verb))
    }

    fn flag(&self, key: &str) -> Option<bool> {
        self.get(key).map(|value| match value {
            "true" => true,
            "false" => false,
            other => panic!("line {}: {key}={other} is not true or false", self.line),
        })
    }

    fn qos(&self, key: &str) -> Option<QoS> {
        self.get(key).map(|value| {
            value
                .parse()
                .ok()
                .and_then(QoS::from_u8)
                .unwrap_or_else(|| panic!("line {}: bad {key}={value}", self.line))
        })
    }
}

/// A connected client of the scenario and the events it has not looked at yet.
struct Actor {
    client: Client,
    events: EventStream,
}

/// Runs one scenario file against the broker at `url`.
async fn run(path: &Path, url: &str) {
    let name = path.file_name().unwrap().to_string_lossy().into_owned();
    let text = std::fs::read_to_string(path).unwrap();
    let mut actors: HashMap<String, Actor> = HashMap::new();
    for step in text.lines().enumerate().filter_map(|(index, line)| Step::parse(index + 1, line)) {
        let at = format!("{name}:{} `{} {}`", step.line, step.verb, step.client);
        match step.verb.as_str() {
            "connect" => {
                let actor = connect(url, &step, &at).await;
                actors.insert(step.client.clone(), actor);
            }
            verb => {
                let actor = actors
                    .get_mut(&step.client)
                    .unwrap_or_else(|| panic!("{at}: `{}` is not connected", step.client));
                match verb {
                    "subscribe" => subscribe(actor, &step, &at).await,
                    "unsubscribe" => {
                        actor
                            .client
                            .unsubscribe(step.required("filter"))
                            .await
                            .unwrap_or_else(|e| panic!("{at}: {e}"));
                    }
                    "publish" => publish(actor, &step, &at).await,
                    "receive" => receive(actor, &step, &at).await,
                    "nothing" => nothing(actor, &step.client, &at).await,
                    "disconnect" => {
                        let actor = actors.remove(&step.client).unwrap();
                        actor.client.disconnect().await.unwrap_or_else(|e| panic!("{at}: {e}"));
                        actor.client.shutdown().await.unwrap_or_else(|e| panic!("{at}: {e}"));
                    }
                    other => panic!("{at}: unknown step `{other}`"),
                }
            }
        }
    }
    for (_, actor) in actors {
        actor.client.shutdown().await.unwrap();
    }
}

async fn connect(url: &str, step: &Step, at: &str) -> Actor {
    let version = match step.get("version").unwrap_or("5") {
        "5" => ProtocolVersion::V5,
        "3.1.1" => ProtocolVersion::V311,
        other => panic!("{at}: unknown version {other}"),
    };
    let mut options = ClientOptions::builder(url)
        .client_id(step.client.as_str())
        .protocol_version(version)
        .clean_start(step.flag("clean").unwrap_or(true))
        .reconnect(ReconnectPolicy::disabled())
        .local_network_timeouts();
    if let Some(expiry) = step.get("expiry") {
        options =
            options.session_expiry_interval(expiry.parse().unwrap_or_else(|_| panic!("{at}: bad expiry")));
    }
    let (client, events) = Client::with_events(options.build().unwrap()).unwrap();
    let connack = client.connect().await.unwrap_or_else(|e| panic!("{at}: {e}"));
    if let Some(present) = step.flag("present") {
        assert_eq!(connack.session_present, present, "{at}: Session Present");
    }
    let fence = format!("fence/{}", step.client);
    client.subscribe(fence, QoS::AtLeastOnce).await.unwrap_or_else(|e| panic!("{at}: {e}"));
    Actor { client, events }
}

async fn subscribe(actor: &mut Actor, step: &Step, at: &str) {
    let qos = step.qos("qos").unwrap_or_else(|| panic!("{at}: needs qos="));
    let options = SubscriptionOptions {
        no_local: step.flag("no_local").unwrap_or(false),
        ..SubscriptionOptions::new(qos)
    };
    let subscription = Subscription { filter: step.required("filter").into(), options };
    let suback = actor
        .client
        .subscribe_with(vec![subscription], SubscribeOptions::default())
        .await
        .unwrap_or_else(|e| panic!("{at}: {e}"));
    let granted = step.get("granted").map_or(qos as u8, |value| value.parse().unwrap());
    assert_eq!(
        suback.reason_codes.iter().map(|code| code.code()).collect::<Vec<_>>(),
        [granted],
        "{at}: SUBACK"
    );
}

async fn publish(actor: &mut Actor, step: &Step, at: &str) {
    let qos = step.qos("qos").unwrap_or_else(|| panic!("{at}: needs qos="));
    let options = PublishOptions::qos(qos).retain(step.flag("retain").unwrap_or(false));
    let payload = step.required("payload").to_owned();
    actor
        .client
        .publish_with(step.required("topic"), payload, options)
        .await
        .unwrap_or_else(|e| panic!("{at}: {e}"));
}

async fn receive(actor: &mut Actor, step: &Step, at: &str) {
    let message = tokio::time::timeout(RECEIVE_WITHIN, actor.events.next_message())
        .await
        .unwrap_or_else(|_| panic!("{at}: no message within {RECEIVE_WITHIN:?}"))
        .unwrap_or_else(|| panic!("{at}: the client's events ended"));
    let got = (message.topic.to_string(), String::from_utf8_lossy(&message.payload).into_owned());
    assert_eq!(
        got,
        (step.required("topic").to_owned(), step.required("payload").to_owned()),
        "{at}: topic, payload"
    );
    if let Some(qos) = step.qos("qos") {
        assert_eq!(message.qos, qos, "{at}: QoS");
    }
    if let Some(retain) = step.flag("retain") {
        assert_eq!(message.retain, retain, "{at}: RETAIN");
    }
}

async fn nothing(actor: &mut Actor, client: &str, at: &str) {
    let fence = format!("fence/{client}");
    actor
        .client
        .publish(fence.as_str(), "fence", QoS::AtLeastOnce)
        .await
        .unwrap_or_else(|e| panic!("{at}: {e}"));
    let message = tokio::time::timeout(RECEIVE_WITHIN, actor.events.next_message())
        .await
        .unwrap_or_else(|_| panic!("{at}: the fence message did not come back"))
        .unwrap_or_else(|| panic!("{at}: the client's events ended"));
    assert_eq!(message.topic, fence.as_str(), "{at}: expected nothing, received {message:?}");
}

fn scenario_files() -> Vec<PathBuf> {
    let folder = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/scenarios");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&folder)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "scenario"))
        .collect();
    files.sort();
    files
}

#[tokio::test]
async fn every_scenario_file_passes_with_the_rust_client() {
    let files = scenario_files();
    assert!(files.len() >= 4, "scenario files missing in tests/scenarios: {files:?}");
    for path in files {
        let broker: BrokerHandle =
            Broker::builder().bind("127.0.0.1:0".parse().unwrap()).start().await.unwrap();
        run(&path, &format!("mqtt://{}", broker.local_addr())).await;
        broker.shutdown().await;
    }
}

#[tokio::test]
async fn every_scenario_file_passes_against_mosquitto() {
    for path in scenario_files() {
        let mosquitto = Mosquitto::start().await;
        run(&path, &mosquitto.url()).await;
    }
}

#[test]
fn a_step_names_its_verb_client_and_arguments() {
    let step = Step::parse(3, "publish pub topic=a/b qos=1 payload= # trailing comment").unwrap();
    assert_eq!((step.line, step.verb.as_str(), step.client.as_str()), (3, "publish", "pub"));
    assert_eq!(
        (step.required("topic"), step.get("payload"), step.qos("qos")),
        ("a/b", Some(""), Some(QoS::AtLeastOnce))
    );
    assert!(Step::parse(4, "   # only a comment").is_none());
}
