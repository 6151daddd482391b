//! Broker: user name / password through the in-config user list, enhanced authentication
//! with SCRAM-SHA-256 (the AUTH exchange) and re-authentication, custom authenticators.
#![cfg(all(feature = "broker", feature = "protocol-testing"))]

mod support;

use mqttkit::broker::{
    AuthConfig, AuthDecision, AuthFuture, Authenticator, BrokerConfig, Credentials, SCRAM_SHA_256,
    ScramClient, UserConfig,
};
use mqttkit::protocol::{Auth, Connect, ConnectProperties, Packet, ProtocolVersion, ReasonCode};
use support::{TestClient, start_broker_with};

fn users_only() -> BrokerConfig {
    BrokerConfig {
        auth: AuthConfig {
            allow_anonymous: false,
            users: vec![
                UserConfig { username: "alice".into(), password: "wonder".into() },
                UserConfig { username: "bob".into(), password: "builder".into() },
            ],
            ..Default::default()
        },
        ..Default::default()
    }
}

fn with_login(id: &str, user: Option<&str>, password: Option<&str>, version: ProtocolVersion) -> Connect {
    Connect {
        protocol_version: version,
        username: user.map(Into::into),
        password: password.map(|p| p.as_bytes().to_vec().into()),
        ..Connect::new(id)
    }
}

#[tokio::test]
async fn user_list_accepts_good_and_refuses_bad_credentials() {
    let broker = start_broker_with(users_only()).await;
    let addr = broker.local_addr();
    for version in [ProtocolVersion::V5, ProtocolVersion::V311] {
        let good = with_login("a", Some("alice"), Some("wonder"), version);
        assert_eq!(TestClient::connect_with(addr, good).await.1.reason_code, ReasonCode::Success);
        let bad = with_login("b", Some("alice"), Some("nope"), version);
        assert_eq!(
            TestClient::connect_with(addr, bad).await.1.reason_code,
            ReasonCode::BadUserNameOrPassword
        );
        let anonymous = with_login("c", None, None, version);
        assert_eq!(TestClient::connect_with(addr, anonymous).await.1.reason_code, ReasonCode::NotAuthorized);
    }
    broker.shutdown().await;
}

fn scram_connect(id: &str, client: &ScramClient) -> Connect {
    Connect {
        properties: ConnectProperties {
            authentication_method: Some(SCRAM_SHA_256.into()),
            authentication_data: Some(client.first()),
            ..Default::default()
        },
        ..Connect::new(id)
    }
}

/// Connects as `client_id` over MQTT 5 with SCRAM-SHA-256 (`scram` holding the user's
/// credentials) and runs the exchange; the client and the server's last answer.
async fn scram_login(
    addr: std::net::SocketAddr,
    client_id: &str,
    scram: &mut ScramClient,
) -> (TestClient, Packet) {
    let mut raw = mqttkit::testing::RawTestClient::connect(addr).await.unwrap();
    raw.set_protocol_version(ProtocolVersion::V5);
    let mut client = TestClient::from_raw(raw, ProtocolVersion::V5);
    client.send(Packet::Connect(Box::new(scram_connect(client_id, scram)))).await;
    let answer = finish_scram(&mut client, scram).await;
    (client, answer)
}

/// Runs the SCRAM exchange after CONNECT / AUTH 0x19 was sent; returns the final server data.
async fn finish_scram(client: &mut TestClient, scram: &mut ScramClient) -> Packet {
    let challenge = match client.recv().await {
        Packet::Auth(auth) => {
            assert_eq!(auth.reason_code, ReasonCode::ContinueAuthentication);
            auth.properties.authentication_data.expect("server-first message")
        }
        other => panic!("expected AUTH, got {other:?}"),
    };
    let response = scram.respond(&challenge).expect("valid challenge");
    client
        .send(Packet::Auth(Auth::new(ReasonCode::ContinueAuthentication, SCRAM_SHA_256, Some(response))))
        .await;
    client.recv().await
}

