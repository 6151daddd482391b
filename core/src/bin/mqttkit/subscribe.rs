//! `mqttkit sub`: subscribe to topic filters and print every message, like
//! `mosquitto_sub`; reconnects (and subscribes again) when the connection is lost.

use std::time::Duration;

use mqttkit::client::{Client, SubscribeOptions};
use mqttkit::dispatch::{Event, EventStream};
use mqttkit::protocol::{QoS, RetainHandling, Subscription, SubscriptionOptions};
use tokio::io::AsyncWriteExt;

use crate::connect_args::{ConnectArgs, parse_seconds};

/// Exit status when `--wait` ran out (errors exit with 1).
pub(crate) const TIMED_OUT: u8 = 3;

/// Arguments of `mqttkit sub`.
#[derive(Debug, clap::Args)]
pub(crate) struct SubArgs {
    #[command(flatten)]
    connect: ConnectArgs,
    /// Topic filter to subscribe to (repeatable).
    #[arg(long = "topic", short = 't', value_name = "FILTER", required = true)]
    filters: Vec<String>,
    /// Maximum quality of service: 0, 1 or 2.
    #[arg(long, short = 'q', default_value_t = 0, value_parser = clap::value_parser!(u8).range(0..=2))]
    qos: u8,
    /// Print the topic, then a space, before each payload.
    #[arg(long, short = 'v')]
    verbose: bool,
    /// Print no newline after each payload.
    #[arg(long = "no-newline", short = 'N')]
    no_newline: bool,
    /// Exit after COUNT messages.
    #[arg(long, short = 'C')]
    count: Option<u64>,
    /// Exit after SECS seconds (exit status 3) unless COUNT messages came first.
    #[arg(long = "wait", short = 'W', value_name = "SECS", value_parser = parse_seconds)]
    wait: Option<f64>,
    /// Skip messages with the RETAIN flag (those the broker kept from before).
    #[arg(long = "no-retained", short = 'R')]
    no_retained: bool,
    /// Keep the session: no Clean Start, so the broker queues messages while away.
    #[arg(long = "no-clean", short = 'c')]
    no_clean: bool,
    /// MQTT 5 Session Expiry Interval in seconds.
    #[arg(long = "session-expiry", short = 'x', value_name = "SECS")]
    session_expiry: Option<u32>,
    /// MQTT 5 No Local: not the messages this client publishes.
    #[arg(long)]
    no_local: bool,
    /// MQTT 5 Retain As Published: keep the RETAIN flag of forwarded messages.
    #[arg(long)]
    retain_as_published: bool,
    /// MQTT 5 Retain Handling: 0 send retained messages, 1 only for a new subscription, 2 never.
    #[arg(long, default_value_t = 0, value_parser = clap::value_parser!(u8).range(0..=2))]
    retain_handling: u8,
}

impl SubArgs {
    fn subscriptions(&self) -> Vec<Subscription> {
        let retain_handling = match self.retain_handling {
            0 => RetainHandling::SendAtSubscribe,
            1 => RetainHandling::SendIfNewSubscription,
            _ => RetainHandling::DoNotSend,
        };
        let options = SubscriptionOptions {
            no_local: self.no_local,
            retain_as_published: self.retain_as_published,
            retain_handling,
            ..SubscriptionOptions::new(QoS::from_u8(self.qos).expect("parsed 0..=2"))
        };
        self.filters.iter().map(|filter| Subscription { filter: filter.as_str().into(), options }).collect()
    }
}

/// How `mqttkit sub` ended, when it did not fail.
pub(crate) enum Ending {
    /// `--count` messages were printed, or the process was asked to stop.
    Done,
    /// `--wait` ran out first.
    TimedOut,
}

/// Prints messages until `--count` is reached or the event stream ends.
async fn print_messages(args: &SubArgs, events: &mut EventStream) -> Result<(), String> {
    let mut stdout = tokio::io::stdout();
    let mut printed = 0;
    while args.count.is_none_or(|count| printed < count) {
        let Some(event) = events.next().await else { return Err("the client stopped".into()) };
        match event {
            Event::Message(message) if !(args.no_retained && message.retain) => {
                let mut line = Vec::with_capacity(message.topic.len() + message.payload.len() + 2);
                if args.verbose {
                    line.extend_from_slice(message.topic.as_bytes());
                    line.push(b' ');
                }
                line.extend_from_slice(&message.payload);
                if !args.no_newline {
                    line.push(b'\n');
                }
                stdout.write_all(&line).await.map_err(|e| format!("standard output: {e}"))?;
                stdout.flush().await.map_err(|e| format!("standard output: {e}"))?;
                printed += 1;
            }
            Event::ConnectionLost(error) => eprintln!("mqttkit sub: connection lost: {error}"),
            Event::ReconnectAttempt { attempt, delay } => {
                eprintln!("mqttkit sub: reconnecting in {delay:?} (attempt {attempt})");
            }
            Event::Error(error) => eprintln!("mqttkit sub: {error}"),
            _ => {}
        }
    }
    Ok(())
}

/// Runs `mqttkit sub` until `--count`, `--wait` or `stop` ends it.
pub(crate) async fn run(args: SubArgs, stop: impl Future<Output = ()>) -> Result<Ending, String> {
    if !args.connect.is_v5()
        && (args.session_expiry.is_some()
            || args.no_local
            || args.retain_as_published
            || args.retain_handling != 0)
    {
        return Err(
            "--session-expiry, --no-local, --retain-as-published and --retain-handling need MQTT 5 (-V 5)"
                .into(),
        );
    }
    let mut builder = args.connect.builder()?.clean_start(!args.no_clean);
    if let Some(seconds) = args.session_expiry {
        builder = builder.session_expiry_interval(seconds);
    }
    let (client, mut events) =
        Client::with_events(builder.build().map_err(|e| e.to_string())?).map_err(|e| e.to_string())?;
    let outcome = async {
        client.connect().await.map_err(|e| format!("{}: {e}", args.connect.url()))?;
        client
            .subscribe_with(args.subscriptions(), SubscribeOptions::default())
            .await
            .map_err(|e| e.to_string())?;
        let wait = async {
            match args.wait {
                Some(seconds) => tokio::time::sleep(Duration::from_secs_f64(seconds)).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            printed = print_messages(&args, &mut events) => printed.map(|()| Ending::Done),
            () = wait => Ok(Ending::TimedOut),
            () = stop => Ok(Ending::Done),
        }
    }
    .await;
    if client.is_connected() {
        let _ = client.disconnect().await;
    }
    let _ = client.shutdown().await;
    outcome
}
