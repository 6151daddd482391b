//! The client against Mosquitto, a broker nobody here wrote.
#![cfg(feature = "client")]

mod client_support;

use std::time::Duration;

use client_support::{Mosquitto, Proxy, expect_event, expect_message, silent_listener};
use mqttkit::client::{
    Client, ClientOptions, ClientOptionsBuilder, OfflineBuffer, PublishOptions, ReconnectPolicy,
};
use mqttkit::dispatch::Event;
use mqttkit::protocol::{
    ProtocolVersion, QoS, ReasonCode, RetainHandling, Subscription, SubscriptionOptions, Will,
};
use mqttkit::{Error, Operation};

fn options(url: &str, id: &str) -> ClientOptionsBuilder {
    ClientOptions::builder(url).client_id(id).local_network_timeouts()
}

fn fast_reconnect() -> ReconnectPolicy {
    ReconnectPolicy {
        initial_delay: Duration::from_millis(20),
        max_delay: Duration::from_millis(200),
        ..ReconnectPolicy::default()
    }
}

async fn round_trip(version: ProtocolVersion) {
    let broker = Mosquitto::start().await;
    let (subscriber, mut inbox) =
        Client::with_events(options(&broker.url(), "sub").protocol_version(version).build().unwrap())
            .unwrap();
    let (publisher, _) =
        Client::with_events(options(&broker.url(), "pub").protocol_version(version).build().unwrap())
            .unwrap();
    let connected = subscriber.connect().await.unwrap();
    assert_eq!(connected.reason_code, ReasonCode::Success);
    assert!(!connected.session_present);
    publisher.connect().await.unwrap();

    let granted = subscriber.subscribe("rt/#", QoS::ExactlyOnce).await.unwrap();
    assert_eq!(granted.reason_codes, vec![ReasonCode::GrantedQos2]);
    for qos in [QoS::AtMostOnce, QoS::AtLeastOnce, QoS::ExactlyOnce] {
        let payload = format!("payload at {qos:?}");
        let result = publisher.publish(format!("rt/{}", qos as u8), payload.clone(), qos).await.unwrap();
        assert_eq!(result.qos, qos);
        assert_eq!(result.packet_id.is_some(), qos != QoS::AtMostOnce);
        let message = expect_message(&mut inbox).await;
        assert_eq!(
            (message.topic.as_ref(), message.payload.as_ref()),
            (&*format!("rt/{}", qos as u8), payload.as_bytes())
        );
        assert_eq!(message.qos, qos);
    }
    let unsubscribed = subscriber.unsubscribe("rt/#").await.unwrap();
    if version == ProtocolVersion::V5 {
        assert_eq!(unsubscribed.reason_codes, vec![ReasonCode::Success]);
    }
    subscriber.ping().await.unwrap();
    subscriber.disconnect().await.unwrap();
    expect_event(&mut inbox, "Disconnected", |e| matches!(e, Event::Disconnected(_)).then_some(())).await;
    assert!(!subscriber.is_connected());
    publisher.shutdown().await.unwrap();
    assert_eq!(publisher.publish("rt/x", "late", QoS::AtMostOnce).await.unwrap_err(), Error::ChannelClosed);
}

#[tokio::test]
async fn every_wait_for_ack_operation_v5() {
    round_trip(ProtocolVersion::V5).await;
}

#[tokio::test]
async fn every_wait_for_ack_operation_v311() {
    round_trip(ProtocolVersion::V311).await;
}

