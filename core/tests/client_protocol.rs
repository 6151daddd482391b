//! The client's protocol behaviour, checked packet by packet against a scripted server.
#![cfg(feature = "client")]

mod client_support;

use std::time::Duration;

use client_support::{FakeServer, expect_event, expect_message};
use mqttkit::client::{Client, ClientOptions, PublishOptions, ReconnectPolicy};
use mqttkit::dispatch::Event;
use mqttkit::protocol::{
    ConnAck, ConnAckProperties, Disconnect, Packet, PubAck, PubRel, Publish, QoS, ReasonCode,
};
use mqttkit::{Error, ErrorKind};

fn client(server: &FakeServer) -> mqttkit::client::ClientOptionsBuilder {
    ClientOptions::builder(server.url())
        .client_id("probe")
        .local_network_timeouts()
        .reconnect(ReconnectPolicy::disabled())
}

/// Connects `client` in the background, while the test plays the server.
fn spawn_connect(
    client: &Client,
) -> tokio::task::JoinHandle<mqttkit::Result<mqttkit::client::ConnectResult>> {
    let client = client.clone();
    tokio::spawn(async move { client.connect().await })
}

fn connack(properties: ConnAckProperties) -> ConnAck {
    ConnAck { properties, ..ConnAck::new(ReasonCode::Success, false) }
}

fn expect_publish(packet: Packet) -> Publish {
    match packet {
        Packet::Publish(publish) => publish,
        other => panic!("expected PUBLISH, got {other:?}"),
    }
}

#[tokio::test]
async fn mqtt_3_3_4_7_and_8_receive_maximum_caps_publications_not_other_packets() {
    let server = FakeServer::start().await;
    let (client, mut events) = Client::with_events(client(&server).build().unwrap()).unwrap();
    let connecting = spawn_connect(&client);
    let mut link = server
        .accept_with(connack(ConnAckProperties { receive_maximum: Some(2), ..Default::default() }))
        .await;
    connecting.await.unwrap().unwrap();
    for n in 0..5 {
        client.publish_nowait(format!("rm/{n}"), "x", QoS::AtLeastOnce).await.unwrap();
    }
    client.ping_nowait().await.unwrap();
    // Two publications, then the ping: the other three wait for a free slot.
    let first = expect_publish(link.recv().await);
    let second = expect_publish(link.recv().await);
    assert_eq!((first.topic.as_ref(), second.topic.as_ref()), ("rm/0", "rm/1"));
    assert_eq!(link.recv().await, Packet::PingReq);
    link.send(Packet::PubAck(PubAck::new(first.packet_id))).await;
    let third = expect_publish(link.recv().await);
    assert_eq!(third.topic, "rm/2");
    client.ping_nowait().await.unwrap();
    assert_eq!(link.recv().await, Packet::PingReq, "still only two in flight");
    for publish in [second, third] {
        link.send(Packet::PubAck(PubAck::new(publish.packet_id))).await;
    }
    let fourth = expect_publish(link.recv().await);
    let fifth = expect_publish(link.recv().await);
    assert_eq!((fourth.topic.as_ref(), fifth.topic.as_ref()), ("rm/3", "rm/4"));
    let mut acknowledged = 0;
    for publish in [fourth, fifth] {
        link.send(Packet::PubAck(PubAck::new(publish.packet_id))).await;
    }
    while acknowledged < 5 {
        if let Event::Published(result) = expect_event(&mut events, "Published", Some).await {
            assert!(result.is_success());
            acknowledged += 1;
        }
    }
}

#[tokio::test]
async fn mqtt_3_3_2_10_inbound_topic_aliases_are_resolved_and_bad_ones_refused() {
    let server = FakeServer::start().await;
    let (client, mut events) =
        Client::with_events(client(&server).topic_alias_maximum(4).build().unwrap()).unwrap();
    let connecting = spawn_connect(&client);
    let (mut link, connect) = server.accept().await;
    assert_eq!(connect.properties.topic_alias_maximum, Some(4));
    link.send(Packet::ConnAck(connack(Default::default()))).await;
    connecting.await.unwrap().unwrap();
    let mut first = Publish::new("alias/topic", "1", QoS::AtMostOnce);
    first.properties.topic_alias = Some(3);
    link.send(Packet::Publish(first)).await;
    let mut second = Publish::new("", "2", QoS::AtMostOnce);
    second.properties.topic_alias = Some(3);
    link.send(Packet::Publish(second)).await;
    for payload in ["1", "2"] {
        let message = expect_message(&mut events).await;
        assert_eq!((message.topic.as_ref(), &message.payload[..]), ("alias/topic", payload.as_bytes()));
        assert_eq!(message.properties.topic_alias, None);
    }
    let mut unknown = Publish::new("", "3", QoS::AtMostOnce);
    unknown.properties.topic_alias = Some(2);
    link.send(Packet::Publish(unknown)).await;
    // §3.3.4: an empty topic with an alias never mapped on this connection is a Protocol Error.
    match link.recv().await {
        Packet::Disconnect(disconnect) => assert_eq!(disconnect.reason_code, ReasonCode::ProtocolError),
        other => panic!("expected DISCONNECT, got {other:?}"),
    }
    let error = expect_event(&mut events, "ConnectionLost", |e| match e {
        Event::ConnectionLost(error) => Some(error),
        _ => None,
    })
    .await;
    assert_eq!(error.reason_code(), Some(ReasonCode::ProtocolError));
}

