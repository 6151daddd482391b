//! Broker authorization over real sockets: password-file users (argon2id), the ACL on
//! PUBLISH (MQTT 5 PUBACK / PUBREC 0x87, 3.1.1 acknowledged and dropped, `MQTT-3.3.5-2`),
//! on SUBSCRIBE (a reason code per filter, `MQTT-3.8.4-6`: 0x87 / 0x80), on every delivery
//! (wildcard subscribers and retained messages) and on wills; `%u` / `%c` patterns; a custom
//! authorizer; and `mosquitto_pub` / `mosquitto_sub` against a broker with a password file
//! and an ACL file.
#![cfg(all(feature = "broker", feature = "protocol-testing"))]

mod support;

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use bytes::Bytes;
use mqttkit::broker::{
    Access, AclAccess, AclConfig, AclRuleConfig, AuthConfig, Authorizer, Broker, BrokerConfig, BrokerHandle,
    ClientIdentity, Durability, PasswordFile, StorageConfig, UserConfig,
};
use mqttkit::protocol::{
    Connect, ConnectProperties, ProtocolVersion, Publish, QoS, ReasonCode, Subscribe, Subscription,
    SubscriptionOptions, Will,
};
use support::{TestClient, start_broker_with, wait_until};
use tokio::io::AsyncReadExt;
use tokio::process::Command;

/// A directory removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("mqttkit-acl-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("temp dir");
        TempDir(dir)
    }

    fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn rule(user: Option<&str>, access: AclAccess, topic: &str) -> AclRuleConfig {
    AclRuleConfig { user: user.map(Into::into), client_id: None, access, topic: topic.into() }
}

/// Anonymous access on (any user name is accepted: no user list), with these ACL rules.
fn acl_config(rules: Vec<AclRuleConfig>) -> BrokerConfig {
    BrokerConfig { acl: AclConfig { rules, ..Default::default() }, ..Default::default() }
}

fn login(id: &str, user: Option<&str>, password: Option<&str>, version: ProtocolVersion) -> Connect {
    Connect {
        protocol_version: version,
        username: user.map(Into::into),
        password: password.map(|p| Bytes::copy_from_slice(p.as_bytes())),
        ..Connect::new(id)
    }
}

async fn connect_as(broker: &BrokerHandle, id: &str, user: &str, version: ProtocolVersion) -> TestClient {
    let (client, connack) =
        TestClient::connect_with(broker.local_addr(), login(id, Some(user), None, version)).await;
    assert_eq!(connack.reason_code, ReasonCode::Success, "{connack:?}");
    client
}

fn message(topic: &str, payload: &str, qos: QoS, retain: bool) -> Publish {
    Publish { retain, ..Publish::new(topic, Bytes::copy_from_slice(payload.as_bytes()), qos) }
}

/// Publishes an allowed QoS 1 marker and asserts it is the next message `subscriber` gets:
/// everything the publisher sent before it was routed first, so nothing else came through.
async fn expect_only_marker(publisher: &mut TestClient, subscriber: &mut TestClient, marker: &str) {
    assert!(!publisher.publish_simple(marker, "marker", QoS::AtLeastOnce).await.is_error());
    let received = subscriber.recv_and_ack().await;
    assert_eq!(&*received.topic, marker, "a message came through before the marker: {received:?}");
}