#[tokio::test]
async fn fire_and_forget_operations_report_through_events() {
    let broker = Mosquitto::start().await;
    let (client, mut events) =
        Client::with_events(options(&broker.url(), "nowait").build().unwrap()).unwrap();
    client.connect_nowait().await.unwrap();
    let connected = expect_event(&mut events, "Connected", |e| match e {
        Event::Connected(result) => Some(result),
        _ => None,
    })
    .await;
    assert_eq!(connected.reason_code, ReasonCode::Success);
    client.subscribe_nowait("nw/+", QoS::AtLeastOnce).await.unwrap();
    let subscribed = expect_event(&mut events, "Subscribed", |e| match e {
        Event::Subscribed(result) => Some(result),
        _ => None,
    })
    .await;
    assert_eq!(subscribed.reason_codes, vec![ReasonCode::GrantedQos1]);
    client.publish_nowait("nw/a", "x", QoS::AtLeastOnce).await.unwrap();
    let mut published = false;
    let mut received = false;
    while !(published && received) {
        match expect_event(&mut events, "Published and Message", Some).await {
            Event::Published(result) => {
                assert!(result.is_success());
                published = true;
            }
            Event::Message(message) => {
                assert_eq!(message.topic, "nw/a");
                received = true;
            }
            other => panic!("unexpected event {other:?}"),
        }
    }
    client.ping_nowait().await.unwrap();
    expect_event(&mut events, "PingResponse", |e| matches!(e, Event::PingResponse(_)).then_some(())).await;
    client.unsubscribe_nowait("nw/+").await.unwrap();
    expect_event(&mut events, "Unsubscribed", |e| matches!(e, Event::Unsubscribed(_)).then_some(())).await;
    client.disconnect_nowait().await.unwrap();
    expect_event(&mut events, "Disconnected", |e| matches!(e, Event::Disconnected(_)).then_some(())).await;
}

#[tokio::test]
async fn v5_properties_and_subscription_options_reach_the_subscriber() {
    let broker = Mosquitto::start().await;
    let (client, mut events) = Client::with_events(options(&broker.url(), "props").build().unwrap()).unwrap();
    client.connect().await.unwrap();
    let no_local = SubscriptionOptions { no_local: true, ..SubscriptionOptions::new(QoS::AtLeastOnce) };
    client
        .subscribe_with(
            vec![
                Subscription { filter: "own/topic".into(), options: no_local },
                Subscription::new("req/+", QoS::AtLeastOnce),
            ],
            mqttkit::client::SubscribeOptions::default().subscription_identifier(42),
        )
        .await
        .unwrap();
    client.publish("own/topic", "not for me (No Local)", QoS::AtLeastOnce).await.unwrap();
    let options = PublishOptions::qos(QoS::AtLeastOnce)
        .content_type("application/json")
        .response_topic("resp/1")
        .correlation_data(&b"corr"[..])
        .user_property("k1", "v1")
        .user_property("k2", "v2")
        .message_expiry(Duration::from_secs(60));
    client.publish_with("req/1", "{}", options).await.unwrap();
    let message = expect_message(&mut events).await;
    assert_eq!(message.topic, "req/1", "No Local must have suppressed own/topic");
    let p = &message.properties;
    assert_eq!(p.content_type.as_deref(), Some("application/json"));
    assert_eq!(p.response_topic.as_deref(), Some("resp/1"));
    assert_eq!(p.correlation_data.as_deref(), Some(&b"corr"[..]));
    let pairs: Vec<(&str, &str)> = p.user_properties.iter().map(|(k, v)| (&**k, &**v)).collect();
    assert_eq!(pairs, [("k1", "v1"), ("k2", "v2")]);
    assert_eq!(p.subscription_identifiers, vec![42]);
    assert!(p.message_expiry_interval.is_some_and(|s| s <= 60));
    client.shutdown().await.unwrap();
}

#[tokio::test]
async fn retained_messages_and_retain_handling() {
    let broker = Mosquitto::start().await;
    let (client, mut events) =
        Client::with_events(options(&broker.url(), "retain").build().unwrap()).unwrap();
    client.connect().await.unwrap();
    client.publish_with("ret/a", "kept", PublishOptions::qos(QoS::AtLeastOnce).retain(true)).await.unwrap();
    client.subscribe("ret/#", QoS::AtLeastOnce).await.unwrap();
    let message = expect_message(&mut events).await;
    assert!(message.retain);
    assert_eq!(&message.payload[..], b"kept");
    let skip = SubscriptionOptions {
        retain_handling: RetainHandling::DoNotSend,
        ..SubscriptionOptions::new(QoS::AtMostOnce)
    };
    client
        .subscribe_with(vec![Subscription { filter: "ret/+".into(), options: skip }], Default::default())
        .await
        .unwrap();
    client.publish("ret/b", "live", QoS::AtLeastOnce).await.unwrap();
    let live = expect_message(&mut events).await;
    assert_eq!(&live.payload[..], b"live", "Retain Handling 2 must not resend the retained message");
    client.shutdown().await.unwrap();
}