#[tokio::test]
async fn topic_alias_above_our_maximum_is_topic_alias_invalid() {
    let server = FakeServer::start().await;
    let (client, mut events) =
        Client::with_events(client(&server).topic_alias_maximum(2).build().unwrap()).unwrap();
    let connecting = spawn_connect(&client);
    let mut link = server.accept_with(connack(Default::default())).await;
    connecting.await.unwrap().unwrap();
    let mut publish = Publish::new("a", "x", QoS::AtMostOnce);
    publish.properties.topic_alias = Some(3);
    link.send(Packet::Publish(publish)).await;
    match link.recv().await {
        Packet::Disconnect(disconnect) => assert_eq!(disconnect.reason_code, ReasonCode::TopicAliasInvalid),
        other => panic!("expected DISCONNECT, got {other:?}"),
    }
    expect_event(&mut events, "ConnectionLost", |e| matches!(e, Event::ConnectionLost(_)).then_some(()))
        .await;
}

#[tokio::test]
async fn mqtt_3_3_2_9_outbound_topic_aliases_stay_within_the_servers_maximum() {
    let server = FakeServer::start().await;
    let options = client(&server).auto_topic_alias(true).build().unwrap();
    let (client, _events) = Client::with_events(options).unwrap();
    let connecting = spawn_connect(&client);
    let mut link = server
        .accept_with(connack(ConnAckProperties { topic_alias_maximum: Some(1), ..Default::default() }))
        .await;
    connecting.await.unwrap().unwrap();
    for topic in ["t/a", "t/a", "t/b", "t/a"] {
        client.publish_nowait(topic, "x", QoS::AtMostOnce).await.unwrap();
    }
    let first = expect_publish(link.recv().await);
    assert_eq!((first.topic.as_ref(), first.properties.topic_alias), ("t/a", Some(1)));
    let second = expect_publish(link.recv().await);
    assert_eq!((second.topic.as_ref(), second.properties.topic_alias), ("", Some(1)));
    let third = expect_publish(link.recv().await);
    assert_eq!((third.topic.as_ref(), third.properties.topic_alias), ("t/b", None), "no alias left for t/b");
    let fourth = expect_publish(link.recv().await);
    assert_eq!((fourth.topic.as_ref(), fourth.properties.topic_alias), ("", Some(1)));
}

#[tokio::test]
async fn server_limits_are_honoured_locally_with_clear_errors() {
    let server = FakeServer::start().await;
    let (client, _events) = Client::with_events(client(&server).build().unwrap()).unwrap();
    let connecting = spawn_connect(&client);
    let limits = ConnAckProperties {
        maximum_packet_size: Some(64),
        maximum_qos: Some(QoS::AtLeastOnce),
        retain_available: Some(false),
        ..Default::default()
    };
    let mut link = server.accept_with(connack(limits)).await;
    connecting.await.unwrap().unwrap();
    let error = client.publish("big", vec![0u8; 100], QoS::AtMostOnce).await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::InvalidArgument);
    assert!(error.to_string().contains("Maximum Packet Size"), "{error}");
    let error = client.publish("q2", "x", QoS::ExactlyOnce).await.unwrap_err();
    assert!(error.to_string().contains("Maximum QoS"), "{error}");
    let error =
        client.publish_with("r", "x", PublishOptions::qos(QoS::AtMostOnce).retain(true)).await.unwrap_err();
    assert!(error.to_string().contains("retain"), "{error}");
    // None of them reached the server: the next packet it sees is this ping.
    client.ping_nowait().await.unwrap();
    assert_eq!(link.recv().await, Packet::PingReq);
    // A QoS 1 publish within the limits is sized before its packet identifier exists.
    let publishing = tokio::spawn({
        let client = client.clone();
        async move { client.publish("small", "x", QoS::AtLeastOnce).await }
    });
    let publish = expect_publish(link.recv().await);
    link.send(Packet::PubAck(PubAck::new(publish.packet_id))).await;
    assert!(publishing.await.unwrap().unwrap().is_success());
}

#[tokio::test]
async fn inbound_qos2_is_delivered_exactly_once() {
    let server = FakeServer::start().await;
    let (client, mut events) = Client::with_events(client(&server).build().unwrap()).unwrap();
    let connecting = spawn_connect(&client);
    let mut link = server.accept_with(connack(Default::default())).await;
    connecting.await.unwrap().unwrap();
    let publish = Publish::new("q2/in", "once", QoS::ExactlyOnce).with_packet_id(7);
    link.send(Packet::Publish(publish.clone())).await;
    let mut again = publish;
    again.dup = true;
    link.send(Packet::Publish(again)).await;
    for _ in 0..2 {
        match link.recv().await {
            Packet::PubRec(rec) => assert_eq!(rec.packet_id, 7),
            other => panic!("expected PUBREC, got {other:?}"),
        }
    }
    link.send(Packet::PubRel(PubRel::new(7))).await;
    match link.recv().await {
        Packet::PubComp(comp) => assert_eq!(comp.packet_id, 7),
        other => panic!("expected PUBCOMP, got {other:?}"),
    }
    // After PUBREL the identifier is free: a new message with it is a new delivery.
    link.send(Packet::Publish(Publish::new("q2/in", "twice", QoS::ExactlyOnce).with_packet_id(7))).await;
    let first = expect_message(&mut events).await;
    let second = expect_message(&mut events).await;
    assert_eq!((&first.payload[..], &second.payload[..]), (&b"once"[..], &b"twice"[..]));
}

