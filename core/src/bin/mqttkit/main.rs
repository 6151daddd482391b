//! The `mqttkit` command-line tool.
//!
//! `mqttkit broker [--config FILE] [--bind ADDR:PORT]... [--data-dir DIR] [--log LEVEL]`
//! runs the broker until SIGINT or SIGTERM, then shuts it down gracefully.
//!
//! `mqttkit bench [--brokers mqttkit,mosquitto,rumqttd] [--duration SECS] ...` runs the same
//! load against several brokers on 127.0.0.1 and prints the results side by side.
//!
//! `mqttkit pub -t TOPIC -m MESSAGE [-q QOS] [-r] [-L URL] ...` publishes and
//! `mqttkit sub -t FILTER... [-v] [-C COUNT] [-L URL] ...` prints messages, in the manner of
//! `mosquitto_pub` and `mosquitto_sub`.
//!
//! `mqttkit passwd [-c] [-D] [--password P | --stdin] FILE USERNAME` edits a password file
//! (like `mosquitto_passwd`, with argon2id); `mqttkit acl check --config FILE [--user U]
//! [--client-id C] --topic T --access read|write|subscribe` tells what the configured ACL
//! decides and why, `mqttkit acl list --config FILE` lists its rules, `mqttkit acl add|remove
//! --file FILE [--user U | --pattern] ACCESS TOPIC` edits an ACL file.

mod acl;
mod bench;
mod connect_args;
mod passwd;
mod publish;
mod subscribe;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use mqttkit::broker::{Broker, BrokerConfig, BrokerHandle, Durability, ListenerConfig};

/// MQTT v5 / v3.1.1 engine: broker and tools.
#[derive(Debug, Parser)]
#[command(name = "mqttkit", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the MQTT broker (MQTT 5.0 and 3.1.1 on the same listeners).
    Broker(BrokerArgs),
    /// Benchmark the mqttkit broker against Mosquitto and rumqttd on 127.0.0.1.
    Bench(bench::BenchArgs),
    /// Publish a message, a file, or standard input (like mosquitto_pub).
    Pub(publish::PubArgs),
    /// Subscribe and print messages (like mosquitto_sub).
    Sub(subscribe::SubArgs),
    /// Add, update or delete a user of a password file (argon2id; like mosquitto_passwd).
    Passwd(passwd::PasswdArgs),
    /// Check or list the ACL of a broker configuration; add or remove rules of an ACL file.
    Acl(acl::AclArgs),
}

#[derive(Debug, clap::Args)]
struct BrokerArgs {
    /// TOML configuration file (see `BrokerConfig`); errors name the file, line and reason.
    #[arg(long, short = 'c', value_name = "FILE")]
    config: Option<PathBuf>,
    /// Listen on this address instead of the configured listeners (repeatable). Default:
    /// 127.0.0.1:1883.
    #[arg(long, short = 'b', value_name = "ADDR:PORT")]
    bind: Vec<SocketAddr>,
    /// Data directory for persistent storage (overrides `storage.data_dir`). Turns storage
    /// on: durability `memory` (the default) becomes `sync` unless `--durability` says
    /// otherwise.
    #[arg(long, value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// Durability policy (overrides `storage.durability`): `sync` (acknowledged means on
    /// disk), `batched` (group commit every `storage.commit_interval_ms`) or `memory`.
    #[arg(long, value_name = "POLICY", value_parser = parse_durability)]
    durability: Option<Durability>,
    /// Log filter: a level (error, warn, info, debug, trace) or a tracing directive such as
    /// `mqttkit=debug`. Default: `RUST_LOG`, else `info`.
    #[arg(long, value_name = "LEVEL")]
    log: Option<String>,
}

fn parse_durability(value: &str) -> Result<Durability, String> {
    match value {
        "sync" => Ok(Durability::Sync),
        "batched" => Ok(Durability::Batched),
        "memory" => Ok(Durability::Memory),
        other => Err(format!("{other:?} is not sync, batched or memory")),
    }
}

fn init_logging(filter: Option<&str>) -> Result<(), String> {
    use tracing_subscriber::EnvFilter;
    let filter = match filter {
        Some(directive) => EnvFilter::try_new(directive).map_err(|e| format!("--log {directive:?}: {e}"))?,
        None => EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
    };
    tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).init();
    Ok(())
}