#[tokio::test]
async fn manual_ack_holds_back_acknowledgements_until_ack() {
    let broker = Mosquitto::start().await;
    let (receiver, mut events) =
        Client::with_events(options(&broker.url(), "manual").auto_ack(false).build().unwrap()).unwrap();
    let (sender, _) = Client::with_events(options(&broker.url(), "sender").build().unwrap()).unwrap();
    receiver.connect().await.unwrap();
    sender.connect().await.unwrap();
    receiver.subscribe("ack/#", QoS::ExactlyOnce).await.unwrap();
    for qos in [QoS::AtLeastOnce, QoS::ExactlyOnce] {
        let publisher = sender.clone();
        let pending = tokio::spawn(async move { publisher.publish("ack/x", "m", qos).await });
        let message = expect_message(&mut events).await;
        assert!(message.needs_ack());
        message.ack().unwrap();
        message.ack().unwrap();
        let acknowledged =
            tokio::time::timeout(Duration::from_secs(10), pending).await.unwrap().unwrap().unwrap();
        assert!(acknowledged.is_success());
    }
    receiver.shutdown().await.unwrap();
    sender.shutdown().await.unwrap();
}

#[tokio::test]
async fn timeouts_against_a_listener_that_never_answers() {
    let (port, listener) = silent_listener().await;
    let url = format!("mqtt://127.0.0.1:{port}");
    let (client, _) =
        Client::with_events(ClientOptions::builder(url).client_id("t").build().unwrap()).unwrap();
    let error = client.connect_with_timeout(Some(Duration::from_millis(200))).await.unwrap_err();
    assert_eq!(error, Error::Timeout { operation: Operation::Connect, timeout: Duration::from_millis(200) });
    assert!(error.is_recoverable() && error.should_reconnect());
    listener.abort();
}

#[tokio::test]
async fn operations_time_out_when_the_broker_stops_answering() {
    let broker = Mosquitto::start().await;
    let proxy = Proxy::start(broker.addr()).await;
    let (client, _) = Client::with_events(options(&proxy.url(), "stall").build().unwrap()).unwrap();
    client.connect().await.unwrap();
    proxy.stall(true);
    let short = Duration::from_millis(150);
    let error = client
        .publish_with("s/x", "y", PublishOptions::qos(QoS::AtLeastOnce).timeout(short))
        .await
        .unwrap_err();
    assert_eq!(error, Error::Timeout { operation: Operation::Publish, timeout: short });
    let error = client.ping_with_timeout(Some(short)).await.unwrap_err();
    assert_eq!(error.kind(), mqttkit::ErrorKind::Timeout);
    client.shutdown().await.unwrap();
}

#[tokio::test]
async fn keep_alive_detects_a_broker_that_stops_answering() {
    let broker = Mosquitto::start().await;
    let proxy = Proxy::start(broker.addr()).await;
    let options = options(&proxy.url(), "ka")
        .keep_alive(Duration::from_secs(1))
        .timeouts(mqttkit::client::Timeouts {
            ping: Some(Duration::from_millis(300)),
            ..mqttkit::client::Timeouts::LOCAL_NETWORK
        })
        .reconnect(ReconnectPolicy::disabled())
        .build()
        .unwrap();
    let (client, mut events) = Client::with_events(options).unwrap();
    client.connect().await.unwrap();
    proxy.stall(true);
    let error = expect_event(&mut events, "ConnectionLost", |e| match e {
        Event::ConnectionLost(error) => Some(error),
        _ => None,
    })
    .await;
    assert_eq!(error.kind(), mqttkit::ErrorKind::Timeout, "{error}");
    assert!(!client.is_connected());
}

#[tokio::test]
async fn will_is_published_on_abnormal_close_and_not_on_disconnect() {
    let broker = Mosquitto::start().await;
    let proxy = Proxy::start(broker.addr()).await;
    let (watcher, mut events) =
        Client::with_events(options(&broker.url(), "watcher").build().unwrap()).unwrap();
    watcher.connect().await.unwrap();
    watcher.subscribe("wills/#", QoS::AtLeastOnce).await.unwrap();

    let will = |name: &str| Will {
        qos: QoS::AtLeastOnce,
        ..Will::new(format!("wills/{name}"), format!("{name} died"))
    };
    let polite = Client::with_events(options(&broker.url(), "polite").will(will("polite")).build().unwrap())
        .unwrap()
        .0;
    polite.connect().await.unwrap();
    polite.disconnect().await.unwrap();

    let victim = Client::with_events(
        options(&proxy.url(), "victim")
            .will(will("victim"))
            .reconnect(ReconnectPolicy::disabled())
            .build()
            .unwrap(),
    )
    .unwrap()
    .0;
    victim.connect().await.unwrap();
    proxy.cut();
    let message = expect_message(&mut events).await;
    assert_eq!(message.topic, "wills/victim", "only the abnormally closed client's will is published");
    watcher.shutdown().await.unwrap();
}