#[tokio::test]
async fn server_disconnect_reports_reason_and_server_reference() {
    let server = FakeServer::start().await;
    let (client, mut events) = Client::with_events(client(&server).build().unwrap()).unwrap();
    let connecting = spawn_connect(&client);
    let mut link = server.accept_with(connack(Default::default())).await;
    connecting.await.unwrap().unwrap();
    let mut disconnect = Disconnect::new(ReasonCode::ServerMoved);
    disconnect.properties.server_reference = Some("other.example:1883".into());
    disconnect.properties.reason_string = Some("maintenance".into());
    link.send(Packet::Disconnect(disconnect)).await;
    let info = expect_event(&mut events, "Disconnected", |e| match e {
        Event::Disconnected(info) => Some(info),
        _ => None,
    })
    .await;
    assert!(info.by_server);
    assert_eq!(info.reason_code, ReasonCode::ServerMoved);
    let error = expect_event(&mut events, "ConnectionLost", |e| match e {
        Event::ConnectionLost(error) => Some(error),
        _ => None,
    })
    .await;
    assert_eq!(error.reason_code(), Some(ReasonCode::ServerMoved));
    assert!(
        error.to_string().contains("other.example:1883") && error.to_string().contains("maintenance"),
        "{error}"
    );
    assert!(!client.is_connected());
}

#[tokio::test]
async fn a_malformed_packet_from_the_server_gets_disconnect_0x81() {
    let server = FakeServer::start().await;
    let (client, mut events) = Client::with_events(client(&server).build().unwrap()).unwrap();
    let connecting = spawn_connect(&client);
    let mut link = server.accept_with(connack(Default::default())).await;
    connecting.await.unwrap().unwrap();
    // PUBLISH with QoS 3 (MQTT-3.3.1-4).
    link.send_raw(&[0x36, 0x05, 0x00, 0x01, b'a', 0x00, 0x01]).await;
    match link.recv().await {
        Packet::Disconnect(disconnect) => assert_eq!(disconnect.reason_code, ReasonCode::MalformedPacket),
        other => panic!("expected DISCONNECT, got {other:?}"),
    }
    let error = expect_event(&mut events, "ConnectionLost", |e| match e {
        Event::ConnectionLost(error) => Some(error),
        _ => None,
    })
    .await;
    assert_eq!(error.kind(), ErrorKind::ProtocolViolation);
}

#[tokio::test]
async fn refused_connection_carries_the_reason_code() {
    let server = FakeServer::start().await;
    let (client, _events) = Client::with_events(client(&server).build().unwrap()).unwrap();
    let connecting = spawn_connect(&client);
    let mut refused = ConnAck::new(ReasonCode::BadUserNameOrPassword, false);
    refused.properties.reason_string = Some("who are you".into());
    let _link = server.accept_with(refused).await;
    let error = connecting.await.unwrap().unwrap_err();
    assert_eq!(
        error,
        Error::ConnectionRefused {
            reason_code: ReasonCode::BadUserNameOrPassword,
            reason_string: Some("who are you".into())
        }
    );
    assert!(error.is_auth_error() && error.is_fatal() && !error.is_recoverable());
}

#[tokio::test]
async fn server_keep_alive_overrides_ours() {
    let server = FakeServer::start().await;
    let options = client(&server).keep_alive(Duration::from_secs(600)).build().unwrap();
    let (client, _events) = Client::with_events(options).unwrap();
    let connecting = spawn_connect(&client);
    let started = tokio::time::Instant::now();
    let mut link = server
        .accept_with(connack(ConnAckProperties { server_keep_alive: Some(1), ..Default::default() }))
        .await;
    connecting.await.unwrap().unwrap();
    assert_eq!(link.recv().await, Packet::PingReq);
    assert!(started.elapsed() < Duration::from_secs(5), "PINGREQ follows the server's 1 s keep alive");
}

/// A toy challenge-response method: the server sends a nonce, the client answers
/// `nonce:secret`, the server's final data must be `welcome`.
struct Token {
    secret: &'static str,
}

struct TokenExchange {
    secret: &'static str,
}

impl mqttkit::client::Authenticator for Token {
    fn method(&self) -> &str {
        "TOKEN"
    }
    fn start(&self) -> Box<dyn mqttkit::client::AuthExchange> {
        Box::new(TokenExchange { secret: self.secret })
    }
}

impl mqttkit::client::AuthExchange for TokenExchange {
    fn initial_data(&mut self) -> Option<bytes::Bytes> {
        Some(bytes::Bytes::from_static(b"hello"))
    }
    fn respond(&mut self, challenge: Option<&[u8]>) -> Result<Option<bytes::Bytes>, String> {
        let nonce = std::str::from_utf8(challenge.ok_or("no challenge")?).map_err(|e| e.to_string())?;
        Ok(Some(format!("{nonce}:{}", self.secret).into()))
    }
    fn finish(&mut self, data: Option<&[u8]>) -> Result<(), String> {
        (data == Some(b"welcome")).then_some(()).ok_or_else(|| "the server did not say welcome".to_owned())
    }
}

fn auth(reason: ReasonCode, data: &str) -> Packet {
    Packet::Auth(mqttkit::protocol::Auth::new(reason, "TOKEN", Some(bytes::Bytes::from(data.to_owned()))))
}

