//! `mqttkit pub`: publish one message, a file, or standard input (whole or line by line),
//! waiting for every acknowledgement, like `mosquitto_pub`.

use std::collections::VecDeque;
use std::path::PathBuf;
use std::time::Duration;

use bytes::Bytes;
use mqttkit::client::{Client, Pending, PublishOptions, PublishResult, ReconnectPolicy};
use mqttkit::protocol::QoS;
use tokio::io::{AsyncBufReadExt, AsyncReadExt};

use crate::connect_args::ConnectArgs;

/// Publications handed to the client whose acknowledgement is still awaited, at most.
const WINDOW: usize = 64;

/// Arguments of `mqttkit pub`.
#[derive(Debug, clap::Args)]
pub(crate) struct PubArgs {
    #[command(flatten)]
    connect: ConnectArgs,
    /// Topic to publish to.
    #[arg(long, short = 't')]
    topic: String,
    /// The message.
    #[arg(long, short = 'm', group = "source")]
    message: Option<String>,
    /// Send the contents of FILE as the message.
    #[arg(long, short = 'f', value_name = "FILE", group = "source")]
    file: Option<PathBuf>,
    /// Send an empty message (with -r: deletes the retained message).
    #[arg(long = "null-message", short = 'n', group = "source")]
    null_message: bool,
    /// Send all of standard input as one message.
    #[arg(long = "stdin-file", short = 's', group = "source")]
    stdin_file: bool,
    /// Send each line of standard input as a message.
    #[arg(long = "stdin-line", short = 'l', group = "source")]
    stdin_line: bool,
    /// Quality of service: 0, 1 or 2.
    #[arg(long, short = 'q', default_value_t = 0, value_parser = clap::value_parser!(u8).range(0..=2))]
    qos: u8,
    /// Retain the message.
    #[arg(long, short = 'r')]
    retain: bool,
    /// MQTT 5 Content Type.
    #[arg(long, value_name = "TYPE")]
    content_type: Option<String>,
    /// MQTT 5 Response Topic.
    #[arg(long, value_name = "TOPIC")]
    response_topic: Option<String>,
    /// MQTT 5 Correlation Data.
    #[arg(long, value_name = "DATA")]
    correlation_data: Option<String>,
    /// MQTT 5 Message Expiry Interval in seconds.
    #[arg(long, value_name = "SECS")]
    message_expiry: Option<u32>,
    /// MQTT 5 User Property NAME=VALUE (repeatable, sent in this order).
    #[arg(long = "user-property", short = 'D', value_name = "NAME=VALUE", value_parser = parse_pair)]
    user_properties: Vec<(String, String)>,
}

fn parse_pair(text: &str) -> Result<(String, String), String> {
    text.split_once('=')
        .map(|(name, value)| (name.to_owned(), value.to_owned()))
        .ok_or_else(|| format!("`{text}` is not NAME=VALUE"))
}

impl PubArgs {
    fn options(&self) -> Result<PublishOptions, String> {
        let v5_only = [
            ("--content-type", self.content_type.is_some()),
            ("--response-topic", self.response_topic.is_some()),
            ("--correlation-data", self.correlation_data.is_some()),
            ("--message-expiry", self.message_expiry.is_some()),
            ("--user-property", !self.user_properties.is_empty()),
        ];
        if let Some((flag, _)) = v5_only.iter().find(|(_, given)| *given).filter(|_| !self.connect.is_v5()) {
            return Err(format!("{flag} needs MQTT 5 (-V 5)"));
        }
        let mut options =
            PublishOptions::qos(QoS::from_u8(self.qos).expect("parsed 0..=2")).retain(self.retain);
        if let Some(content_type) = &self.content_type {
            options = options.content_type(content_type.as_str());
        }
        if let Some(topic) = &self.response_topic {
            options = options.response_topic(topic.as_str());
        }
        if let Some(data) = &self.correlation_data {
            options = options.correlation_data(data.clone().into_bytes());
        }
        if let Some(seconds) = self.message_expiry {
            options = options.message_expiry(Duration::from_secs(seconds.into()));
        }
        for (name, value) in &self.user_properties {
            options = options.user_property(name.as_str(), value.as_str());
        }
        Ok(options)
    }

    /// The single message to send, unless messages come line by line from stdin.
    async fn single_payload(&self) -> Result<Option<Bytes>, String> {
        if let Some(message) = &self.message {
            return Ok(Some(Bytes::from(message.clone())));
        }
        if let Some(path) = &self.file {
            return std::fs::read(path)
                .map(|data| Some(data.into()))
                .map_err(|e| format!("{}: {e}", path.display()));
        }
        if self.stdin_file {
            let mut data = Vec::new();
            tokio::io::stdin().read_to_end(&mut data).await.map_err(|e| format!("standard input: {e}"))?;
            return Ok(Some(data.into()));
        }
        if self.null_message {
            return Ok(Some(Bytes::new()));
        }
        if self.stdin_line {
            return Ok(None);
        }
        Err("nothing to send: give -m MESSAGE, -f FILE, -n, -s or -l".into())
    }
}

/// Publishes `payload` and keeps at most [`WINDOW`] acknowledgements outstanding.
async fn send(
    client: &Client,
    args: &PubArgs,
    options: &PublishOptions,
    payload: Bytes,
    window: &mut VecDeque<Pending<PublishResult>>,
) -> Result<(), String> {
    if window.len() == WINDOW {
        window.pop_front().expect("full").wait().await.map_err(|e| e.to_string())?;
    }
    let pending = client
        .submit_publish_with(args.topic.as_str(), payload, options.clone())
        .await
        .map_err(|e| e.to_string())?;
    window.push_back(pending);
    Ok(())
}

/// Runs `mqttkit pub`.
pub(crate) async fn run(args: PubArgs) -> Result<(), String> {
    let options = args.options()?;
    let single = args.single_payload().await?;
    let client_options =
        args.connect.builder()?.reconnect(ReconnectPolicy::disabled()).build().map_err(|e| e.to_string())?;
    // Every operation is awaited here, so the event stream is not needed: dropping it
    // discards the events.
    let (client, _) = Client::with_events(client_options).map_err(|e| e.to_string())?;
    client.connect().await.map_err(|e| format!("{}: {e}", args.connect.url()))?;
    let mut window = VecDeque::with_capacity(WINDOW);
    let outcome = async {
        match single {
            Some(payload) => send(&client, &args, &options, payload, &mut window).await?,
            None => {
                let mut lines = tokio::io::BufReader::new(tokio::io::stdin()).lines();
                while let Some(line) = lines.next_line().await.map_err(|e| format!("standard input: {e}"))? {
                    send(&client, &args, &options, Bytes::from(line), &mut window).await?;
                }
            }
        }
        for pending in window.drain(..) {
            pending.wait().await.map_err(|e| e.to_string())?;
        }
        Ok::<(), String>(())
    }
    .await;
    let closed = client.disconnect().await.map_err(|e| e.to_string());
    let _ = client.shutdown().await;
    outcome.and(closed)
}