#[tokio::test]
async fn reconnects_resubscribes_and_flushes_the_offline_buffer_in_order() {
    let broker = Mosquitto::start().await;
    let port = broker.port;
    let (watcher, mut inbox) = Client::with_events(
        options(&broker.url(), "rc-watcher").reconnect(fast_reconnect()).build().unwrap(),
    )
    .unwrap();
    let (client, mut events) =
        Client::with_events(options(&broker.url(), "rc-client").reconnect(fast_reconnect()).build().unwrap())
            .unwrap();
    watcher.connect().await.unwrap();
    client.connect().await.unwrap();
    watcher.subscribe("rc/#", QoS::AtLeastOnce).await.unwrap();
    client.subscribe("rc-back/#", QoS::AtLeastOnce).await.unwrap();

    broker.kill();
    expect_event(&mut events, "ConnectionLost", |e| matches!(e, Event::ConnectionLost(_)).then_some(()))
        .await;
    // Published while the broker is down: buffered, then sent in order.
    let mut pending = Vec::new();
    for n in 0..5 {
        let c = client.clone();
        pending.push(tokio::spawn(async move {
            c.publish(format!("rc/{n}"), format!("{n}"), QoS::AtLeastOnce).await
        }));
    }
    let _broker = Mosquitto::start_on(port).await;
    let reconnected = expect_event(&mut events, "Connected", |e| match e {
        Event::Connected(result) => Some(result),
        _ => None,
    })
    .await;
    assert!(!reconnected.session_present);
    for task in pending {
        task.await.unwrap().unwrap();
    }
    // The watcher reconnected and resubscribed too; everything sent after that arrives.
    expect_event(&mut inbox, "watcher Connected", |e| matches!(e, Event::Connected(_)).then_some(())).await;
    let sync = watcher.subscribe("rc-sync", QoS::AtLeastOnce).await.unwrap();
    assert!(sync.is_success());
    // The client's own subscription was restored: a message to rc-back reaches it.
    watcher.publish("rc-back/1", "back", QoS::AtLeastOnce).await.unwrap();
    let back = expect_message(&mut events).await;
    assert_eq!(back.topic, "rc-back/1");
    client.shutdown().await.unwrap();
    watcher.shutdown().await.unwrap();
}

#[tokio::test]
async fn offline_buffer_policy_drops_oldest_qos0_and_refuses_qos1_when_full() {
    let broker = Mosquitto::start().await;
    let proxy = Proxy::start(broker.addr()).await;
    let options = options(&proxy.url(), "buffer")
        .offline_buffer(OfflineBuffer { enabled: true, capacity: 2 })
        .reconnect(ReconnectPolicy {
            initial_delay: Duration::from_secs(30),
            max_delay: Duration::from_secs(30),
            ..fast_reconnect()
        })
        .build()
        .unwrap();
    let (client, mut events) = Client::with_events(options).unwrap();
    client.connect().await.unwrap();
    proxy.cut();
    expect_event(&mut events, "ConnectionLost", |e| matches!(e, Event::ConnectionLost(_)).then_some(()))
        .await;
    // The connection task takes commands in order: two fill the buffer...
    client.publish_nowait("b/0", "q0", QoS::AtMostOnce).await.unwrap();
    client.publish_nowait("b/1", "q1", QoS::AtLeastOnce).await.unwrap();
    // ...the oldest QoS 0 message makes room for the next QoS 1 message...
    client.publish_nowait("b/2", "q1", QoS::AtLeastOnce).await.unwrap();
    // ...after which a QoS 1 message is refused, never dropped silently.
    let refused = client.publish("b/3", "q1", QoS::AtLeastOnce).await.unwrap_err();
    assert_eq!(refused, Error::BufferFull { capacity: 2 });
    assert_eq!(client.dropped_messages(), 1);
    client.shutdown().await.unwrap();
    // The two buffered QoS 1 messages are reported as failed, not lost without a word.
    for _ in 0..2 {
        let error = expect_event(&mut events, "Error for a buffered message", |e| match e {
            Event::Error(error) => Some(error),
            _ => None,
        })
        .await;
        assert_eq!(error, Error::ChannelClosed);
    }
}