#[tokio::test]
async fn password_file_users_connect_and_wrong_passwords_are_refused() {
    let dir = TempDir::new("passwd");
    let path = dir.path("passwd");
    let mut file = PasswordFile::new();
    file.set_password("alice", b"wonderland").unwrap();
    file.write(&path).unwrap();
    let config = BrokerConfig {
        auth: AuthConfig {
            allow_anonymous: false,
            users: vec![UserConfig { username: "bob".into(), password: "builder".into() }],
            password_file: Some(path),
        },
        ..Default::default()
    };
    let broker = start_broker_with(config).await;
    let addr = broker.local_addr();
    for version in [ProtocolVersion::V5, ProtocolVersion::V311] {
        let cases = [
            (Some("alice"), Some("wonderland"), ReasonCode::Success),
            (Some("bob"), Some("builder"), ReasonCode::Success),
            // 0x86 in MQTT 5 (MQTT 5.0 §3.2.2.2), return code 0x04 in 3.1.1.
            (Some("alice"), Some("wrong"), ReasonCode::BadUserNameOrPassword),
            (Some("alice"), None, ReasonCode::BadUserNameOrPassword),
            (Some("nobody"), Some("wonderland"), ReasonCode::BadUserNameOrPassword),
            (None, None, ReasonCode::NotAuthorized),
        ];
        for (user, password, expected) in cases {
            let (_client, connack) =
                TestClient::connect_with(addr, login("c", user, password, version)).await;
            assert_eq!(connack.reason_code, expected, "{version} {user:?} {password:?}");
        }
    }
    broker.shutdown().await;
}

#[tokio::test]
async fn a_bad_password_file_stops_the_start_with_its_line() {
    let dir = TempDir::new("bad-passwd");
    let path = dir.path("passwd");
    std::fs::write(&path, "# users\nalice:plaintext\n").unwrap();
    let error = Broker::builder().bind("127.0.0.1:0".parse().unwrap()).password_file(&path).start().await;
    let error = error.expect_err("a bad line refuses the start").to_string();
    assert!(error.starts_with(&format!("{}:2:", path.display())), "{error}");
    assert!(error.contains("alice"), "{error}");
}

#[tokio::test]
async fn publish_without_write_access_is_refused_with_0x87_in_mqtt_5() {
    let broker = start_broker_with(acl_config(vec![
        rule(Some("reader"), AclAccess::Read, "#"),
        rule(Some("writer"), AclAccess::Write, "allowed/#"),
    ]))
    .await;
    let mut subscriber = connect_as(&broker, "sub", "reader", ProtocolVersion::V5).await;
    subscriber.subscribe("#", QoS::AtLeastOnce).await;
    let mut publisher = connect_as(&broker, "pub", "writer", ProtocolVersion::V5).await;
    assert_eq!(
        publisher.publish(message("forbidden/a", "x", QoS::AtLeastOnce, true)).await,
        ReasonCode::NotAuthorized
    );
    // QoS 2: PUBREC 0x87 ends the exchange (no PUBREL expected).
    assert_eq!(
        publisher.publish(message("forbidden/b", "x", QoS::ExactlyOnce, false)).await,
        ReasonCode::NotAuthorized
    );
    assert_eq!(
        publisher.publish(message("forbidden/c", "x", QoS::AtMostOnce, true)).await,
        ReasonCode::Success
    );
    expect_only_marker(&mut publisher, &mut subscriber, "allowed/marker").await;
    assert_eq!(broker.stats().publish_denied, 3);
    // Nothing was retained.
    let mut late = connect_as(&broker, "late", "reader", ProtocolVersion::V5).await;
    late.subscribe("forbidden/#", QoS::AtLeastOnce).await;
    late.expect_nothing().await;
    assert_eq!(broker.stats().retained, 0);
    broker.shutdown().await;
}

#[tokio::test]
async fn publish_without_write_access_is_acknowledged_and_dropped_in_mqtt_3_1_1() {
    let broker = start_broker_with(acl_config(vec![
        rule(Some("reader"), AclAccess::Read, "#"),
        rule(Some("writer"), AclAccess::Write, "allowed/#"),
    ]))
    .await;
    let mut subscriber = connect_as(&broker, "sub", "reader", ProtocolVersion::V311).await;
    subscriber.subscribe("#", QoS::AtLeastOnce).await;
    let mut publisher = connect_as(&broker, "pub", "writer", ProtocolVersion::V311).await;
    // MQTT-3.3.5-2: a positive acknowledgement according to the normal QoS rules.
    assert_eq!(
        publisher.publish(message("forbidden/a", "x", QoS::AtLeastOnce, false)).await,
        ReasonCode::Success
    );
    assert_eq!(
        publisher.publish(message("forbidden/b", "x", QoS::ExactlyOnce, true)).await,
        ReasonCode::Success
    );
    expect_only_marker(&mut publisher, &mut subscriber, "allowed/marker").await;
    assert_eq!(broker.stats().publish_denied, 2);
    broker.shutdown().await;
}

