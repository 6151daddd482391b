//! `mqttkit pub` and `mqttkit sub` as processes: against our broker, and with Mosquitto,
//! `mosquitto_pub` and `mosquitto_sub` on the other side; argument errors.
//!
//! A subscriber process is known to be subscribed when it prints a retained message
//! published before it started, so no test waits for a fixed time.
#![cfg(feature = "cli")]

mod client_support;

use std::process::{Output, Stdio};
use std::time::Duration;

use client_support::Mosquitto;
use mqttkit::broker::{Broker, BrokerHandle};
use mqttkit::client::{Client, ClientOptions};
use mqttkit::protocol::QoS;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::process::{Child, ChildStdout, Command};

const WITHIN: Duration = Duration::from_secs(10);

fn mqttkit(args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_mqttkit"));
    command.args(args).kill_on_drop(true);
    command
}

async fn run(mut command: Command) -> Output {
    tokio::time::timeout(WITHIN, command.output()).await.expect("the command finishes").unwrap()
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

async fn broker() -> (BrokerHandle, String) {
    let broker = Broker::builder().bind("127.0.0.1:0".parse().unwrap()).start().await.unwrap();
    let url = format!("mqtt://{}", broker.local_addr());
    (broker, url)
}

/// A subscriber process and its output lines.
struct Subscriber {
    child: Child,
    lines: Lines<BufReader<ChildStdout>>,
}

impl Subscriber {
    fn spawn(mut command: Command) -> Subscriber {
        let mut child = command.stdout(Stdio::piped()).spawn().unwrap();
        let lines = BufReader::new(child.stdout.take().unwrap()).lines();
        Subscriber { child, lines }
    }

    async fn line(&mut self) -> String {
        tokio::time::timeout(WITHIN, self.lines.next_line())
            .await
            .expect("a line within the time limit")
            .unwrap()
            .expect("a line before the output ends")
    }

    async fn exit_code(mut self) -> Option<i32> {
        tokio::time::timeout(WITHIN, self.child.wait()).await.expect("the subscriber exits").unwrap().code()
    }
}

#[tokio::test]
async fn sub_prints_retained_and_live_messages_published_by_pub() {
    let (broker, url) = broker().await;
    let publish = run(mqttkit(&["pub", "-L", &url, "-t", "cli/ready", "-m", "ready", "-r", "-q", "1"])).await;
    assert!(publish.status.success(), "{}", stderr(&publish));

    let mut sub = Subscriber::spawn(mqttkit(&["sub", "-L", &url, "-t", "cli/#", "-q", "2", "-v", "-C", "4"]));
    assert_eq!(sub.line().await, "cli/ready ready");
    let mut lines = mqttkit(&["pub", "-L", &url, "-t", "cli/lines", "-l", "-q", "2"]);
    let mut child = lines.stdin(Stdio::piped()).spawn().unwrap();
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(b"first\nsecond\n").await.unwrap();
    drop(stdin);
    assert!(tokio::time::timeout(WITHIN, child.wait()).await.unwrap().unwrap().success());
    let deleted =
        run(mqttkit(&["pub", "-L", &url, "-t", "cli/ready", "-n", "-r", "-q", "1", "-V", "3.1.1"])).await;
    assert!(deleted.status.success(), "{}", stderr(&deleted));

    assert_eq!(sub.line().await, "cli/lines first");
    assert_eq!(sub.line().await, "cli/lines second");
    assert_eq!(sub.line().await, "cli/ready ", "the empty retained message, delivered live");
    assert_eq!(sub.exit_code().await, Some(0), "-C 4 ends after four messages");
    assert_eq!(broker.stats().retained, 0, "-n -r deleted the retained message");
    broker.shutdown().await;
}

#[tokio::test]
async fn pub_sends_files_stdin_and_mqtt5_properties() {
    let (broker, url) = broker().await;
    let (client, mut events) =
        Client::with_events(ClientOptions::builder(url.as_str()).build().unwrap()).unwrap();
    client.connect().await.unwrap();
    client.subscribe("props/#", QoS::ExactlyOnce).await.unwrap();

    let published = run(mqttkit(&[
        "pub",
        "-L",
        &url,
        "-t",
        "props/a",
        "-m",
        "{}",
        "-q",
        "2",
        "--content-type",
        "application/json",
        "--response-topic",
        "props/reply",
        "--correlation-data",
        "abc",
        "--message-expiry",
        "60",
        "-D",
        "first=1",
        "--user-property",
        "second=2",
    ]))
    .await;
    assert!(published.status.success(), "{}", stderr(&published));
    let message = tokio::time::timeout(WITHIN, events.next_message()).await.unwrap().unwrap();
    assert_eq!(
        (message.topic.as_ref(), &message.payload[..], message.qos),
        ("props/a", &b"{}"[..], QoS::ExactlyOnce)
    );
    let properties = &message.properties;
    assert_eq!(properties.content_type.as_deref(), Some("application/json"));
    assert_eq!(properties.response_topic.as_deref(), Some("props/reply"));
    assert_eq!(properties.correlation_data.as_deref(), Some(&b"abc"[..]));
    assert!(properties.message_expiry_interval.is_some_and(|seconds| seconds <= 60));
    let pairs: Vec<(&str, &str)> =
        properties.user_properties.iter().map(|(n, v)| (n.as_ref(), v.as_ref())).collect();
    assert_eq!(pairs, [("first", "1"), ("second", "2")]);

    let file = std::env::temp_dir().join(format!("mqttkit-cli-pub-{}", std::process::id()));
    std::fs::write(&file, b"line one\nline two\n\x00binary").unwrap();
    let from_file =
        run(mqttkit(&["pub", "-L", &url, "-t", "props/file", "-f", file.to_str().unwrap(), "-q", "1"])).await;
    let _ = std::fs::remove_file(&file);
    assert!(from_file.status.success(), "{}", stderr(&from_file));
    let message = tokio::time::timeout(WITHIN, events.next_message()).await.unwrap().unwrap();
    assert_eq!(&message.payload[..], b"line one\nline two\n\x00binary", "-f sends the file as one message");

    let mut whole = mqttkit(&["pub", "-L", &url, "-t", "props/stdin", "-s"]);
    let mut child = whole.stdin(Stdio::piped()).spawn().unwrap();
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(b"all\nof it").await.unwrap();
    drop(stdin);
    assert!(tokio::time::timeout(WITHIN, child.wait()).await.unwrap().unwrap().success());
    let message = tokio::time::timeout(WITHIN, events.next_message()).await.unwrap().unwrap();
    assert_eq!(&message.payload[..], b"all\nof it", "-s sends standard input as one message");

    client.shutdown().await.unwrap();
    broker.shutdown().await;
}

#[tokio::test]
async fn pub_and_sub_interoperate_with_mosquitto_and_its_clients() {
    let mosquitto = Mosquitto::start().await;
    let url = mosquitto.url();
    let port = mosquitto.port.to_string();

    let published =
        run(mqttkit(&["pub", "-L", &url, "-t", "interop/ours", "-m", "from mqttkit", "-r", "-q", "2"])).await;
    assert!(published.status.success(), "{}", stderr(&published));
    let mut theirs = Command::new("mosquitto_sub");
    theirs.args(["-h", "127.0.0.1", "-p", &port, "-t", "interop/ours", "-C", "1", "-v", "-V", "mqttv5"]);
    let received = run(theirs).await;
    assert_eq!(stdout(&received), "interop/ours from mqttkit\n", "{}", stderr(&received));

    let mut their_pub = Command::new("mosquitto_pub");
    their_pub.args([
        "-h",
        "127.0.0.1",
        "-p",
        &port,
        "-t",
        "interop/theirs",
        "-m",
        "from mosquitto_pub",
        "-r",
        "-q",
        "1",
    ]);
    assert!(run(their_pub).await.status.success());
    let received = run(mqttkit(&["sub", "-L", &url, "-t", "interop/theirs", "-C", "1", "-V", "3.1.1"])).await;
    assert_eq!(stdout(&received), "from mosquitto_pub\n", "{}", stderr(&received));
    assert!(received.status.success());
}

#[tokio::test]
async fn sub_wait_ends_with_status_3_and_skips_retained_with_r() {
    let (broker, url) = broker().await;
    let published = run(mqttkit(&["pub", "-L", &url, "-t", "old/news", "-m", "stale", "-r"])).await;
    assert!(published.status.success(), "{}", stderr(&published));
    let output = run(mqttkit(&["sub", "-L", &url, "-t", "old/#", "-R", "-W", "0.2"])).await;
    assert_eq!(output.status.code(), Some(3), "{}", stderr(&output));
    assert_eq!(stdout(&output), "", "-R skipped the retained message");
    broker.shutdown().await;
}

#[tokio::test]
async fn bad_arguments_and_unreachable_brokers_are_reported_by_name() {
    let (broker, url) = broker().await;
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("mqtt://{}", listener.local_addr().unwrap())
    };
    let cases: [(&[&str], i32, &str); 7] = [
        (&["pub", "-L", &closed, "-t", "a", "-m", "x"], 1, closed.as_str()),
        (&["sub", "-L", &closed, "-t", "a"], 1, closed.as_str()),
        (&["pub", "-L", &url, "-t", "a/#", "-m", "x"], 1, "wildcard"),
        (
            &["pub", "-L", &url, "-t", "a", "-V", "3.1.1", "--content-type", "x", "-m", "y"],
            1,
            "--content-type needs MQTT 5",
        ),
        (&["pub", "-L", &url, "-t", "a"], 1, "nothing to send"),
        (&["pub", "-L", &url, "-t", "a", "-q", "3", "-m", "y"], 2, "--qos"),
        (&["sub", "-L", &url, "-t", "a", "-V", "4.0"], 2, "not an MQTT version"),
    ];
    for (args, code, text) in cases {
        let output = run(mqttkit(args)).await;
        assert_eq!(output.status.code(), Some(code), "{args:?}: {}", stderr(&output));
        assert!(stderr(&output).contains(text), "{args:?}: stderr lacks {text:?}: {}", stderr(&output));
    }
    broker.shutdown().await;
}
