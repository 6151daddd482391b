//! The `mqttkit passwd` and `mqttkit acl` commands, and `mqttkit broker` serving a
//! configuration with a password file and an ACL file given relative to it.
#![cfg(all(feature = "cli", feature = "protocol-testing"))]

mod support;

use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};
use std::time::Duration;

use bytes::Bytes;
use mqttkit::broker::{PasswordFile, verify_password};
use mqttkit::protocol::{Connect, QoS, ReasonCode};
use support::TestClient;
use tokio::io::AsyncWriteExt;
use tokio::process::Command;

/// A directory removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("mqttkit-cli-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("temp dir");
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

async fn mqttkit(args: &[&str], stdin: Option<&str>) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_mqttkit"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("mqttkit starts");
    let mut input = child.stdin.take().expect("stdin");
    if let Some(text) = stdin {
        input.write_all(text.as_bytes()).await.expect("writes stdin");
    }
    drop(input);
    tokio::time::timeout(Duration::from_secs(30), child.wait_with_output())
        .await
        .expect("mqttkit finishes")
        .expect("mqttkit runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn path_str(path: &Path) -> &str {
    path.to_str().expect("UTF-8 temp path")
}

#[tokio::test]
async fn passwd_creates_updates_and_deletes_users_keeping_other_lines() {
    let dir = TempDir::new("passwd");
    let file = dir.0.join("passwd");
    let f = path_str(&file);
    let missing = mqttkit(&["passwd", f, "alice", "--password", "a"], None).await;
    assert_eq!(missing.status.code(), Some(2));
    assert!(text(&missing.stderr).contains("use -c to create it"), "{}", text(&missing.stderr));

    assert!(mqttkit(&["passwd", "-c", f, "alice", "--password", "first"], None).await.status.success());
    let with_comment = format!("# operators\n{}", std::fs::read_to_string(&file).unwrap());
    std::fs::write(&file, with_comment).unwrap();
    let added = mqttkit(&["passwd", "--stdin", f, "bob"], Some("from stdin\n")).await;
    assert!(added.status.success(), "{}", text(&added.stderr));
    assert!(mqttkit(&["passwd", f, "alice", "--password", "second"], None).await.status.success());
    let read = PasswordFile::read(&file).unwrap();
    assert_eq!(read.users().collect::<Vec<_>>(), ["alice", "bob"]);
    assert!(verify_password(read.hash_of("alice").unwrap(), b"second"));
    assert!(verify_password(read.hash_of("bob").unwrap(), b"from stdin"));

    // Without a terminal, a password must be given.
    let no_tty = mqttkit(&["passwd", f, "carol"], None).await;
    assert_eq!(no_tty.status.code(), Some(2));
    assert!(text(&no_tty.stderr).contains("--stdin"), "{}", text(&no_tty.stderr));
    let bad_name = mqttkit(&["passwd", f, "a:b", "--password", "x"], None).await;
    assert!(text(&bad_name.stderr).contains("':'"), "{}", text(&bad_name.stderr));

    assert!(mqttkit(&["passwd", "-D", f, "alice"], None).await.status.success());
    let gone = mqttkit(&["passwd", "-D", f, "alice"], None).await;
    assert!(text(&gone.stderr).contains("not in"), "{}", text(&gone.stderr));
    let left = std::fs::read_to_string(&file).unwrap();
    assert!(left.starts_with("# operators\nbob:$argon2id$"), "{left}");
    assert_eq!(left.lines().count(), 2);
}

fn write_config(dir: &Path) -> PathBuf {
    let mut users = PasswordFile::new();
    users.set_password("alice", b"pw").unwrap();
    users.write(&dir.join("passwd")).unwrap();
    std::fs::write(
        dir.join("acl.conf"),
        "topic read public/#\n\nuser alice\ntopic readwrite home/#\ntopic deny home/safe\n\
         pattern write devices/%c/state\n",
    )
    .unwrap();
    let config = dir.join("broker.toml");
    std::fs::write(
        &config,
        "[[listener]]\nbind = \"127.0.0.1:0\"\n\n[auth]\nallow_anonymous = true\npassword_file = \"passwd\"\n\n\
         [acl]\nfile = \"acl.conf\"\n[[acl.rules]]\nuser = \"alice\"\naccess = \"read\"\ntopic = \"sensors/+\"\n",
    )
    .unwrap();
    config
}