fn subscribe_many(filters: &[&str]) -> Subscribe {
    let subscriptions = filters
        .iter()
        .map(|filter| Subscription {
            filter: (*filter).into(),
            options: SubscriptionOptions::new(QoS::AtLeastOnce),
        })
        .collect();
    Subscribe::new(0, subscriptions)
}

#[tokio::test]
async fn subscribe_is_refused_per_filter_and_shared_subscriptions_on_their_filter() {
    let broker = start_broker_with(acl_config(vec![
        rule(Some("u"), AclAccess::Read, "allowed/#"),
        rule(Some("u"), AclAccess::Write, "forbidden/#"),
    ]))
    .await;
    let filters = ["allowed/#", "forbidden/x", "$share/g/forbidden/#", "$share/g/allowed/x", "+/y"];
    let mut v5 = connect_as(&broker, "v5", "u", ProtocolVersion::V5).await;
    let suback = v5.subscribe_with(subscribe_many(&filters)).await;
    let granted = ReasonCode::GrantedQos1;
    let denied = ReasonCode::NotAuthorized;
    assert_eq!(suback.reason_codes, [granted, denied, denied, granted, granted]);
    // 3.1.1: 0x80 Failure for the refused filters.
    let mut v311 = connect_as(&broker, "v311", "u", ProtocolVersion::V311).await;
    let suback = v311.subscribe_with(subscribe_many(&filters)).await;
    let failure = ReasonCode::UnspecifiedError;
    assert_eq!(suback.reason_codes, [granted, failure, failure, granted, granted]);
    assert_eq!(broker.stats().subscribe_denied, 4);
    assert_eq!(broker.stats().subscriptions, 6);
    broker.shutdown().await;
}

#[tokio::test]
async fn a_wildcard_subscriber_receives_only_what_it_may_read_retained_messages_included() {
    let broker = start_broker_with(acl_config(vec![
        rule(Some("admin"), AclAccess::ReadWrite, "#"),
        rule(Some("guest"), AclAccess::Read, "public/#"),
        rule(Some("guest"), AclAccess::Read, "home/#"),
        rule(Some("guest"), AclAccess::Deny, "home/safe/#"),
    ]))
    .await;
    let mut admin = connect_as(&broker, "admin", "admin", ProtocolVersion::V5).await;
    admin.publish(message("secret/retained", "s", QoS::AtLeastOnce, true)).await;
    admin.publish(message("home/safe/code", "1234", QoS::AtLeastOnce, true)).await;
    admin.publish(message("public/retained", "p", QoS::AtLeastOnce, true)).await;
    let mut guest = connect_as(&broker, "guest", "guest", ProtocolVersion::V5).await;
    guest.subscribe("#", QoS::AtLeastOnce).await;
    assert_eq!(&*guest.recv_and_ack().await.topic, "public/retained");
    guest.expect_nothing().await;
    for topic in ["secret/x", "home/safe/door", "other/y", "home/kitchen"] {
        admin.publish_simple(topic, "live", QoS::AtMostOnce).await;
    }
    assert_eq!(&*guest.recv_and_ack().await.topic, "home/kitchen");
    expect_only_marker(&mut admin, &mut guest, "public/marker").await;
    broker.shutdown().await;
}