#[tokio::test]
async fn session_resume_resends_unacknowledged_qos1_with_dup() {
    let broker = Mosquitto::start().await;
    let proxy = Proxy::start(broker.addr()).await;
    let (watcher, mut inbox) =
        Client::with_events(options(&broker.url(), "dup-watcher").build().unwrap()).unwrap();
    watcher.connect().await.unwrap();
    watcher.subscribe("dup/#", QoS::AtLeastOnce).await.unwrap();
    let (client, mut events) = Client::with_events(
        options(&proxy.url(), "dup-client")
            .clean_start(false)
            .session_expiry_interval(300)
            .reconnect(fast_reconnect())
            .build()
            .unwrap(),
    )
    .unwrap();
    client.connect().await.unwrap();
    expect_event(&mut events, "first Connected", |e| matches!(e, Event::Connected(_)).then_some(())).await;
    // The PUBLISH never reaches the broker: the proxy swallows it, then the link is cut.
    proxy.stall(true);
    let c = client.clone();
    let publish = tokio::spawn(async move { c.publish("dup/x", "once", QoS::AtLeastOnce).await });
    proxy.wait_swallowed(1).await;
    proxy.stall(false);
    proxy.cut();
    let reconnected = expect_event(&mut events, "Connected again", |e| match e {
        Event::Connected(result) => Some(result),
        _ => None,
    })
    .await;
    assert!(reconnected.session_present);
    let result = publish.await.unwrap().unwrap();
    assert!(result.is_success());
    let message = expect_message(&mut inbox).await;
    assert_eq!(&message.payload[..], b"once");
    client.shutdown().await.unwrap();
    watcher.shutdown().await.unwrap();
}

#[tokio::test]
async fn invalid_arguments_and_configuration_are_clear_errors() {
    let error = ClientOptions::builder("http://x").build().unwrap_err();
    assert_eq!(error.kind(), mqttkit::ErrorKind::InvalidConfiguration);
    let error = ClientOptions::builder("mqtt://x")
        .protocol_version(ProtocolVersion::V311)
        .session_expiry_interval(10)
        .build()
        .unwrap_err();
    assert!(error.to_string().contains("session_expiry_interval"), "{error}");
    let broker = Mosquitto::start().await;
    let (client, _) = Client::with_events(options(&broker.url(), "args").build().unwrap()).unwrap();
    client.connect().await.unwrap();
    let error = client.publish("a/+", "x", QoS::AtMostOnce).await.unwrap_err();
    assert_eq!(error.kind(), mqttkit::ErrorKind::InvalidArgument);
    let error = client.subscribe("a/#/b", QoS::AtMostOnce).await.unwrap_err();
    assert!(error.to_string().contains("a/#/b"), "{error}");
    assert_eq!(client.connect().await.unwrap_err(), Error::AlreadyConnected);
    client.shutdown().await.unwrap();
}