fn auth_data(packet: Packet) -> (ReasonCode, String) {
    match packet {
        Packet::Auth(auth) => {
            assert_eq!(auth.properties.authentication_method.as_deref(), Some("TOKEN"));
            let data = auth.properties.authentication_data.map(|d| String::from_utf8(d.to_vec()).unwrap());
            (auth.reason_code, data.unwrap_or_default())
        }
        other => panic!("expected AUTH, got {other:?}"),
    }
}

#[tokio::test]
async fn enhanced_authentication_at_connect_and_re_authentication() {
    let server = FakeServer::start().await;
    let options = client(&server).authenticator(Token { secret: "s3cret" }).build().unwrap();
    let (client, _events) = Client::with_events(options).unwrap();
    let connecting = spawn_connect(&client);
    let (mut link, connect) = server.accept().await;
    assert_eq!(connect.properties.authentication_method.as_deref(), Some("TOKEN"));
    assert_eq!(connect.properties.authentication_data.as_deref(), Some(&b"hello"[..]));
    link.send(auth(ReasonCode::ContinueAuthentication, "n1")).await;
    assert_eq!(auth_data(link.recv().await), (ReasonCode::ContinueAuthentication, "n1:s3cret".to_owned()));
    let mut accepted = ConnAck::new(ReasonCode::Success, false);
    accepted.properties.authentication_method = Some("TOKEN".into());
    accepted.properties.authentication_data = Some(bytes::Bytes::from_static(b"welcome"));
    link.send(Packet::ConnAck(accepted)).await;
    connecting.await.unwrap().unwrap();

    // Re-authentication (§4.12.1, MQTT-4.12.1-1: same method): AUTH 0x19, challenges, Success.
    let again = tokio::spawn({
        let client = client.clone();
        async move { client.re_authenticate().await }
    });
    assert_eq!(auth_data(link.recv().await), (ReasonCode::ReAuthenticate, "hello".to_owned()));
    link.send(auth(ReasonCode::ContinueAuthentication, "n2")).await;
    assert_eq!(auth_data(link.recv().await), (ReasonCode::ContinueAuthentication, "n2:s3cret".to_owned()));
    link.send(auth(ReasonCode::Success, "welcome")).await;
    let result = again.await.unwrap().unwrap();
    assert_eq!(result.reason_code, ReasonCode::Success);

    // A server whose final data does not check out is not trusted.
    let doubt = tokio::spawn({
        let client = client.clone();
        async move { client.re_authenticate().await }
    });
    auth_data(link.recv().await);
    link.send(auth(ReasonCode::Success, "who knows")).await;
    let error = doubt.await.unwrap().unwrap_err();
    assert_eq!(error.kind(), ErrorKind::AuthFailed);
    assert!(error.is_auth_error(), "{error}");
}

#[tokio::test]
async fn a_server_failing_verification_at_connect_is_refused() {
    let server = FakeServer::start().await;
    let options = client(&server).authenticator(Token { secret: "s" }).build().unwrap();
    let (client, _events) = Client::with_events(options).unwrap();
    let connecting = spawn_connect(&client);
    let (mut link, _) = server.accept().await;
    let mut accepted = ConnAck::new(ReasonCode::Success, false);
    accepted.properties.authentication_method = Some("TOKEN".into());
    accepted.properties.authentication_data = Some(bytes::Bytes::from_static(b"impostor"));
    link.send(Packet::ConnAck(accepted)).await;
    let error = connecting.await.unwrap().unwrap_err();
    assert_eq!(error.kind(), ErrorKind::AuthFailed);
    assert!(!client.is_connected());
}

#[tokio::test]
async fn a_slow_event_consumer_slows_the_server_down_instead_of_growing_memory() {
    let server = FakeServer::start().await;
    let (client, mut events) = Client::with_events(client(&server).build().unwrap()).unwrap();
    let connecting = spawn_connect(&client);
    let mut link = server.accept_with(connack(Default::default())).await;
    connecting.await.unwrap().unwrap();
    // 64 MiB of messages: far more than every queue and socket buffer on the way hold.
    let payload = bytes::Bytes::from(vec![b'p'; 16 * 1024]);
    let messages = 4096;
    let mut wire = bytes::BytesMut::new();
    for _ in 0..messages {
        Packet::Publish(Publish::new("flood", payload.clone(), QoS::AtMostOnce))
            .encode(mqttkit::protocol::ProtocolVersion::V5, &mut wire)
            .unwrap();
    }
    let flood = tokio::spawn(async move {
        link.send_raw(&wire).await;
        link
    });
    // Nobody reads events: the client stops reading its socket and the server's write stalls.
    let stalled = tokio::time::timeout(Duration::from_millis(500), async {
        while !flood.is_finished() {
            tokio::task::yield_now().await;
        }
    })
    .await;
    assert!(stalled.is_err(), "the whole flood was accepted without anyone reading events");
    // Reading the events lets everything through, in order, nothing dropped.
    for _ in 0..messages {
        let message = expect_message(&mut events).await;
        assert_eq!(message.payload.len(), payload.len());
    }
    let _link = flood.await.unwrap();
}