#[tokio::test]
async fn a_will_the_client_may_not_write_is_not_published() {
    let broker = start_broker_with(acl_config(vec![
        rule(Some("watcher"), AclAccess::Read, "#"),
        rule(Some("device"), AclAccess::Write, "status/allowed"),
    ]))
    .await;
    let mut watcher = connect_as(&broker, "watcher", "watcher", ProtocolVersion::V5).await;
    watcher.subscribe("status/#", QoS::AtLeastOnce).await;
    for (id, topic) in [("d1", "status/forbidden"), ("d2", "status/allowed")] {
        let connect = Connect {
            will: Some(Will::new(topic, "gone")),
            ..login(id, Some("device"), None, ProtocolVersion::V5)
        };
        let (device, connack) = TestClient::connect_with(broker.local_addr(), connect).await;
        assert_eq!(connack.reason_code, ReasonCode::Success);
        device.drop_connection().await;
    }
    // The allowed will arrives; the forbidden one is counted and never delivered.
    let will = watcher.recv_and_ack().await;
    assert_eq!(&*will.topic, "status/allowed");
    wait_until("the forbidden will is counted", || broker.stats().publish_denied == 1).await;
    watcher.expect_nothing().await;
    broker.shutdown().await;
}

#[tokio::test]
async fn patterns_substitute_the_user_name_and_client_id_and_refuse_unsafe_names() {
    let broker = start_broker_with(acl_config(vec![
        rule(None, AclAccess::ReadWrite, "users/%u/#"),
        rule(None, AclAccess::Write, "devices/%c/state"),
    ]))
    .await;
    let mut alice = connect_as(&broker, "dev-1", "alice", ProtocolVersion::V5).await;
    assert_eq!(
        alice.publish_simple("users/alice/notes", "x", QoS::AtLeastOnce).await,
        ReasonCode::NoMatchingSubscribers
    );
    assert_eq!(
        alice.publish_simple("users/bob/notes", "x", QoS::AtLeastOnce).await,
        ReasonCode::NotAuthorized
    );
    assert_eq!(
        alice.publish_simple("devices/dev-1/state", "x", QoS::AtLeastOnce).await,
        ReasonCode::NoMatchingSubscribers
    );
    assert_eq!(
        alice.publish_simple("devices/dev-2/state", "x", QoS::AtLeastOnce).await,
        ReasonCode::NotAuthorized
    );
    alice.subscribe("users/alice/#", QoS::AtLeastOnce).await;
    let suback = alice.subscribe_with(subscribe_many(&["users/bob/#"])).await;
    assert_eq!(suback.reason_codes, [ReasonCode::NotAuthorized]);
    // A user name with '/' would reach another user's subtree: never substituted.
    let mut sneaky = connect_as(&broker, "s", "bob/x", ProtocolVersion::V5).await;
    assert_eq!(
        sneaky.publish_simple("users/bob/x/y", "x", QoS::AtLeastOnce).await,
        ReasonCode::NotAuthorized
    );
    let mut nested = connect_as(&broker, "x/y", "carol", ProtocolVersion::V5).await;
    assert_eq!(
        nested.publish_simple("devices/x/y/state", "x", QoS::AtLeastOnce).await,
        ReasonCode::NotAuthorized
    );
    broker.shutdown().await;
}

#[tokio::test]
async fn a_stored_session_keeps_its_user_for_authorization_after_a_restart() {
    let dir = TempDir::new("restart");
    let mut config = acl_config(vec![
        rule(Some("admin"), AclAccess::ReadWrite, "#"),
        rule(Some("guest"), AclAccess::Read, "public/#"),
    ]);
    config.storage = StorageConfig {
        durability: Durability::Sync,
        data_dir: Some(dir.0.clone()),
        commit_interval_ms: None,
    };
    let persistent = || Connect {
        clean_start: false,
        properties: ConnectProperties { session_expiry_interval: Some(3600), ..Default::default() },
        ..login("guest-1", Some("guest"), None, ProtocolVersion::V5)
    };
    let broker = start_broker_with(config.clone()).await;
    let (mut guest, _) = TestClient::connect_with(broker.local_addr(), persistent()).await;
    guest.subscribe("#", QoS::AtLeastOnce).await;
    guest.disconnect().await;
    wait_until("the guest's session is offline", || broker.stats().connections == 0).await;
    broker.shutdown().await;
    // Restored from storage with its user: messages queued while it is offline are checked.
    let broker = start_broker_with(config).await;
    let mut admin = connect_as(&broker, "admin", "admin", ProtocolVersion::V5).await;
    assert_eq!(
        admin.publish_simple("secret/x", "s", QoS::AtLeastOnce).await,
        ReasonCode::NoMatchingSubscribers
    );
    assert_eq!(admin.publish_simple("public/x", "p", QoS::AtLeastOnce).await, ReasonCode::Success);
    let (mut guest, connack) = TestClient::connect_with(broker.local_addr(), persistent()).await;
    assert!(connack.session_present);
    assert_eq!(&*guest.recv_and_ack().await.topic, "public/x");
    guest.expect_nothing().await;
    broker.shutdown().await;
}