/// Resolves when SIGINT or (on Unix) SIGTERM arrives.
async fn termination() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

async fn run_broker(args: BrokerArgs) -> Result<(), String> {
    let mut config = match &args.config {
        Some(path) => BrokerConfig::from_toml_file(path).map_err(|e| e.to_string())?,
        None => BrokerConfig::default(),
    };
    if !args.bind.is_empty() {
        config.listeners = args.bind.iter().map(|&bind| ListenerConfig::tcp(bind)).collect();
    }
    if let Some(durability) = args.durability {
        config.storage.durability = durability;
    }
    if let Some(dir) = args.data_dir {
        config.storage.data_dir = Some(dir);
        match args.durability {
            Some(Durability::Memory) => {
                tracing::warn!("--data-dir given with --durability memory: nothing is stored");
            }
            Some(_) => {}
            None if config.storage.durability == Durability::Memory => {
                tracing::info!("--data-dir given: storage.durability = \"sync\"");
                config.storage.durability = Durability::Sync;
            }
            None => {}
        }
    }
    let broker = Broker::builder().config(config).start().await.map_err(|e| e.to_string())?;
    for addr in broker.local_addrs() {
        // On stdout so that scripts can find the port when they bind port 0.
        println!("mqttkit broker listening on {addr}");
    }
    serve_until_terminated(&broker).await;
    tracing::info!("shutting down");
    broker.shutdown().await;
    Ok(())
}

/// Waits for SIGINT or SIGTERM; on SIGHUP meanwhile, reloads the password file and the ACL
/// file (a bad file is logged and the rules in force stay).
async fn serve_until_terminated(broker: &BrokerHandle) {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut hangups = match signal(SignalKind::hangup()) {
            Ok(hangups) => hangups,
            Err(error) => {
                tracing::warn!(%error, "cannot listen for SIGHUP: no reloading");
                return termination().await;
            }
        };
        let terminated = termination();
        tokio::pin!(terminated);
        loop {
            tokio::select! {
                () = &mut terminated => return,
                _ = hangups.recv() => match broker.reload_auth() {
                    Ok(()) => tracing::info!("SIGHUP: password file and ACL reloaded"),
                    Err(error) => tracing::error!(%error, "SIGHUP: reload failed; the rules in force stay"),
                },
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = broker;
        termination().await;
    }
}

/// Runs a client command on a fresh runtime; errors are printed with the command's name.
fn run_client_command(name: &str, command: impl Future<Output = Result<ExitCode, String>>) -> ExitCode {
    let outcome = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the Tokio runtime: {e}"))
        .and_then(|runtime| runtime.block_on(command));
    outcome.unwrap_or_else(|error| {
        eprintln!("mqttkit {name}: {error}");
        ExitCode::FAILURE
    })
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let args = match cli.command {
        Command::Broker(args) => args,
        Command::Bench(args) => {
            return match bench::run(args) {
                Ok(()) => ExitCode::SUCCESS,
                Err(error) => {
                    eprintln!("mqttkit bench: {error}");
                    ExitCode::FAILURE
                }
            };
        }
        Command::Pub(args) => {
            return run_client_command("pub", async { publish::run(args).await.map(|()| ExitCode::SUCCESS) });
        }
        Command::Passwd(args) => {
            return match passwd::run(args) {
                Ok(()) => ExitCode::SUCCESS,
                Err(error) => {
                    eprintln!("mqttkit passwd: {error}");
                    ExitCode::from(2)
                }
            };
        }
        Command::Acl(args) => {
            return acl::run(args).unwrap_or_else(|error| {
                eprintln!("mqttkit acl: {error}");
                ExitCode::from(2)
            });
        }
        Command::Sub(args) => {
            return run_client_command("sub", async {
                Ok(match subscribe::run(args, termination()).await? {
                    subscribe::Ending::Done => ExitCode::SUCCESS,
                    subscribe::Ending::TimedOut => ExitCode::from(subscribe::TIMED_OUT),
                })
            });
        }
    };
    if let Err(error) = init_logging(args.log.as_deref()) {
        eprintln!("mqttkit: {error}");
        return ExitCode::from(2);
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("mqttkit: cannot start the Tokio runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run_broker(args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("mqttkit: {error}");
            ExitCode::FAILURE
        }
    }
}
