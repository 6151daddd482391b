//! `mqttkit acl`: checks what the ACL of a broker configuration decides (`check`), lists its
//! rules (`list`), adds and removes rules of an ACL file (`add`, `remove`: the file is
//! rewritten atomically, its other lines kept).

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use mqttkit::broker::{
    Access, Acl, AclAccess, AclConfig, AclDefault, AclRule, AclScope, BrokerConfig, ClientIdentity,
};

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
    /// Add a rule to an ACL file: to a user's block (created if needed), to the anonymous
    /// rules before any block, or as a pattern.
    Add(EditArgs),
    /// Remove a rule from an ACL file (the same arguments as `add`).
    Remove(EditArgs),
}

#[derive(Debug, clap::Args)]
struct EditArgs {
    /// The ACL file (Mosquitto `acl_file` syntax); `add` creates it if it does not exist.
    #[arg(long, short = 'f', value_name = "FILE")]
    file: PathBuf,
    /// The user whose block the rule is in (none: the anonymous rules).
    #[arg(long, short = 'u', conflicts_with = "pattern")]
    user: Option<String>,
    /// A `pattern` rule (every client; `%u` and `%c` substituted).
    #[arg(long, short = 'p')]
    pattern: bool,
    /// read, write, readwrite or deny.
    #[arg(value_parser = parse_access)]
    access: AclAccess,
    /// The topic filter.
    topic: String,
}

fn parse_access(text: &str) -> Result<AclAccess, String> {
    AclAccess::parse(text).ok_or_else(|| format!("{text:?} is not read, write, readwrite or deny"))
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
        AclCommand::Add(args) => edit(&args, true).map(|()| ExitCode::SUCCESS),
        AclCommand::Remove(args) => edit(&args, false).map(|()| ExitCode::SUCCESS),
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

/// The block a line of an ACL file is in.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Block {
    Anonymous,
    User(String),
}

/// Adds (`add`) or removes the rule `args` describes, then checks and writes the file.
fn edit(args: &EditArgs, add: bool) -> Result<(), String> {
    let keyword = if args.pattern { "pattern" } else { "topic" };
    let scope = match (&args.user, args.pattern) {
        (_, true) => AclScope::Everyone,
        (Some(user), false) => AclScope::User(user.clone()),
        (None, false) => AclScope::Anonymous,
    };
    let rule = AclRule {
        scope,
        client_id: None,
        access: args.access,
        topic: args.topic.clone(),
        pattern: args.pattern,
        origin: "the new rule".into(),
    };
    Acl::new(vec![rule], AclDefault::Deny)?;
    let text = match std::fs::read_to_string(&args.file) {
        Ok(text) => {
            // The file must be valid as it is: the edit then keeps it so.
            Acl::from_config(&AclConfig { file: Some(args.file.clone()), ..Default::default() })
                .map_err(|error| error.to_string())?;
            text
        }
        Err(error) if add && error.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(error) => return Err(format!("{}: {error}", args.file.display())),
    };
    let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
    let wanted = args.user.clone().map_or(Block::Anonymous, Block::User);
    let new_line = format!("{keyword} {} {}", args.access.as_str(), args.topic);
    // The rule's line if it is there, the end of the block it goes in, the first block.
    let mut block = Block::Anonymous;
    let mut found = None;
    let mut block_end = None;
    let mut first_user = None;
    for (index, line) in lines.iter().enumerate() {
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            ["user", ..] => {
                let name = line.trim_start()["user".len()..].trim().to_owned();
                first_user.get_or_insert(index);
                block = Block::User(name);
            }
            [word, ..]
                if *word == keyword && same_rule(&words, args) && (args.pattern || block == wanted) =>
            {
                found = Some(index);
            }
            _ => {}
        }
        if block == wanted && matches!(words.first(), Some(&"topic" | &"user")) {
            block_end = Some(index + 1);
        }
    }
    match (add, found) {
        (true, Some(line)) => {
            return Err(format!("{}:{}: this rule is already there", args.file.display(), line + 1));
        }
        (false, None) => return Err(format!("no such rule in {}: {new_line}", args.file.display())),
        (false, Some(line)) => {
            lines.remove(line);
        }
        (true, None) if args.pattern => lines.push(new_line),
        (true, None) => match (&wanted, block_end, first_user) {
            (Block::User(_), Some(end), _) => lines.insert(end, new_line),
            (Block::User(user), None, _) => {
                if lines.last().is_some_and(|l| !l.trim().is_empty()) {
                    lines.push(String::new());
                }
                lines.push(format!("user {user}"));
                lines.push(new_line);
            }
            (Block::Anonymous, Some(end), _) => lines.insert(end, new_line),
            (Block::Anonymous, None, Some(first)) => lines.insert(first, new_line),
            (Block::Anonymous, None, None) => lines.push(new_line),
        },
    }
    let mut text = lines.join("\n");
    text.push('\n');
    write_atomically(&args.file, &text)
}

/// Whether the words of a `topic` / `pattern` line are the rule of `args` (no access word
/// means readwrite).
fn same_rule(words: &[&str], args: &EditArgs) -> bool {
    let (access, topic) = match words {
        [_, topic] => (AclAccess::ReadWrite, vec![*topic]),
        [_, access, topic @ ..] => match AclAccess::parse(access) {
            Some(access) => (access, topic.to_vec()),
            None => return false,
        },
        _ => return false,
    };
    access == args.access && topic.join(" ") == args.topic
}

/// Writes `text` to a temporary file beside `path`, then renames it over `path`.
fn write_atomically(path: &Path, text: &str) -> Result<(), String> {
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let temp = dir.join(format!(".{name}.tmp{}", std::process::id()));
    let written = std::fs::File::create(&temp).and_then(|mut file| {
        file.write_all(text.as_bytes())?;
        file.sync_all()
    });
    let renamed = written.and_then(|()| std::fs::rename(&temp, path));
    renamed.map_err(|error| {
        let _ = std::fs::remove_file(&temp);
        format!("writing {}: {error}", path.display())
    })
}