#[tokio::test]
async fn another_user_does_not_resume_a_session_under_an_acl() {
    let broker = start_broker_with(acl_config(vec![rule(None, AclAccess::ReadWrite, "#")])).await;
    let persistent = |user: &str| Connect {
        clean_start: false,
        properties: ConnectProperties { session_expiry_interval: Some(3600), ..Default::default() },
        ..login("shared-id", Some(user), None, ProtocolVersion::V5)
    };
    let (mut alice, _) = TestClient::connect_with(broker.local_addr(), persistent("alice")).await;
    alice.subscribe("inbox/#", QoS::AtLeastOnce).await;
    alice.disconnect().await;
    wait_until("alice is offline", || broker.stats().connections == 0).await;
    let mut other = connect_as(&broker, "other", "alice", ProtocolVersion::V5).await;
    assert_eq!(other.publish_simple("inbox/1", "for alice", QoS::AtLeastOnce).await, ReasonCode::Success);
    let (mut mallory, connack) = TestClient::connect_with(broker.local_addr(), persistent("mallory")).await;
    assert_eq!(connack.reason_code, ReasonCode::Success);
    assert!(!connack.session_present, "mallory resumed alice's session");
    mallory.expect_nothing().await;
    assert_eq!(broker.stats().subscriptions, 0);
    broker.shutdown().await;
}

/// Allows reading and writing only topics under the client identifier.
struct OwnSubtree;

impl Authorizer for OwnSubtree {
    fn authorize(&self, client: &ClientIdentity<'_>, _access: Access, topic: &str) -> bool {
        topic.strip_prefix(client.client_id).is_some_and(|rest| rest.starts_with('/'))
    }
}

#[tokio::test]
async fn a_custom_authorizer_is_consulted() {
    let broker =
        Broker::builder().bind("127.0.0.1:0".parse().unwrap()).authorizer(OwnSubtree).start().await.unwrap();
    let mut client = TestClient::connect(broker.local_addr(), "me").await;
    assert_eq!(client.publish_simple("me/x", "1", QoS::AtLeastOnce).await, ReasonCode::NoMatchingSubscribers);
    assert_eq!(client.publish_simple("you/x", "1", QoS::AtLeastOnce).await, ReasonCode::NotAuthorized);
    // The default subscribe check: wildcards allowed (deliveries are checked), plain filters as topics.
    let suback = client.subscribe_with(subscribe_many(&["#", "you/x", "me/y"])).await;
    assert_eq!(
        suback.reason_codes,
        [ReasonCode::GrantedQos1, ReasonCode::NotAuthorized, ReasonCode::GrantedQos1]
    );
    broker.shutdown().await;
}

