//! The two-step `submit_*` operations ([`Pending`]) and per-call timeouts: commands keep
//! their call order, each outcome arrives on its own `Pending`, a per-call override beats
//! the client's default, and `NO_TIMEOUT` waits as long as it takes.
#![cfg(all(feature = "client", feature = "broker"))]

mod client_support;

use std::net::SocketAddr;
use std::time::Duration;

use client_support::{FakeConnection, FakeServer, expect_message};
use mqttkit::Error;
use mqttkit::Operation;
use mqttkit::broker::Broker;
use mqttkit::client::{
    Client, ClientOptions, PublishOptions, ReconnectPolicy, SubscribeOptions, Timeouts, UnsubscribeOptions,
};
use mqttkit::protocol::{ConnAck, DisconnectProperties, Packet, PubAck, QoS, ReasonCode, Subscription};

fn options(url: String, id: &str) -> mqttkit::client::ClientOptionsBuilder {
    ClientOptions::builder(url).client_id(id).local_network_timeouts().reconnect(ReconnectPolicy::disabled())
}

fn short_timeouts() -> Timeouts {
    let short = Some(Duration::from_millis(100));
    Timeouts {
        publish: short,
        subscribe: short,
        unsubscribe: short,
        ping: short,
        auth: short,
        ..Timeouts::LOCAL_NETWORK
    }
}

/// A client with 100 ms operation timeouts, connected to the scripted `server`.
async fn connect_with_short_timeouts(server: &FakeServer, id: &str) -> (Client, FakeConnection) {
    let options = options(server.url(), id).timeouts(short_timeouts()).build().unwrap();
    let (client, _events) = Client::with_events(options).unwrap();
    let connecting = tokio::spawn({
        let client = client.clone();
        async move { client.connect().await }
    });
    let link = server.accept_with(ConnAck::new(ReasonCode::Success, false)).await;
    connecting.await.unwrap().unwrap();
    (client, link)
}

#[tokio::test]
async fn submitted_operations_go_out_in_call_order_and_each_pending_gets_its_own_ack() {
    let bind: SocketAddr = "127.0.0.1:0".parse().unwrap();
    let broker = Broker::builder().bind(bind).start().await.unwrap();
    let url = format!("mqtt://{}", broker.local_addr());
    let (receiver, mut messages) =
        Client::with_events(options(url.clone(), "receiver").build().unwrap()).unwrap();
    receiver.connect().await.unwrap();
    let filters = vec![Subscription::new(bytestring::ByteString::from_static("order/#"), QoS::AtLeastOnce)];
    let subscribed = receiver.submit_subscribe_with(filters, SubscribeOptions::default()).await.unwrap();
    assert_eq!(subscribed.wait().await.unwrap().reason_codes, vec![ReasonCode::GrantedQos1]);

    let (sender, _events) = Client::with_events(options(url, "sender").build().unwrap()).unwrap();
    sender.submit_connect(None).await.unwrap().wait().await.unwrap();
    let mut pending = Vec::new();
    for index in 0..200u32 {
        let qos = if index % 2 == 0 { QoS::AtLeastOnce } else { QoS::ExactlyOnce };
        let submitted =
            sender.submit_publish_with("order/x", index.to_string(), PublishOptions::qos(qos)).await.unwrap();
        assert_eq!(submitted.operation(), Operation::Publish);
        pending.push(submitted);
    }
    let results = futures_util::future::join_all(pending.into_iter().map(|p| p.wait())).await;
    assert!(results.iter().all(Result::is_ok), "{results:?}");
    for index in 0..200u32 {
        let message = expect_message(&mut messages).await;
        assert_eq!(&message.payload[..], index.to_string().as_bytes(), "message {index} out of order");
    }
    let ping = sender.submit_ping(Some(Duration::from_secs(5))).await.unwrap();
    ping.wait().await.unwrap();
    let unsubscribed = receiver
        .submit_unsubscribe_with(vec!["order/#".into()], UnsubscribeOptions::default())
        .await
        .unwrap();
    assert_eq!(unsubscribed.wait().await.unwrap().reason_codes, vec![ReasonCode::Success]);
    let gone = sender
        .submit_disconnect_with(ReasonCode::Success, DisconnectProperties::default(), None)
        .await
        .unwrap();
    gone.wait().await.unwrap();
    assert!(!sender.is_connected());
    receiver.shutdown().await.unwrap();
    broker.shutdown().await;
}