/// Publishes `count` messages at `qos` through a proxy that is cut several times mid-stream
/// and returns how often each payload number arrived at a directly connected subscriber.
async fn deliveries_across_cuts(qos: QoS, count: usize) -> Vec<usize> {
    let broker = Mosquitto::start().await;
    let proxy = Proxy::start(broker.addr()).await;
    let name = format!("cuts-{}", qos as u8);
    let (watcher, mut inbox) =
        Client::with_events(options(&broker.url(), &format!("{name}-watcher")).build().unwrap()).unwrap();
    watcher.connect().await.unwrap();
    watcher.subscribe(format!("{name}/#"), qos).await.unwrap();
    let (publisher, mut events) = Client::with_events(
        options(&proxy.url(), &format!("{name}-publisher"))
            .clean_start(false)
            .session_expiry_interval(300)
            .reconnect(fast_reconnect())
            .max_inflight(20)
            .build()
            .unwrap(),
    )
    .unwrap();
    publisher.connect().await.unwrap();
    // Four rounds: start a quarter of the stream, wait until its first messages are
    // acknowledged (the stream is flowing), then cut the connection under the rest.
    let round = count / 4;
    let mut tasks = Vec::with_capacity(count);
    for n in 0..count {
        let client = publisher.clone();
        let topic = format!("{name}/{n}");
        tasks.push(Some(tokio::spawn(async move {
            client
                .publish_with(topic, n.to_string(), PublishOptions::qos(qos).timeout(Duration::from_secs(30)))
                .await
        })));
        if (n + 1) % round == 0 {
            for task in &mut tasks[n + 1 - round..n + 6 - round] {
                assert!(task.take().unwrap().await.unwrap().unwrap().is_success());
            }
            proxy.cut();
        }
    }
    for task in tasks.into_iter().flatten() {
        assert!(task.await.unwrap().unwrap().is_success());
    }
    let mut losses = 0;
    while losses < 4 {
        if let Event::ConnectionLost(_) = expect_event(&mut events, "four connection losses", Some).await {
            losses += 1;
        }
    }
    // Every publication is acknowledged; the subscriber has them all once a final marker,
    // sent after them, arrives.
    publisher.publish(format!("{name}/end"), "end", qos).await.unwrap();
    let mut seen = vec![0; count];
    loop {
        let message = expect_message(&mut inbox).await;
        match message.payload_str().unwrap() {
            "end" => break,
            number => seen[number.parse::<usize>().unwrap()] += 1,
        }
    }
    publisher.shutdown().await.unwrap();
    watcher.shutdown().await.unwrap();
    seen
}

#[tokio::test]
async fn qos1_survives_connection_loss_at_least_once() {
    let seen = deliveries_across_cuts(QoS::AtLeastOnce, 200).await;
    assert!(
        seen.iter().all(|&n| n >= 1),
        "lost: {:?}",
        seen.iter().enumerate().filter(|(_, n)| **n == 0).collect::<Vec<_>>()
    );
}

#[tokio::test]
async fn qos2_survives_connection_loss_exactly_once() {
    let seen = deliveries_across_cuts(QoS::ExactlyOnce, 200).await;
    let wrong: Vec<(usize, usize)> = seen.iter().copied().enumerate().filter(|(_, n)| *n != 1).collect();
    assert!(wrong.is_empty(), "(payload, deliveries) not exactly once: {wrong:?}");
}

#[tokio::test]
async fn auto_subscribe_topics_are_subscribed_on_connect() {
    let broker = Mosquitto::start().await;
    let options = options(&broker.url(), "auto-sub")
        .auto_subscribe(Subscription::new("auto/#", QoS::AtLeastOnce))
        .build()
        .unwrap();
    let (client, mut events) = Client::with_events(options).unwrap();
    client.connect().await.unwrap();
    // The SUBACK of the automatic subscription precedes this ping's PINGRESP.
    client.ping().await.unwrap();
    let (sender, _) = Client::with_events(options_for(&broker, "auto-sender")).unwrap();
    sender.connect().await.unwrap();
    sender.publish("auto/x", "hi", QoS::AtLeastOnce).await.unwrap();
    assert_eq!(expect_message(&mut events).await.topic, "auto/x");
    client.shutdown().await.unwrap();
    sender.shutdown().await.unwrap();
}

fn options_for(broker: &Mosquitto, id: &str) -> ClientOptions {
    options(&broker.url(), id).build().unwrap()
}

#[tokio::test]
async fn sessionless_clients_do_not_resend_after_a_reconnect() {
    let broker = Mosquitto::start().await;
    let proxy = Proxy::start(broker.addr()).await;
    let options =
        options(&proxy.url(), "sessionless").sessionless(true).reconnect(fast_reconnect()).build().unwrap();
    let (client, mut events) = Client::with_events(options).unwrap();
    client.connect().await.unwrap();
    proxy.stall(true);
    let c = client.clone();
    let publish = tokio::spawn(async move { c.publish("sl/x", "y", QoS::ExactlyOnce).await });
    proxy.wait_swallowed(1).await;
    proxy.stall(false);
    proxy.cut();
    let cleared = expect_event(&mut events, "PendingOperationsCleared", |e| match e {
        Event::PendingOperationsCleared { count } => Some(count),
        _ => None,
    })
    .await;
    assert_eq!(cleared, 1);
    assert_eq!(publish.await.unwrap().unwrap_err().kind(), mqttkit::ErrorKind::ConnectionLost);
    client.shutdown().await.unwrap();
}