#[tokio::test]
async fn reload_auth_puts_new_files_in_force_and_keeps_the_old_ones_when_a_file_is_bad() {
    let dir = TempDir::new("reload");
    let (passwd, acl) = (dir.path("passwd"), dir.path("acl.conf"));
    let mut users = PasswordFile::new();
    users.set_password("alice", b"old").unwrap();
    users.write(&passwd).unwrap();
    std::fs::write(&acl, "user alice\ntopic write a/#\n").unwrap();
    let config = BrokerConfig {
        auth: AuthConfig { allow_anonymous: false, users: Vec::new(), password_file: Some(passwd.clone()) },
        acl: AclConfig {
            file: Some(acl.clone()),
            rules: vec![rule(Some("alice"), AclAccess::Write, "inline/#")],
            ..Default::default()
        },
        ..Default::default()
    };
    let broker = start_broker_with(config).await;
    let addr = broker.local_addr();
    let alice = |id: &str, password: &str| login(id, Some("alice"), Some(password), ProtocolVersion::V5);
    let (mut connected, connack) = TestClient::connect_with(addr, alice("a1", "old")).await;
    assert_eq!(connack.reason_code, ReasonCode::Success);
    assert_eq!(connected.publish_simple("b/1", "x", QoS::AtLeastOnce).await, ReasonCode::NotAuthorized);

    users.set_password("alice", b"new").unwrap();
    users.write(&passwd).unwrap();
    std::fs::write(&acl, "user alice\ntopic write b/#\n").unwrap();
    broker.reload_auth().expect("both files load");
    let (_, refused) = TestClient::connect_with(addr, alice("a2", "old")).await;
    assert_eq!(refused.reason_code, ReasonCode::BadUserNameOrPassword);
    let (_, connack) = TestClient::connect_with(addr, alice("a3", "new")).await;
    assert_eq!(connack.reason_code, ReasonCode::Success);
    // The connected client is checked against the new file, and the inline rules stay.
    assert_eq!(
        connected.publish_simple("b/1", "x", QoS::AtLeastOnce).await,
        ReasonCode::NoMatchingSubscribers
    );
    assert_eq!(connected.publish_simple("a/1", "x", QoS::AtLeastOnce).await, ReasonCode::NotAuthorized);
    assert_eq!(
        connected.publish_simple("inline/1", "x", QoS::AtLeastOnce).await,
        ReasonCode::NoMatchingSubscribers
    );

    // A bad line in either file: an error naming it, and neither file changes what is in force.
    users.set_password("alice", b"newer").unwrap();
    users.write(&passwd).unwrap();
    std::fs::write(&acl, "user alice\ntopic write c/#\ntopic sometimes d/#\n").unwrap();
    let error = broker.reload_auth().expect_err("a bad ACL line").to_string();
    assert!(error.starts_with(&format!("{}:3:", acl.display())), "{error}");
    let (_, connack) = TestClient::connect_with(addr, alice("a4", "new")).await;
    assert_eq!(connack.reason_code, ReasonCode::Success, "the password file was not swapped alone");
    assert_eq!(
        connected.publish_simple("b/2", "x", QoS::AtLeastOnce).await,
        ReasonCode::NoMatchingSubscribers
    );
    assert_eq!(connected.publish_simple("c/1", "x", QoS::AtLeastOnce).await, ReasonCode::NotAuthorized);
    std::fs::write(&passwd, "alice:plaintext\n").unwrap();
    let error = broker.reload_auth().expect_err("a bad password line").to_string();
    assert!(error.starts_with(&format!("{}:1:", passwd.display())), "{error}");
    broker.shutdown().await;
}

const INSTALL: &str = "run scripts/install-test-deps.sh (installs mosquitto-clients)";

fn tool(name: &str) -> PathBuf {
    let found = std::env::var_os("PATH")
        .into_iter()
        .flat_map(|paths| std::env::split_paths(&paths).collect::<Vec<_>>())
        .map(|dir| dir.join(name))
        .find(|path| path.is_file());
    found.unwrap_or_else(|| panic!("{name} is not installed: {INSTALL}"))
}

async fn mosquitto_pub(broker: &BrokerHandle, args: &[&str]) -> std::process::Output {
    let port = broker.local_addr().port().to_string();
    let run = Command::new(tool("mosquitto_pub")).args(["-h", "127.0.0.1", "-p", &port]).args(args).output();
    tokio::time::timeout(Duration::from_secs(10), run).await.expect("mosquitto_pub finishes").expect("runs")
}

