//! The `mqttkit broker` command: flags, config file errors, graceful shutdown on SIGTERM.
#![cfg(all(feature = "cli", feature = "protocol-testing"))]

mod support;

use std::time::Duration;

use mqttkit::protocol::ReasonCode;
use support::TestClient;
use tokio::process::Command;

#[tokio::test]
async fn bad_config_file_is_rejected_with_file_line_and_reason() {
    let dir = std::env::temp_dir().join(format!("mqttkit-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("broker.toml");
    std::fs::write(&path, "[limits]\nmax_packet_size = 4096\nmax_bogus = 1\n").unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_mqttkit"))
        .args(["broker", "--config"])
        .arg(&path)
        .output()
        .await
        .unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains(&format!("{}:3:", path.display())), "{stderr}");
    assert!(stderr.contains("max_bogus"), "{stderr}");
}

/// SIGTERM and SIGINT (Ctrl-C) both shut down gracefully: DISCONNECT 0x8B, exit status 0.
#[cfg(unix)]
#[tokio::test]
async fn broker_command_serves_and_shuts_down_on_sigterm_and_sigint() {
    for signal in ["TERM", "INT"] {
        let (mut child, addr) = support::spawn_broker_cli(["--bind", "127.0.0.1:0", "--log", "warn"]).await;
        let mut client = TestClient::connect(addr, "cli-test").await;
        client.ping().await;
        support::send_signal(&child, signal).await;
        assert_eq!(client.expect_closed().await, Some(ReasonCode::ServerShuttingDown), "SIG{signal}");
        let exit = tokio::time::timeout(Duration::from_secs(10), child.wait()).await.expect("exits").unwrap();
        assert!(exit.success(), "SIG{signal}: {exit:?}");
    }
}

/// `--data-dir` alone turns storage on (durability `sync`): a retained message and a
/// persistent session survive a SIGTERM and a restart of the command.
#[cfg(unix)]
#[tokio::test]
async fn data_dir_flag_turns_persistence_on() {
    use mqttkit::protocol::{Connect, ConnectProperties, QoS};
    let dir = std::env::temp_dir().join(format!("mqttkit-cli-data-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let data_dir = dir.to_str().unwrap().to_owned();
    let args = ["--bind", "127.0.0.1:0", "--log", "warn", "--data-dir", &data_dir];
    let persistent = Connect {
        clean_start: false,
        properties: ConnectProperties { session_expiry_interval: Some(600), ..Default::default() },
        ..Connect::new("keeper")
    };

    let (mut child, addr) = support::spawn_broker_cli(args).await;
    let (mut keeper, _) = TestClient::connect_with(addr, persistent.clone()).await;
    keeper.subscribe("kept/#", QoS::AtLeastOnce).await;
    keeper.disconnect().await;
    let mut publisher = TestClient::connect(addr, "pub").await;
    let mut retained =
        mqttkit::protocol::Publish::new("kept/r", bytes::Bytes::from_static(b"r"), QoS::AtLeastOnce);
    retained.retain = true;
    assert_eq!(publisher.publish(retained).await, ReasonCode::Success);
    support::send_signal(&child, "TERM").await;
    assert!(
        tokio::time::timeout(Duration::from_secs(10), child.wait()).await.expect("exits").unwrap().success()
    );

    let (mut child, addr) = support::spawn_broker_cli(args).await;
    let (mut keeper, connack) = TestClient::connect_with(addr, persistent).await;
    assert!(connack.session_present);
    assert_eq!(&keeper.recv_and_ack().await.payload[..], b"r");
    support::send_signal(&child, "TERM").await;
    assert!(
        tokio::time::timeout(Duration::from_secs(10), child.wait()).await.expect("exits").unwrap().success()
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn bad_durability_flag_is_rejected() {
    let output = Command::new(env!("CARGO_BIN_EXE_mqttkit"))
        .args(["broker", "--durability", "forever"])
        .output()
        .await
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("\"forever\" is not sync, batched or memory"), "{stderr}");
}