#[tokio::test]
async fn acl_check_prints_the_decision_and_the_rule_and_list_prints_every_rule() {
    let dir = TempDir::new("acl");
    let config = write_config(&dir.0);
    let c = path_str(&config);
    let check = |args: &'static [&'static str]| {
        let mut all = vec!["acl", "check", "--config", c];
        all.extend_from_slice(args);
        async move { mqttkit(&all, None).await }
    };
    let allowed = check(&["--user", "alice", "--topic", "home/kitchen", "--access", "write"]).await;
    assert!(allowed.status.success());
    assert_eq!(
        text(&allowed.stdout),
        format!("allow by {}:4: user alice: topic readwrite home/#\n", dir.0.join("acl.conf").display())
    );
    let denied = check(&["--user", "alice", "--topic", "home/safe", "--access", "read"]).await;
    assert_eq!(denied.status.code(), Some(1));
    assert!(
        text(&denied.stdout).starts_with("deny by ") && text(&denied.stdout).contains("topic deny home/safe")
    );
    let anonymous = check(&["--topic", "public/news", "--access", "read"]).await;
    assert!(
        text(&anonymous.stdout).contains("anonymous: topic read public/#"),
        "{}",
        text(&anonymous.stdout)
    );
    let by_default = check(&["--topic", "public/news", "--access", "write"]).await;
    assert_eq!(text(&by_default.stdout), "deny by default = \"deny\" (no rule matched)\n");
    let pattern = check(&["-u", "x", "-i", "dev-7", "-t", "devices/dev-7/state", "-a", "write"]).await;
    assert!(text(&pattern.stdout).contains("pattern write devices/%c/state"), "{}", text(&pattern.stdout));
    let subscribe = check(&["-u", "alice", "-t", "sensors/#", "-a", "subscribe"]).await;
    assert!(text(&subscribe.stdout).starts_with("allow by [[acl.rules]] #1"), "{}", text(&subscribe.stdout));

    let list = mqttkit(&["acl", "list", "--config", c], None).await;
    let listed = text(&list.stdout);
    assert_eq!(listed.lines().count(), 6, "{listed}");
    assert!(
        listed.ends_with("[[acl.rules]] #1: user alice: topic read sensors/+\ndefault: deny\n"),
        "{listed}"
    );

    std::fs::write(dir.0.join("acl.conf"), "user alice\ntopic everything #\n").unwrap();
    let bad = mqttkit(&["acl", "list", "--config", c], None).await;
    assert_eq!(bad.status.code(), Some(2));
    let stderr = text(&bad.stderr);
    assert!(stderr.contains("acl.conf:2:") && stderr.contains("\"everything\""), "{stderr}");
}

#[tokio::test]
async fn acl_add_and_remove_edit_an_acl_file_keeping_other_lines() {
    let dir = TempDir::new("acl-edit");
    let file = dir.0.join("acl.conf");
    let f = path_str(&file);
    let run = |args: &'static [&'static str]| {
        let mut all = vec!["acl"];
        all.extend_from_slice(&args[..1]);
        all.extend_from_slice(&["--file", f]);
        all.extend_from_slice(&args[1..]);
        async move { mqttkit(&all, None).await }
    };
    for args in [
        &["add", "read", "public/#"][..],
        &["add", "--user", "alice", "readwrite", "home/alice/#"],
        &["add", "--pattern", "write", "devices/%c/state"],
        &["add", "--user", "bob", "read", "sensors/#"],
        &["add", "--user", "alice", "deny", "home/alice/safe"],
        &["add", "write", "public/chat"],
    ] {
        let output = run(args).await;
        assert!(output.status.success(), "{args:?}: {}", text(&output.stderr));
    }
    let expected = "topic read public/#\ntopic write public/chat\n\nuser alice\ntopic readwrite home/alice/#\n\
                    topic deny home/alice/safe\npattern write devices/%c/state\n\nuser bob\ntopic read sensors/#\n";
    assert_eq!(std::fs::read_to_string(&file).unwrap(), expected);
    let twice = run(&["add", "--user", "bob", "read", "sensors/#"]).await;
    assert!(
        text(&twice.stderr).contains("acl.conf:10: this rule is already there"),
        "{}",
        text(&twice.stderr)
    );
    let bad = run(&["add", "--user", "bob", "read", "a/#/b"]).await;
    assert_eq!(bad.status.code(), Some(2));
    assert!(text(&bad.stderr).contains("a/#/b"), "{}", text(&bad.stderr));

    assert!(run(&["remove", "--user", "alice", "deny", "home/alice/safe"]).await.status.success());
    assert!(run(&["remove", "--pattern", "write", "devices/%c/state"]).await.status.success());
    let missing = run(&["remove", "--user", "bob", "write", "sensors/#"]).await;
    assert!(text(&missing.stderr).contains("no such rule"), "{}", text(&missing.stderr));
    let expected = "topic read public/#\ntopic write public/chat\n\nuser alice\ntopic readwrite home/alice/#\n\n\
                    user bob\ntopic read sensors/#\n";
    assert_eq!(std::fs::read_to_string(&file).unwrap(), expected);
}