#[tokio::test]
async fn scram_sha_256_enhanced_authentication_and_reauthentication() {
    let broker = start_broker_with(users_only()).await;
    let addr = broker.local_addr();
    let mut scram = ScramClient::new("alice", "wonder");
    let (mut client, answer) = scram_login(addr, "scram", &mut scram).await;
    match answer {
        Packet::ConnAck(connack) => {
            assert_eq!(connack.reason_code, ReasonCode::Success);
            assert_eq!(connack.properties.authentication_method.as_deref(), Some(SCRAM_SHA_256));
            assert!(scram.verify(&connack.properties.authentication_data.expect("server-final")));
        }
        other => panic!("expected CONNACK, got {other:?}"),
    }
    // Re-authentication (MQTT 5.0 §4.12.1).
    let mut again = ScramClient::new("alice", "wonder");
    client
        .send(Packet::Auth(Auth::new(ReasonCode::ReAuthenticate, SCRAM_SHA_256, Some(again.first()))))
        .await;
    match finish_scram(&mut client, &mut again).await {
        Packet::Auth(auth) => {
            assert_eq!(auth.reason_code, ReasonCode::Success);
            assert!(again.verify(&auth.properties.authentication_data.expect("server-final")));
        }
        other => panic!("expected AUTH success, got {other:?}"),
    }
    client.ping().await;
    // A failed re-authentication closes the connection.
    let mut wrong = ScramClient::new("alice", "guess");
    client
        .send(Packet::Auth(Auth::new(ReasonCode::ReAuthenticate, SCRAM_SHA_256, Some(wrong.first()))))
        .await;
    let _ = finish_scram_until_close(&mut client, &mut wrong).await;
    broker.shutdown().await;
}

/// Re-authentication proves the connection's identity again: a client signed in as alice
/// cannot become bob by re-authenticating with bob's (valid) credentials.
#[tokio::test]
async fn reauthentication_as_another_user_closes_the_connection() {
    let broker = start_broker_with(users_only()).await;
    let mut scram = ScramClient::new("alice", "wonder");
    let (mut client, answer) = scram_login(broker.local_addr(), "switch", &mut scram).await;
    match answer {
        Packet::ConnAck(connack) => assert_eq!(connack.reason_code, ReasonCode::Success),
        other => panic!("expected CONNACK, got {other:?}"),
    }
    let mut bob = ScramClient::new("bob", "builder");
    client.send(Packet::Auth(Auth::new(ReasonCode::ReAuthenticate, SCRAM_SHA_256, Some(bob.first())))).await;
    let _ = finish_scram_until_close(&mut client, &mut bob).await;
    broker.shutdown().await;
}

async fn finish_scram_until_close(client: &mut TestClient, scram: &mut ScramClient) -> Option<ReasonCode> {
    let challenge = match client.recv().await {
        Packet::Auth(auth) => auth.properties.authentication_data.expect("challenge"),
        other => panic!("expected AUTH, got {other:?}"),
    };
    let response = scram.respond(&challenge).expect("valid challenge");
    client
        .send(Packet::Auth(Auth::new(ReasonCode::ContinueAuthentication, SCRAM_SHA_256, Some(response))))
        .await;
    let reason = client.expect_closed().await;
    assert_eq!(reason, Some(ReasonCode::NotAuthorized));
    reason
}

#[tokio::test]
async fn scram_with_a_wrong_password_is_refused() {
    let broker = start_broker_with(users_only()).await;
    let mut scram = ScramClient::new("alice", "wrong");
    match scram_login(broker.local_addr(), "x", &mut scram).await.1 {
        Packet::ConnAck(connack) => assert_eq!(connack.reason_code, ReasonCode::NotAuthorized),
        other => panic!("expected CONNACK, got {other:?}"),
    }
    broker.shutdown().await;
}

#[tokio::test]
async fn unknown_authentication_method_is_0x8c() {
    let broker = start_broker_with(users_only()).await;
    let mut connect = Connect::new("m");
    connect.properties.authentication_method = Some("KERBEROS".into());
    let (_client, connack) = TestClient::connect_with(broker.local_addr(), connect).await;
    assert_eq!(connack.reason_code, ReasonCode::BadAuthenticationMethod);
    broker.shutdown().await;
}

struct OnlyDevices;

impl Authenticator for OnlyDevices {
    fn check<'a>(&'a self, credentials: Credentials<'a>) -> AuthFuture<'a, AuthDecision> {
        Box::pin(async move {
            tokio::task::yield_now().await; // authenticators may do I/O
            if credentials.client_id.starts_with("dev-") {
                AuthDecision::Allow
            } else {
                AuthDecision::Deny(ReasonCode::Banned)
            }
        })
    }
}

#[tokio::test]
async fn custom_authenticator_is_consulted() {
    let broker = mqttkit::broker::Broker::builder()
        .bind("127.0.0.1:0".parse().unwrap())
        .authenticator(OnlyDevices)
        .start()
        .await
        .unwrap();
    let addr = broker.local_addr();
    assert_eq!(
        TestClient::connect_with(addr, Connect::new("dev-1")).await.1.reason_code,
        ReasonCode::Success
    );
    assert_eq!(TestClient::connect_with(addr, Connect::new("pc-1")).await.1.reason_code, ReasonCode::Banned);
    broker.shutdown().await;
}