#[tokio::test]
async fn our_receive_maximum_is_enforced_with_disconnect_0x93() {
    let server = FakeServer::start().await;
    let options = client(&server).receive_maximum(2).auto_ack(false).build().unwrap();
    let (client, mut events) = Client::with_events(options).unwrap();
    let connecting = spawn_connect(&client);
    let (mut link, connect) = server.accept().await;
    assert_eq!(connect.properties.receive_maximum, Some(2));
    link.send(Packet::ConnAck(connack(Default::default()))).await;
    connecting.await.unwrap().unwrap();
    for id in 1..=3 {
        link.send(Packet::Publish(Publish::new("rm/in", "x", QoS::AtLeastOnce).with_packet_id(id))).await;
    }
    // Two messages are delivered (and not acknowledged); the third breaks the limit.
    for _ in 0..2 {
        expect_message(&mut events).await;
    }
    match link.recv().await {
        Packet::Disconnect(disconnect) => {
            assert_eq!(disconnect.reason_code, ReasonCode::ReceiveMaximumExceeded)
        }
        other => panic!("expected DISCONNECT 0x93, got {other:?}"),
    }
}

#[tokio::test]
async fn packet_identifiers_are_unique_while_in_flight() {
    let server = FakeServer::start().await;
    let (client, _events) = Client::with_events(client(&server).build().unwrap()).unwrap();
    let connecting = spawn_connect(&client);
    let mut link = server.accept_with(connack(Default::default())).await;
    connecting.await.unwrap().unwrap();
    for n in 0..300 {
        let qos = if n % 2 == 0 { QoS::AtLeastOnce } else { QoS::ExactlyOnce };
        client.publish_nowait(format!("ids/{n}"), "x", qos).await.unwrap();
    }
    client.subscribe_nowait("ids/#", QoS::AtMostOnce).await.unwrap();
    let mut ids = std::collections::HashSet::new();
    for _ in 0..301 {
        let id = match link.recv().await {
            Packet::Publish(publish) => publish.packet_id,
            Packet::Subscribe(subscribe) => subscribe.packet_id,
            other => panic!("unexpected {other:?}"),
        };
        assert!(id != 0 && ids.insert(id), "packet identifier {id} reused while in flight (MQTT-2.2.1-3)");
    }
}

#[tokio::test]
async fn manual_re_authentication_answers_each_step() {
    let server = FakeServer::start().await;
    let (client, mut events) = Client::with_events(client(&server).build().unwrap()).unwrap();
    let connecting = spawn_connect(&client);
    let mut link = server.accept_with(connack(Default::default())).await;
    connecting.await.unwrap().unwrap();
    let first = tokio::spawn({
        let client = client.clone();
        async move { client.re_authenticate_with("TOKEN", Some(bytes::Bytes::from_static(b"hello"))).await }
    });
    assert_eq!(auth_data(link.recv().await), (ReasonCode::ReAuthenticate, "hello".to_owned()));
    link.send(auth(ReasonCode::ContinueAuthentication, "n1")).await;
    // The waiting call resolves with the server's Continue, which is also an event.
    assert_eq!(first.await.unwrap().unwrap().reason_code, ReasonCode::ContinueAuthentication);
    expect_event(&mut events, "AuthReceived", |e| matches!(e, Event::AuthReceived(_)).then_some(())).await;
    let second = tokio::spawn({
        let client = client.clone();
        async move { client.auth_continue("TOKEN", Some(bytes::Bytes::from_static(b"n1:secret"))).await }
    });
    assert_eq!(auth_data(link.recv().await), (ReasonCode::ContinueAuthentication, "n1:secret".to_owned()));
    link.send(auth(ReasonCode::Success, "")).await;
    assert_eq!(second.await.unwrap().unwrap().reason_code, ReasonCode::Success);
}

fn reconnecting(server: &FakeServer) -> mqttkit::client::ClientOptionsBuilder {
    client(server).session_expiry_interval(300).reconnect(ReconnectPolicy {
        initial_delay: Duration::from_millis(10),
        max_delay: Duration::from_millis(50),
        ..ReconnectPolicy::default()
    })
}

fn resumed() -> ConnAck {
    ConnAck::new(ReasonCode::Success, true)
}

/// A reconnecting client, connected, subscribed to `filter` with Subscription Identifier
/// `id` (the scripted server granting it); returns the client and the server's link.
async fn connected_with_subscription(
    server: &FakeServer,
    filter: &'static str,
    id: u32,
) -> (Client, client_support::FakeConnection, mqttkit::dispatch::EventStream) {
    let (client, events) = Client::with_events(reconnecting(server).build().unwrap()).unwrap();
    let connecting = spawn_connect(&client);
    let mut link = server.accept_with(connack(Default::default())).await;
    connecting.await.unwrap().unwrap();
    let subscribing = {
        let client = client.clone();
        tokio::spawn(async move {
            let options = mqttkit::client::SubscribeOptions::default().subscription_identifier(id);
            client
                .subscribe_with(vec![mqttkit::protocol::Subscription::new(filter, QoS::AtLeastOnce)], options)
                .await
        })
    };
    let Packet::Subscribe(subscribe) = link.recv().await else { panic!("expected SUBSCRIBE") };
    let granted = mqttkit::protocol::SubAck::new(subscribe.packet_id, vec![ReasonCode::GrantedQos1]);
    link.send(Packet::SubAck(granted)).await;
    subscribing.await.unwrap().unwrap();
    (client, link, events)
}