/// CONNECT as alice (client id `alice-1`) with `password`.
fn login(password: &str) -> Connect {
    Connect {
        username: Some("alice".into()),
        password: Some(Bytes::copy_from_slice(password.as_bytes())),
        ..Connect::new("alice-1")
    }
}

/// SIGTERM: the connected `client` gets DISCONNECT 0x8B and the broker exits with success.
#[cfg(unix)]
async fn terminate(mut child: tokio::process::Child, mut client: TestClient) {
    support::send_signal(&child, "TERM").await;
    assert_eq!(client.expect_closed().await, Some(ReasonCode::ServerShuttingDown));
    let exit = tokio::time::timeout(Duration::from_secs(10), child.wait()).await.expect("exits").unwrap();
    assert!(exit.success(), "{exit:?}");
}

#[cfg(unix)]
#[tokio::test]
async fn the_broker_command_serves_a_password_file_and_an_acl_file_relative_to_its_config() {
    let dir = TempDir::new("broker");
    let config = write_config(&dir.0);
    let (child, addr) = support::spawn_broker_cli(["--log", "warn", "--config", path_str(&config)]).await;
    let (_, refused) = TestClient::connect_with(addr, login("wrong")).await;
    assert_eq!(refused.reason_code, ReasonCode::BadUserNameOrPassword);
    let (mut alice, connack) = TestClient::connect_with(addr, login("pw")).await;
    assert_eq!(connack.reason_code, ReasonCode::Success);
    assert_eq!(alice.publish_simple("home/safe", "x", QoS::AtLeastOnce).await, ReasonCode::NotAuthorized);
    assert_eq!(
        alice.publish_simple("home/hall", "x", QoS::AtLeastOnce).await,
        ReasonCode::NoMatchingSubscribers
    );
    terminate(child, alice).await;
}

#[cfg(unix)]
#[tokio::test]
async fn sighup_reloads_the_password_file_and_the_acl_file_keeping_clients_connected() {
    let dir = TempDir::new("sighup");
    let config = write_config(&dir.0);
    let (child, addr) = support::spawn_broker_cli(["--log", "warn", "--config", path_str(&config)]).await;
    let (mut alice, connack) = TestClient::connect_with(addr, login("pw")).await;
    assert_eq!(connack.reason_code, ReasonCode::Success);
    assert_eq!(alice.publish_simple("home/safe", "x", QoS::AtLeastOnce).await, ReasonCode::NotAuthorized);

    let mut users = PasswordFile::read(&dir.0.join("passwd")).unwrap();
    users.set_password("alice", b"new").unwrap();
    users.write(&dir.0.join("passwd")).unwrap();
    std::fs::write(dir.0.join("acl.conf"), "user alice\ntopic readwrite home/#\n").unwrap();
    support::send_signal(&child, "HUP").await;

    // The reload runs when the broker sees the signal: poll (bounded) for the new password.
    let new_login = Connect { client_id: "alice-2".into(), ..login("new") };
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let mut fresh = loop {
        let (client, connack) = TestClient::connect_with(addr, new_login.clone()).await;
        if connack.reason_code == ReasonCode::Success {
            break client;
        }
        assert_eq!(connack.reason_code, ReasonCode::BadUserNameOrPassword);
        assert!(tokio::time::Instant::now() < deadline, "the new password file was not loaded");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let (_, refused) =
        TestClient::connect_with(addr, Connect { client_id: "alice-3".into(), ..login("pw") }).await;
    assert_eq!(refused.reason_code, ReasonCode::BadUserNameOrPassword, "the old password no longer works");
    // The client connected before the reload stays connected, under the new rules.
    assert_eq!(
        alice.publish_simple("home/safe", "x", QoS::AtLeastOnce).await,
        ReasonCode::NoMatchingSubscribers
    );
    assert_eq!(
        fresh.publish_simple("home/safe", "x", QoS::AtLeastOnce).await,
        ReasonCode::NoMatchingSubscribers
    );

    terminate(child, alice).await;
}
