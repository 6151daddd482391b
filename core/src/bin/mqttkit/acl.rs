//! `mqttkit acl`: checks what the ACL of a broker configuration decides (`check`), lists its
//! rules (`list`).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use mqttkit::broker::{Access, Acl, AclDefault, BrokerConfig, ClientIdentity};

/// Arguments of `mqttkit acl`.
#[derive(Debug, clap::Args)]
pub(crate) struct AclArgs {
    #[command(subcommand)]
    command: AclCommand,
}

#[derive(Debug, clap::Subcommand)]
enum AclCommand {
    /// Print whether a client may read, write or subscribe, and the rule that decided; the
    /// exit status is 0 for allow, 1 for deny.
    Check(CheckArgs),
    /// Print every rule, in the order they are given, and the default.
    List(ConfigArg),
}

#[derive(Debug, clap::Args)]
struct ConfigArg {
    /// The broker's TOML configuration (its `[acl]` table).
    #[arg(long, short = 'c', value_name = "FILE")]
    config: PathBuf,
}

/// What is checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum CheckedAccess {
    /// Receive messages on a topic.
    Read,
    /// Publish to a topic.
    Write,
    /// Subscribe to a topic filter.
    Subscribe,
}

#[derive(Debug, clap::Args)]
struct CheckArgs {
    #[command(flatten)]
    config: ConfigArg,
    /// The user name (none: an anonymous client).
    #[arg(long, short = 'u')]
    user: Option<String>,
    /// The client identifier (for `%c` patterns and client_id rules).
    #[arg(long, short = 'i', default_value = "")]
    client_id: String,
    /// The topic name (a topic filter with `--access subscribe`).
    #[arg(long, short = 't')]
    topic: String,
    /// What the client wants to do.
    #[arg(long, short = 'a', value_enum)]
    access: CheckedAccess,
}

fn load(path: &Path) -> Result<Option<Acl>, String> {
    let config = BrokerConfig::from_toml_file(path).map_err(|e| e.to_string())?;
    Acl::from_config(&config.acl).map_err(|e| e.to_string())
}

/// Runs `mqttkit acl`.
pub(crate) fn run(args: AclArgs) -> Result<ExitCode, String> {
    match args.command {
        AclCommand::List(args) => {
            match load(&args.config)? {
                Some(acl) => {
                    for rule in acl.rules() {
                        println!("{rule}");
                    }
                    let default = match acl.default_decision() {
                        AclDefault::Allow => "allow",
                        AclDefault::Deny => "deny",
                    };
                    println!("default: {default}");
                }
                None => println!("no ACL configured: every client may read and write every topic"),
            }
            Ok(ExitCode::SUCCESS)
        }
        AclCommand::Check(args) => {
            let Some(acl) = load(&args.config.config)? else {
                println!("allow (no ACL configured)");
                return Ok(ExitCode::SUCCESS);
            };
            let client = ClientIdentity { client_id: &args.client_id, username: args.user.as_deref() };
            let decision = match args.access {
                CheckedAccess::Read => acl.check(&client, Access::Read, &args.topic),
                CheckedAccess::Write => acl.check(&client, Access::Write, &args.topic),
                CheckedAccess::Subscribe => acl.check_subscribe(&client, &args.topic),
            };
            println!("{decision}");
            Ok(if decision.allowed { ExitCode::SUCCESS } else { ExitCode::FAILURE })
        }
    }
}