/// Manual acknowledgement of a QoS 2 message across a reconnect: the server resends the
/// PUBLISH on the new connection (MQTT-4.4.0-1); the application's acknowledgement, made
/// for the delivery on the first connection, sends PUBREC on the new one, and frees its
/// place in our Receive Maximum.
#[tokio::test]
async fn a_manual_qos2_acknowledgement_counts_after_a_reconnect() {
    let server = FakeServer::start().await;
    let options = reconnecting(&server).auto_ack(false).receive_maximum(1).build().unwrap();
    let (client, mut events) = Client::with_events(options).unwrap();
    let connecting = spawn_connect(&client);
    let mut link = server.accept_with(connack(Default::default())).await;
    connecting.await.unwrap().unwrap();
    let publish = Publish::new("q2/manual", "once", QoS::ExactlyOnce).with_packet_id(5);
    link.send(Packet::Publish(publish.clone())).await;
    let message = expect_message(&mut events).await;
    drop(link); // the connection is lost before the application is done

    let (mut link, connect) = server.accept().await;
    assert!(!connect.clean_start);
    link.send(Packet::ConnAck(resumed())).await;
    let mut again = publish;
    again.dup = true;
    link.send(Packet::Publish(again)).await;
    message.ack().unwrap();
    match link.recv().await {
        Packet::PubRec(rec) => assert_eq!(rec.packet_id, 5),
        other => panic!("expected PUBREC, got {other:?}"),
    }
    link.send(Packet::PubRel(PubRel::new(5))).await;
    assert!(matches!(link.recv().await, Packet::PubComp(comp) if comp.packet_id == 5));
    // Its place in our Receive Maximum (1) is free: the next message is taken.
    link.send(Packet::Publish(Publish::new("q2/manual", "next", QoS::ExactlyOnce).with_packet_id(6))).await;
    assert_eq!(&expect_message(&mut events).await.payload[..], b"next");
    client.shutdown().await.unwrap();
}

/// After a reconnect without a session, the subscriptions come back with their
/// Subscription Identifiers, then the (un)subscribe requests that were never answered, in
/// the order they were made: a subscribe and an unsubscribe of one filter end unsubscribed.
#[tokio::test]
async fn a_lost_session_is_restored_in_order_with_subscription_identifiers() {
    let server = FakeServer::start().await;
    let (client, mut link, _events) = connected_with_subscription(&server, "tagged/#", 7).await;
    client.subscribe_nowait("plain", QoS::AtMostOnce).await.unwrap();
    client.unsubscribe_nowait("plain").await.unwrap();
    assert!(matches!(link.recv().await, Packet::Subscribe(_)));
    assert!(matches!(link.recv().await, Packet::Unsubscribe(_)));
    drop(link); // both unanswered

    let (mut link, _) = server.accept().await;
    link.send(Packet::ConnAck(ConnAck::new(ReasonCode::Success, false))).await;
    match link.recv().await {
        Packet::Subscribe(restore) => {
            assert_eq!(restore.properties.subscription_identifier, Some(7));
            assert_eq!(&*restore.subscriptions[0].filter, "tagged/#");
        }
        other => panic!("expected the restoring SUBSCRIBE, got {other:?}"),
    }
    match link.recv().await {
        Packet::Subscribe(again) => assert_eq!(&*again.subscriptions[0].filter, "plain"),
        other => panic!("expected SUBSCRIBE plain, got {other:?}"),
    }
    match link.recv().await {
        Packet::Unsubscribe(again) => assert_eq!(&*again.filters[0], "plain"),
        other => panic!("expected UNSUBSCRIBE plain, got {other:?}"),
    }
    client.shutdown().await.unwrap();
}

/// A ping timeout of `NO_TIMEOUT` waits for PINGRESP as long as it takes (it used to
/// overflow the deadline and stop the connection task).
#[tokio::test]
async fn a_ping_timeout_of_no_timeout_is_accepted() {
    let server = FakeServer::start().await;
    let timeouts =
        mqttkit::client::Timeouts { ping: Some(mqttkit::client::NO_TIMEOUT), ..Default::default() };
    let options = client(&server).keep_alive(Duration::from_secs(1)).timeouts(timeouts).build().unwrap();
    let (client, _events) = Client::with_events(options).unwrap();
    let connecting = spawn_connect(&client);
    let mut link = server.accept_with(connack(Default::default())).await;
    connecting.await.unwrap().unwrap();
    assert!(matches!(link.recv().await, Packet::PingReq), "keep-alive PINGREQ");
    link.send(Packet::PingResp).await;
    assert!(matches!(link.recv().await, Packet::PingReq), "the next one: the connection task lives");
    assert!(client.is_connected());
    client.shutdown().await.unwrap();
}

/// Events still waiting for a slow sink when the client goes idle keep moving: after a
/// `disconnect()` during a flood, the application reads every message already taken from
/// the socket, then the Disconnected event (it used to wait for the next connect).
#[tokio::test]
async fn events_waiting_for_a_slow_sink_are_delivered_after_a_disconnect() {
    let server = FakeServer::start().await;
    let (client, mut events) = Client::with_events(client(&server).build().unwrap()).unwrap();
    let connecting = spawn_connect(&client);
    let mut link = server.accept_with(connack(Default::default())).await;
    connecting.await.unwrap().unwrap();
    let payload = bytes::Bytes::from(vec![b'p'; 16 * 1024]);
    let mut wire = bytes::BytesMut::new();
    for _ in 0..4096 {
        Packet::Publish(Publish::new("flood", payload.clone(), QoS::AtMostOnce))
            .encode(mqttkit::protocol::ProtocolVersion::V5, &mut wire)
            .unwrap();
    }
    let flood = tokio::spawn(async move {
        link.send_raw(&wire).await;
        link
    });
    // The first message is through: the client reads, and soon waits for the sink.
    assert_eq!(expect_message(&mut events).await.payload.len(), payload.len());
    client.disconnect().await.unwrap();
    let mut messages = 1;
    expect_event(&mut events, "Disconnected after the messages", |event| match event {
        Event::Message(_) => {
            messages += 1;
            None
        }
        Event::Disconnected(info) => Some(info),
        _ => None,
    })
    .await;
    assert!(messages > 1, "the messages read before the disconnect arrive first");
    flood.abort();
}