fn write_files(dir: &Path) -> (PathBuf, PathBuf) {
    let passwd = dir.join("passwd");
    let mut file = PasswordFile::new();
    file.set_password("sensor", b"s3nsor").unwrap();
    file.set_password("dashboard", b"d4sh").unwrap();
    file.write(&passwd).unwrap();
    let acl = dir.join("acl.conf");
    std::fs::write(
        &acl,
        "user sensor\ntopic write sensors/#\n\nuser dashboard\ntopic read sensors/#\ntopic read alerts/#\n",
    )
    .unwrap();
    (passwd, acl)
}

#[tokio::test]
async fn mosquitto_clients_with_a_password_file_and_an_acl_file() {
    let dir = TempDir::new("mosquitto");
    let (passwd, acl) = write_files(&dir.0);
    let config = BrokerConfig {
        auth: AuthConfig { allow_anonymous: false, users: Vec::new(), password_file: Some(passwd) },
        acl: AclConfig { file: Some(acl), ..Default::default() },
        ..Default::default()
    };
    let broker = start_broker_with(config).await;
    let port = broker.local_addr().port().to_string();
    let mut sub = Command::new(tool("mosquitto_sub"))
        .args(["-h", "127.0.0.1", "-p", &port, "-u", "dashboard", "-P", "d4sh", "-V", "mqttv5"])
        .args(["-t", "#", "-q", "1", "-v", "-C", "2"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("mosquitto_sub starts");
    wait_until("mosquitto_sub subscribed", || broker.stats().subscriptions == 1).await;
    // Wrong password: refused (mosquitto_pub exits with an error).
    let refused = mosquitto_pub(&broker, &["-u", "sensor", "-P", "nope", "-t", "sensors/t", "-m", "x"]).await;
    assert!(!refused.status.success(), "a wrong password was accepted");
    // 3.1.1 publishes outside the ACL are acknowledged and dropped; MQTT 5 ones are refused.
    let sensor = ["-u", "sensor", "-P", "s3nsor", "-q", "1"];
    let dropped =
        mosquitto_pub(&broker, &[&sensor[..], &["-t", "alerts/fire", "-m", "forbidden"]].concat()).await;
    assert!(dropped.status.success(), "{}", String::from_utf8_lossy(&dropped.stderr));
    let _ = mosquitto_pub(
        &broker,
        &[&sensor[..], &["-V", "mqttv5", "-t", "alerts/flood", "-m", "forbidden"]].concat(),
    )
    .await;
    for (topic, payload) in [("sensors/t1", "21.5"), ("sensors/t2", "19.0")] {
        let sent = mosquitto_pub(&broker, &[&sensor[..], &["-t", topic, "-m", payload]].concat()).await;
        assert!(sent.status.success(), "{}", String::from_utf8_lossy(&sent.stderr));
    }
    let status =
        tokio::time::timeout(Duration::from_secs(10), sub.wait()).await.expect("mosquitto_sub exits");
    let mut out = String::new();
    sub.stdout.as_mut().expect("stdout").read_to_string(&mut out).await.unwrap();
    assert!(status.unwrap().success());
    assert_eq!(out, "sensors/t1 21.5\nsensors/t2 19.0\n");
    assert_eq!(broker.stats().publish_denied, 2);
    // The sensor may not subscribe at all: mosquitto_sub reports the refusal.
    let denied = Command::new(tool("mosquitto_sub"))
        .args([
            "-h",
            "127.0.0.1",
            "-p",
            &port,
            "-u",
            "sensor",
            "-P",
            "s3nsor",
            "-V",
            "mqttv5",
            "-t",
            "sensors/#",
            "-C",
            "1",
        ])
        .output();
    let denied = tokio::time::timeout(Duration::from_secs(10), denied).await.expect("exits").unwrap();
    assert!(String::from_utf8_lossy(&denied.stderr).contains("denied"), "{denied:?}");
    broker.shutdown().await;
}
