//! `mqttkit passwd`: adds, updates or deletes a user of a password file (argon2id PHC
//! strings, see `mqttkit::broker::PasswordFile`), like `mosquitto_passwd`. The file is
//! rewritten atomically, its other lines kept.

use std::io::{BufRead as _, IsTerminal as _, Write as _};
use std::path::PathBuf;

use mqttkit::broker::{PasswordFile, check_username};

/// Arguments of `mqttkit passwd`.
#[derive(Debug, clap::Args)]
pub(crate) struct PasswdArgs {
    /// Create the file (replacing an existing one) instead of updating it.
    #[arg(short = 'c', long, conflicts_with = "delete")]
    create: bool,
    /// Delete the user instead of setting its password.
    #[arg(short = 'D', long)]
    delete: bool,
    /// The password (visible in the process list: prefer the prompt or --stdin).
    #[arg(long, conflicts_with_all = ["stdin", "delete"])]
    password: Option<String>,
    /// Read the password from the first line of standard input.
    #[arg(long, conflicts_with = "delete")]
    stdin: bool,
    /// The password file.
    file: PathBuf,
    /// The user name.
    username: String,
}

/// Runs `mqttkit passwd`.
pub(crate) fn run(args: PasswdArgs) -> Result<(), String> {
    check_username(&args.username)?;
    let mut file = if args.create {
        PasswordFile::new()
    } else if args.file.exists() {
        PasswordFile::read(&args.file).map_err(|e| e.to_string())?
    } else {
        return Err(format!("{} does not exist (use -c to create it)", args.file.display()));
    };
    if args.delete {
        if !file.remove(&args.username) {
            return Err(format!("user {:?} is not in {}", args.username, args.file.display()));
        }
    } else {
        let password = match (args.password, args.stdin) {
            (Some(password), _) => password,
            (None, true) => read_stdin_line()?,
            (None, false) => prompt_twice()?,
        };
        if password.is_empty() {
            return Err("the password is empty".into());
        }
        file.set_password(&args.username, password.as_bytes())?;
    }
    file.write(&args.file).map_err(|e| e.to_string())
}

fn read_stdin_line() -> Result<String, String> {
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line).map_err(|e| format!("reading standard input: {e}"))?;
    Ok(line.strip_suffix('\n').map(|l| l.strip_suffix('\r').unwrap_or(l)).unwrap_or(&line).to_owned())
}

/// Asks for the password twice on the terminal, without echo.
fn prompt_twice() -> Result<String, String> {
    if !std::io::stdin().is_terminal() {
        return Err("standard input is not a terminal: give the password with --stdin or --password".into());
    }
    let first = prompt("Password: ")?;
    let second = prompt("Reenter password: ")?;
    if first != second {
        return Err("the passwords do not match".into());
    }
    Ok(first)
}

fn prompt(label: &str) -> Result<String, String> {
    eprint!("{label}");
    let _ = std::io::stderr().flush();
    let hidden = set_echo(false);
    let line = read_stdin_line();
    if hidden {
        set_echo(true);
        eprintln!();
    }
    line
}

/// Turns the terminal's echo off or on with `stty` (no dependency, no unsafe code); false
/// if it could not.
fn set_echo(on: bool) -> bool {
    #[cfg(unix)]
    {
        std::process::Command::new("stty")
            .arg(if on { "echo" } else { "-echo" })
            .stdin(std::process::Stdio::inherit())
            .status()
            .is_ok_and(|status| status.success())
    }
    #[cfg(not(unix))]
    {
        let _ = on;
        false
    }
}