/// A client with an empty identifier and a session to keep resumes the session under the
/// identifier the server assigned (an empty one would get a new session each time).
#[tokio::test]
async fn a_server_assigned_client_id_is_used_to_resume_the_session() {
    let server = FakeServer::start().await;
    let options = reconnecting(&server).client_id("").build().unwrap();
    let (client, _events) = Client::with_events(options).unwrap();
    let connecting = spawn_connect(&client);
    let (mut link, connect) = server.accept().await;
    assert!(connect.client_id.is_empty());
    let properties =
        ConnAckProperties { assigned_client_identifier: Some("given-42".into()), ..Default::default() };
    link.send(Packet::ConnAck(connack(properties))).await;
    let connected = connecting.await.unwrap().unwrap();
    assert_eq!(connected.assigned_client_id.as_deref(), Some("given-42"));
    drop(link);
    let (mut link, connect) = server.accept().await;
    assert_eq!((&*connect.client_id, connect.clean_start), ("given-42", false));
    link.send(Packet::ConnAck(resumed())).await;
    client.shutdown().await.unwrap();
}

/// An argument only the encoder refuses (here a U+0000 in a SUBSCRIBE user property) fails
/// that call with InvalidArgument; the connection stays up.
#[tokio::test]
async fn a_request_the_encoder_refuses_fails_alone() {
    let server = FakeServer::start().await;
    let (client, _events) = Client::with_events(client(&server).build().unwrap()).unwrap();
    let connecting = spawn_connect(&client);
    let mut link = server.accept_with(connack(Default::default())).await;
    connecting.await.unwrap().unwrap();
    let options = mqttkit::client::SubscribeOptions {
        user_properties: vec![("k".into(), "nul\0inside".into())],
        ..Default::default()
    };
    let refused = client
        .subscribe_with(vec![mqttkit::protocol::Subscription::new("t", QoS::AtMostOnce)], options)
        .await;
    assert!(matches!(refused, Err(Error::InvalidArgument(_))), "{refused:?}");
    let pinging = {
        let client = client.clone();
        tokio::spawn(async move { client.ping().await })
    };
    assert!(matches!(link.recv().await, Packet::PingReq), "nothing else was sent");
    link.send(Packet::PingResp).await;
    pinging.await.unwrap().unwrap();
    assert!(client.is_connected());
    client.shutdown().await.unwrap();
}

/// Topic aliases the application chooses: an alias-only publication is resolved on this
/// connection and kept with its topic, so that its resend on the next connection (where no
/// alias exists, MQTT-3.3.2-7) carries the topic again; an alias never set up, or one given
/// while aliases are automatic, is refused.
#[tokio::test]
async fn chosen_topic_aliases_survive_a_reconnect_and_unknown_ones_are_refused() {
    let server = FakeServer::start().await;
    let (client, _events) = Client::with_events(reconnecting(&server).build().unwrap()).unwrap();
    let connecting = spawn_connect(&client);
    let aliases = ConnAckProperties { topic_alias_maximum: Some(5), ..Default::default() };
    let mut link = server.accept_with(connack(aliases.clone())).await;
    connecting.await.unwrap().unwrap();
    let aliased = PublishOptions::qos(QoS::AtLeastOnce).topic_alias(1);
    client.publish_with_nowait("a/long/topic", "one", aliased.clone()).await.unwrap();
    client.publish_with_nowait("", "two", aliased.clone()).await.unwrap();
    let first = expect_publish(link.recv().await);
    let second = expect_publish(link.recv().await);
    assert_eq!((&*first.topic, first.properties.topic_alias), ("a/long/topic", Some(1)));
    assert_eq!((&*second.topic, second.properties.topic_alias), ("", Some(1)));
    let unknown =
        client.publish_with("", "three", PublishOptions::qos(QoS::AtLeastOnce).topic_alias(2)).await;
    assert!(matches!(unknown, Err(Error::InvalidArgument(_))), "{unknown:?}");
    drop(link);

    let (mut link, _) = server.accept().await;
    link.send(Packet::ConnAck(ConnAck { properties: aliases, ..resumed() })).await;
    for payload in ["one", "two"] {
        let again = expect_publish(link.recv().await);
        assert!(again.dup);
        assert_eq!((&*again.topic, &again.payload[..]), ("a/long/topic", payload.as_bytes()));
    }
    client.shutdown().await.unwrap();

    let automatic = reconnecting(&server).auto_topic_alias(true).build().unwrap();
    let (client, _events) = Client::with_events(automatic).unwrap();
    let connecting = spawn_connect(&client);
    let _link = server
        .accept_with(connack(ConnAckProperties { topic_alias_maximum: Some(5), ..Default::default() }))
        .await;
    connecting.await.unwrap().unwrap();
    let chosen = client.publish_with("t", "x", PublishOptions::qos(QoS::AtMostOnce).topic_alias(3)).await;
    assert!(matches!(chosen, Err(Error::InvalidArgument(_))), "{chosen:?}");
    client.shutdown().await.unwrap();
}

