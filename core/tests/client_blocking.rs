//! The blocking client: plain threads, callbacks on a background thread.
#![cfg(feature = "client")]

mod client_support;

use std::sync::mpsc;
use std::time::Duration;

use bytestring::ByteString;
use client_support::Mosquitto;
use mqttkit::blocking::{Client, EventHandler};
use mqttkit::client::{ClientOptions, ConnectResult, Message, SubscribeOptions, UnsubscribeOptions};
use mqttkit::dispatch::Event;
use mqttkit::protocol::{DisconnectProperties, QoS, ReasonCode, Subscription};

struct Forward {
    messages: mpsc::Sender<Message>,
    connected: mpsc::Sender<ConnectResult>,
}

impl EventHandler for Forward {
    fn on_connected(&mut self, result: ConnectResult) {
        let _ = self.connected.send(result);
    }

    fn on_message(&mut self, message: Message) {
        let _ = self.messages.send(message);
    }
}

fn fixture() -> (tokio::runtime::Runtime, Mosquitto) {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let broker = runtime.block_on(Mosquitto::start());
    (runtime, broker)
}

#[test]
fn callbacks_run_on_a_background_thread_and_may_call_the_client() {
    let (_runtime, broker) = fixture();
    let (messages, inbox) = mpsc::channel();
    let (connected, connections) = mpsc::channel();
    let options = ClientOptions::builder(broker.url()).client_id("blocking").build().unwrap();
    let client = Client::with_handler(options, Forward { messages, connected }).unwrap();
    let result = client.connect().unwrap();
    assert!(!result.session_present);
    assert_eq!(connections.recv_timeout(Duration::from_secs(10)).unwrap(), result);
    client.subscribe("blocking/#", QoS::AtLeastOnce).unwrap();
    client.publish("blocking/a", "hello", QoS::ExactlyOnce).unwrap();
    let message = inbox.recv_timeout(Duration::from_secs(10)).unwrap();
    assert_eq!((message.topic.as_ref(), &message.payload[..]), ("blocking/a", &b"hello"[..]));
    client.ping().unwrap();
    client.unsubscribe("blocking/#").unwrap();
    client.shutdown().unwrap();
    assert!(!client.is_connected());
}

#[test]
fn calls_from_inside_callbacks_do_not_deadlock() {
    let (_runtime, broker) = fixture();
    let (events_client, mut events) =
        Client::with_events(ClientOptions::builder(broker.url()).client_id("watch").build().unwrap())
            .unwrap();
    events_client.connect().unwrap();
    events_client.subscribe("blocking/pong", QoS::AtLeastOnce).unwrap();

    // A handler that calls its own client (a wait-for-ack publish) from inside the callback;
    // it receives the client through a channel once the client exists.
    let options = ClientOptions::builder(broker.url()).client_id("echo").build().unwrap();
    let (client_slot, client_rx) = mpsc::channel::<Client>();
    struct Echo(mpsc::Receiver<Client>, Option<Client>);
    impl EventHandler for Echo {
        fn on_message(&mut self, message: Message) {
            let client = self.1.get_or_insert_with(|| self.0.recv().unwrap());
            client.publish("blocking/pong", message.payload.clone(), QoS::AtLeastOnce).unwrap();
        }
    }
    let echo = Client::with_handler(options, Echo(client_rx, None)).unwrap();
    client_slot.send(echo.clone()).unwrap();
    echo.connect().unwrap();
    echo.subscribe("blocking/ping", QoS::AtLeastOnce).unwrap();
    events_client.publish("blocking/ping", "marco", QoS::AtLeastOnce).unwrap();
    let pong = loop {
        match events.next_timeout(Duration::from_secs(10)).expect("pong within 10 s") {
            Event::Message(message) => break message,
            _ => continue,
        }
    };
    assert_eq!(&pong.payload[..], b"marco");
    echo.shutdown().unwrap();
    events_client.shutdown().unwrap();
}

/// Waits for the first event `pick` accepts.
fn next_matching<T>(events: &mut mqttkit::blocking::Events, mut pick: impl FnMut(Event) -> Option<T>) -> T {
    loop {
        let event = events.next_timeout(Duration::from_secs(10)).expect("an event within 10 s");
        if let Some(found) = pick(event) {
            return found;
        }
    }
}

#[test]
fn fire_and_forget_and_per_call_timeout_forms_mirror_the_async_client() {
    let (_runtime, broker) = fixture();
    let options = ClientOptions::builder(broker.url()).client_id("mirror").build().unwrap();
    let (client, mut events) = Client::with_events(options).unwrap();
    client.connect_with_timeout(Some(Duration::from_secs(10))).unwrap();
    let filters = vec![Subscription::new(ByteString::from_static("mirror/#"), QoS::AtLeastOnce)];
    client.subscribe_with_nowait(filters, SubscribeOptions::default().user_property("k", "v")).unwrap();
    let granted = next_matching(&mut events, |event| match event {
        Event::Subscribed(result) => Some(result.reason_codes),
        _ => None,
    });
    assert_eq!(granted, vec![ReasonCode::GrantedQos1]);
    client.ping_with_timeout(Some(Duration::from_secs(10))).unwrap();
    client.unsubscribe_with_nowait(vec!["mirror/#".into()], UnsubscribeOptions::default()).unwrap();
    let removed = next_matching(&mut events, |event| match event {
        Event::Unsubscribed(result) => Some(result.reason_codes),
        _ => None,
    });
    assert_eq!(removed, vec![ReasonCode::Success]);
    client.disconnect_with_timeout(ReasonCode::Success, DisconnectProperties::default(), None).unwrap();
    assert!(!client.is_connected());
    client.connect().unwrap();
    client.disconnect_with_nowait(ReasonCode::Success, DisconnectProperties::default()).unwrap();
    next_matching(&mut events, |event| matches!(event, Event::Disconnected(_)).then_some(()));
    client.shutdown().unwrap();
}