#[tokio::test]
async fn no_timeout_outlives_the_default_and_a_per_call_timeout_beats_it() {
    let server = FakeServer::start().await;
    let (client, mut link) = connect_with_short_timeouts(&server, "slow").await;

    let forever = client.submit_publish_with("t", "a", PublishOptions::qos(QoS::AtLeastOnce).no_timeout());
    let forever = forever.await.unwrap();
    let Packet::Publish(first) = link.recv().await else { panic!("expected PUBLISH") };
    // The client's default (100 ms) expires for a second publication, the first still waits.
    let defaulted = client.publish("t", "b", QoS::AtLeastOnce).await.unwrap_err();
    assert!(
        matches!(defaulted, Error::Timeout { operation: Operation::Publish, timeout } if timeout == Duration::from_millis(100))
    );
    link.send(Packet::PubAck(PubAck::new(first.packet_id))).await;
    assert_eq!(forever.wait().await.unwrap().reason_code, ReasonCode::Success);

    let longer = PublishOptions::qos(QoS::AtLeastOnce).timeout(Duration::from_millis(250));
    let overridden = client.publish_with("t", "c", longer).await.unwrap_err();
    assert!(matches!(overridden, Error::Timeout { timeout, .. } if timeout == Duration::from_millis(250)));
    client.shutdown().await.unwrap();
}

#[tokio::test]
async fn auth_and_disconnect_take_a_per_call_timeout() {
    let server = FakeServer::start().await;
    let (client, mut link) = connect_with_short_timeouts(&server, "auth").await;

    let limit = Duration::from_millis(150);
    let error = client.auth_continue_with_timeout("X-TEST", None, Some(limit)).await.unwrap_err();
    assert!(matches!(error, Error::Timeout { operation: Operation::Auth, timeout } if timeout == limit));
    assert!(matches!(link.recv().await, Packet::Auth(_)));
    let pending = client.submit_re_authenticate_with("X-TEST", None, Some(limit)).await.unwrap();
    assert!(matches!(pending.wait().await, Err(Error::Timeout { operation: Operation::Auth, .. })));
    // Without an authenticator in the options, re-authenticating by it fails at once, in
    // every form.
    assert!(matches!(client.re_authenticate().await, Err(Error::InvalidArgument(_))));
    assert!(matches!(client.re_authenticate_nowait().await, Err(Error::InvalidArgument(_))));
    assert!(matches!(client.submit_re_authenticate(None).await, Err(Error::InvalidArgument(_))));
    let refused =
        client.disconnect_with_timeout(ReasonCode::GrantedQos1, DisconnectProperties::default(), None);
    assert!(matches!(refused.await, Err(Error::InvalidArgument(_))));
    client
        .disconnect_with_timeout(ReasonCode::Success, DisconnectProperties::default(), Some(limit))
        .await
        .unwrap();
    client.shutdown().await.unwrap();
}

/// On the current-thread test runtime, commands sent without awaiting in between reach the
/// connection task as one batch: those behind a DISCONNECT are carried out by the idle
/// client, in order, instead of being failed as "not connected".
#[tokio::test]
async fn commands_queued_behind_a_disconnect_are_carried_out_in_the_next_state() {
    let bind: SocketAddr = "127.0.0.1:0".parse().unwrap();
    let broker = Broker::builder().bind(bind).start().await.unwrap();
    let url = format!("mqtt://{}", broker.local_addr());
    let (client, mut events) = Client::with_events(options(url, "batch").build().unwrap()).unwrap();
    client.connect().await.unwrap();
    client.disconnect_nowait().await.unwrap();
    client.connect_nowait().await.unwrap();
    client.subscribe_nowait("batch/#", QoS::AtLeastOnce).await.unwrap();
    client_support::expect_event(&mut events, "Disconnected", |e| {
        matches!(e, mqttkit::dispatch::Event::Disconnected(_)).then_some(())
    })
    .await;
    client_support::expect_event(&mut events, "Connected", |e| {
        matches!(e, mqttkit::dispatch::Event::Connected(_)).then_some(())
    })
    .await;
    client.disconnect_nowait().await.unwrap();
    // Shutdown right behind a DISCONNECT in the same batch succeeds.
    client.shutdown().await.unwrap();
    assert!(matches!(client.ping().await, Err(Error::ChannelClosed)));
    broker.shutdown().await;
}