/// A publication restarted after the server lost the session goes out before the ones made
/// while the client was offline (message order, MQTT 5.0 §4.6).
#[tokio::test]
async fn publications_restarted_after_a_lost_session_keep_their_order() {
    let server = FakeServer::start().await;
    let options = client(&server)
        .reconnect(ReconnectPolicy { initial_delay: Duration::from_millis(10), ..ReconnectPolicy::default() })
        .build()
        .unwrap();
    let (client, mut events) = Client::with_events(options).unwrap();
    let connecting = spawn_connect(&client);
    let mut link = server.accept_with(connack(Default::default())).await;
    connecting.await.unwrap().unwrap();
    client.publish_with_nowait("order", "first", PublishOptions::qos(QoS::AtLeastOnce)).await.unwrap();
    assert_eq!(&expect_publish(link.recv().await).payload[..], b"first");
    drop(link);
    expect_event(&mut events, "the connection loss", |event| {
        matches!(event, Event::ConnectionLost(_)).then_some(())
    })
    .await;
    client.publish_with_nowait("order", "second", PublishOptions::qos(QoS::AtLeastOnce)).await.unwrap();
    let mut link = server.accept_with(connack(Default::default())).await;
    for payload in ["first", "second"] {
        let publish = expect_publish(link.recv().await);
        assert_eq!(&publish.payload[..], payload.as_bytes());
        link.send(Packet::PubAck(PubAck::new(publish.packet_id))).await;
    }
    client.shutdown().await.unwrap();
}

/// An alias set up by a publication still waiting for the server's Receive Maximum can be
/// used at once: the alias-only publication is accepted, and goes out without its topic
/// once the one setting the alias up has gone out.
#[tokio::test]
async fn an_alias_set_up_by_a_waiting_publication_can_be_used() {
    let server = FakeServer::start().await;
    let (client, _events) = Client::with_events(client(&server).build().unwrap()).unwrap();
    let connecting = spawn_connect(&client);
    let limits =
        ConnAckProperties { receive_maximum: Some(1), topic_alias_maximum: Some(5), ..Default::default() };
    let mut link = server.accept_with(connack(limits)).await;
    connecting.await.unwrap().unwrap();
    let qos1 = PublishOptions::qos(QoS::AtLeastOnce);
    client.publish_with_nowait("first", "1", qos1.clone()).await.unwrap();
    client.publish_with_nowait("aliased/topic", "2", qos1.clone().topic_alias(1)).await.unwrap();
    let third = {
        let client = client.clone();
        let options = qos1.clone().topic_alias(1);
        tokio::spawn(async move { client.publish_with("", "3", options).await })
    };
    for (topic, payload) in [("first", "1"), ("aliased/topic", "2"), ("", "3")] {
        let publish = expect_publish(link.recv().await);
        assert_eq!((&*publish.topic, &publish.payload[..]), (topic, payload.as_bytes()));
        link.send(Packet::PubAck(PubAck::new(publish.packet_id))).await;
    }
    third.await.unwrap().unwrap();
    client.shutdown().await.unwrap();
}

/// A ping timeout longer than the keep-alive: while the first PINGREQ is unanswered,
/// another goes out a keep-alive later, so that the client stays within its Keep Alive
/// (MQTT-3.1.2-20).
#[tokio::test]
async fn pingreqs_keep_coming_while_a_long_ping_timeout_runs() {
    let server = FakeServer::start().await;
    let timeouts = mqttkit::client::Timeouts { ping: Some(Duration::from_secs(30)), ..Default::default() };
    let options = client(&server).keep_alive(Duration::from_secs(1)).timeouts(timeouts).build().unwrap();
    let (client, _events) = Client::with_events(options).unwrap();
    let connecting = spawn_connect(&client);
    let mut link = server.accept_with(connack(Default::default())).await;
    connecting.await.unwrap().unwrap();
    assert!(matches!(link.recv().await, Packet::PingReq));
    // Not answered: the next one comes all the same.
    assert!(matches!(link.recv().await, Packet::PingReq));
    link.send(Packet::PingResp).await;
    link.send(Packet::PingResp).await;
    assert!(matches!(link.recv().await, Packet::PingReq), "keep-alive goes on");
    client.shutdown().await.unwrap();
}

/// A server that announces no Subscription Identifiers gets the restoring SUBSCRIBE without
/// them (it would refuse it otherwise).
#[tokio::test]
async fn restoring_to_a_server_without_subscription_identifiers_leaves_them_out() {
    let server = FakeServer::start().await;
    let (client, link, _events) = connected_with_subscription(&server, "ids/#", 9).await;
    drop(link);
    let (mut link, _) = server.accept().await;
    let without = ConnAckProperties { subscription_identifiers_available: Some(false), ..Default::default() };
    link.send(Packet::ConnAck(connack(without))).await;
    match link.recv().await {
        Packet::Subscribe(restore) => {
            assert_eq!(&*restore.subscriptions[0].filter, "ids/#");
            assert_eq!(restore.properties.subscription_identifier, None);
        }
        other => panic!("expected the restoring SUBSCRIBE, got {other:?}"),
    }
    client.shutdown().await.unwrap();
}
