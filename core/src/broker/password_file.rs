//! Password files, in the manner of `mosquitto_passwd` but with argon2id: one
//! `username:$argon2id$v=19$m=...,t=...,p=...$salt$hash` per line (a PHC string), `#`
//! comment lines and blank lines kept as they are. `mqttkit passwd` writes them.
//!
//! Users of a password file authenticate with CONNECT's User Name and Password only: SCRAM
//! needs keys derived from the plain password, which the file does not keep (use
//! `[[auth.users]]` for SCRAM users).

use std::collections::HashMap;
use std::io::Write as _;
use std::path::Path;

use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use argon2::{ARGON2ID_IDENT, Argon2, Params, PasswordHash};

use super::error::BrokerError;

/// The largest memory cost accepted in a hash, in KiB (1 GiB): a larger one is a typing
/// error that would make every verification exhaust memory.
const MAX_MEMORY_KIB: u32 = 1024 * 1024;

/// A hash of a password nobody has, verified for unknown users so that they take as long
/// to refuse as known users with a wrong password.
const UNKNOWN_USER_HASH: &str =
    "$argon2id$v=19$m=19456,t=2,p=1$L5Xau0gl8s1jThcmt0zF1w$fT8B+fz3vAXDLNUl/kT8tZBVGvIeRi7PkxcHWXrVdJk";

/// One line of a password file.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Line {
    /// A comment or a blank line, kept verbatim.
    Other(String),
    /// A user and the PHC string of its password.
    User { name: String, hash: String },
}

/// A password file: its users with their argon2id hashes, and its other lines, so that
/// rewriting it keeps them.
#[derive(Clone, PartialEq, Eq)]
pub struct PasswordFile {
    lines: Vec<Line>,
}

impl std::fmt::Debug for PasswordFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PasswordFile").field("users", &self.users().collect::<Vec<_>>()).finish()
    }
}

/// Checks a user name for a password file: non-empty, no `:`, no line break, no leading or
/// trailing blank.
///
/// # Errors
/// The reason it cannot be used.
pub fn check_username(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("the user name is empty".into());
    }
    if name.contains([':', '\n', '\r']) {
        return Err(format!("user name {name:?} contains ':' or a line break"));
    }
    if name.trim() != name {
        return Err(format!("user name {name:?} starts or ends with a blank"));
    }
    Ok(())
}

/// Checks that `hash` is an argon2id PHC string this broker can verify.
fn check_hash(hash: &str) -> Result<(), String> {
    if hash.starts_with("$6$") || hash.starts_with("$7$") {
        return Err("this is a mosquitto_passwd hash (sha512 / PBKDF2): set the password again with \
                    `mqttkit passwd`, which writes argon2id"
            .into());
    }
    let parsed = PasswordHash::new(hash).map_err(|e| format!("not a PHC string ({e})"))?;
    if parsed.algorithm != ARGON2ID_IDENT {
        return Err(format!("algorithm {} is not argon2id", parsed.algorithm));
    }
    let params = Params::try_from(&parsed).map_err(|e| format!("bad argon2id parameters ({e})"))?;
    if params.m_cost() > MAX_MEMORY_KIB {
        return Err(format!(
            "memory cost m={} is above the maximum of {MAX_MEMORY_KIB} KiB",
            params.m_cost()
        ));
    }
    if parsed.salt.is_none() || parsed.hash.is_none() {
        return Err("the PHC string has no salt or no hash".into());
    }
    Ok(())
}

/// Hashes a password with argon2id (default parameters: 19 MiB, 2 passes) and a random salt,
/// as a PHC string.
///
/// # Errors
/// If the system's random number generator fails.
pub fn hash_password(password: &[u8]) -> Result<String, String> {
    Argon2::default()
        .hash_password(password)
        .map(|hash| hash.to_string())
        .map_err(|e| format!("cannot hash the password: {e}"))
}

/// Whether `password` matches the PHC string `hash`. Slow by design (tens of milliseconds):
/// call it from a blocking thread, not from an async task.
pub fn verify_password(hash: &str, password: &[u8]) -> bool {
    PasswordHash::new(hash).is_ok_and(|parsed| Argon2::default().verify_password(password, &parsed).is_ok())
}

/// Spends the time of one verification for a user that does not exist; always false.
pub(crate) fn verify_unknown_user(password: &[u8]) -> bool {
    let _ = verify_password(UNKNOWN_USER_HASH, password);
    false
}

impl PasswordFile {
    /// An empty file.
    pub fn new() -> Self {
        PasswordFile { lines: Vec::new() }
    }

    /// Parses the text of a password file; `origin` names it in errors.
    ///
    /// # Errors
    /// [`BrokerError::Config`] naming `origin`, the line and the reason of the first bad line
    /// (no `:`, a bad user name, a hash that is not argon2id, a user listed twice).
    pub fn parse(text: &str, origin: &str) -> Result<Self, BrokerError> {
        let mut lines = Vec::new();
        let mut seen: HashMap<&str, usize> = HashMap::new();
        for (index, raw) in text.lines().enumerate() {
            let line = index + 1;
            let error =
                |reason: String| BrokerError::Config { origin: origin.to_owned(), line, column: 1, reason };
            let content = raw.trim_end();
            if content.trim_start().is_empty() || content.trim_start().starts_with('#') {
                lines.push(Line::Other(content.to_owned()));
                continue;
            }
            let Some((name, hash)) = content.split_once(':') else {
                return Err(error("expected username:$argon2id$... (no ':' on this line)".into()));
            };
            check_username(name).map_err(error)?;
            check_hash(hash).map_err(|reason| error(format!("user {name:?}: {reason}")))?;
            if let Some(first) = seen.insert(name, line) {
                return Err(error(format!("user {name:?} is already on line {first}")));
            }
            lines.push(Line::User { name: name.to_owned(), hash: hash.to_owned() });
        }
        Ok(PasswordFile { lines })
    }

    /// Reads and parses a password file.
    ///
    /// # Errors
    /// [`BrokerError::Io`] if it cannot be read, otherwise as [`PasswordFile::parse`].
    pub fn read(path: &Path) -> Result<Self, BrokerError> {
        let text = std::fs::read_to_string(path).map_err(|source| BrokerError::Io {
            context: format!("reading password file {}", path.display()),
            source,
        })?;
        Self::parse(&text, &path.display().to_string())
    }

    /// The user names, in file order.
    pub fn users(&self) -> impl Iterator<Item = &str> {
        self.lines.iter().filter_map(|line| match line {
            Line::User { name, .. } => Some(name.as_str()),
            Line::Other(_) => None,
        })
    }

    /// The PHC string of a user's password.
    pub fn hash_of(&self, username: &str) -> Option<&str> {
        self.lines.iter().find_map(|line| match line {
            Line::User { name, hash } if name == username => Some(hash.as_str()),
            _ => None,
        })
    }

    /// Sets a user's password (hashed here with [`hash_password`]): replaces the user's line
    /// or appends one.
    ///
    /// # Errors
    /// A bad user name, or a failure of the random number generator.
    pub fn set_password(&mut self, username: &str, password: &[u8]) -> Result<(), String> {
        check_username(username)?;
        let new_hash = hash_password(password)?;
        for line in &mut self.lines {
            if let Line::User { name, hash } = line
                && name == username
            {
                *hash = new_hash;
                return Ok(());
            }
        }
        self.lines.push(Line::User { name: username.to_owned(), hash: new_hash });
        Ok(())
    }

    /// Removes a user; false if it was not there.
    pub fn remove(&mut self, username: &str) -> bool {
        let before = self.lines.len();
        self.lines.retain(|line| !matches!(line, Line::User { name, .. } if name == username));
        self.lines.len() != before
    }

    /// The file's text.
    pub fn to_text(&self) -> String {
        let mut text = String::new();
        for line in &self.lines {
            match line {
                Line::Other(other) => text.push_str(other),
                Line::User { name, hash } => {
                    text.push_str(name);
                    text.push(':');
                    text.push_str(hash);
                }
            }
            text.push('\n');
        }
        text
    }

    /// Writes the file atomically: to a temporary file in the same directory (readable by
    /// its owner only on Unix), flushed to disk, then renamed over `path`.
    ///
    /// # Errors
    /// The I/O error, with the path it concerns.
    pub fn write(&self, path: &Path) -> Result<(), BrokerError> {
        let io = |context: String| move |source| BrokerError::Io { context, source };
        let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let temp = dir.join(format!(".{name}.tmp{}", std::process::id()));
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt as _;
            options.mode(0o600);
        }
        let written = options.open(&temp).and_then(|mut file| {
            file.write_all(self.to_text().as_bytes())?;
            file.sync_all()
        });
        if let Err(source) = written {
            let _ = std::fs::remove_file(&temp);
            return Err(io(format!("writing {}", temp.display()))(source));
        }
        std::fs::rename(&temp, path).map_err(|source| {
            let _ = std::fs::remove_file(&temp);
            io(format!("renaming {} to {}", temp.display(), path.display()))(source)
        })
    }
}

impl Default for PasswordFile {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn error_of(text: &str) -> (usize, String) {
        match PasswordFile::parse(text, "passwd") {
            Err(BrokerError::Config { line, reason, .. }) => (line, reason),
            other => panic!("expected an error, got {other:?}"),
        }
    }

    #[test]
    fn argon2id_hashes_verify_the_right_password_only() {
        let hash = hash_password(b"s3cret").unwrap();
        assert!(hash.starts_with("$argon2id$v=19$"), "{hash}");
        assert!(verify_password(&hash, b"s3cret"));
        assert!(!verify_password(&hash, b"s3cret "));
        assert!(!verify_password("not a hash", b"s3cret"));
        assert!(!verify_unknown_user(b"anything"));
    }

    #[test]
    fn parses_users_and_keeps_other_lines() {
        let text = format!("# users\n\nalice:{UNKNOWN_USER_HASH}\nbob smith:{UNKNOWN_USER_HASH}  \n");
        let file = PasswordFile::parse(&text, "passwd").unwrap();
        assert_eq!(file.users().collect::<Vec<_>>(), ["alice", "bob smith"]);
        assert_eq!(file.hash_of("alice"), Some(UNKNOWN_USER_HASH));
        assert_eq!(file.hash_of("carol"), None);
        assert_eq!(file.to_text(), text.replace("  \n", "\n"));
    }

    #[test]
    fn bad_lines_are_reported_with_their_line_and_reason() {
        let (line, reason) = error_of("# x\nalice\n");
        assert_eq!(line, 2);
        assert!(reason.contains("no ':'"), "{reason}");
        let (line, reason) = error_of(&format!(":{UNKNOWN_USER_HASH}\n"));
        assert_eq!(line, 1);
        assert!(reason.contains("empty"), "{reason}");
        let (line, reason) = error_of("\n\n\nbob:plain\n");
        assert_eq!(line, 4);
        assert!(reason.contains("not a PHC string"), "{reason}");
        let (_, reason) = error_of("bob:$7$101$abc$def\n");
        assert!(reason.contains("mosquitto_passwd"), "{reason}");
        let (_, reason) = error_of("bob:$argon2i$v=19$m=4096,t=3,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo\n");
        assert!(reason.contains("not argon2id"), "{reason}");
        let (_, reason) = error_of("bob:$argon2id$v=19$m=4194304,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo\n");
        assert!(reason.contains("memory cost"), "{reason}");
        let (line, reason) =
            error_of(&format!("a:{UNKNOWN_USER_HASH}\nb:{UNKNOWN_USER_HASH}\na:{UNKNOWN_USER_HASH}\n"));
        assert_eq!(line, 3);
        assert!(reason.contains("already on line 1"), "{reason}");
    }

    #[test]
    fn edits_replace_append_and_remove_users() {
        let mut file = PasswordFile::parse(&format!("# keep me\nalice:{UNKNOWN_USER_HASH}\n"), "p").unwrap();
        file.set_password("bob", b"pw").unwrap();
        file.set_password("alice", b"new").unwrap();
        assert!(verify_password(file.hash_of("alice").unwrap(), b"new"));
        assert!(verify_password(file.hash_of("bob").unwrap(), b"pw"));
        assert!(file.set_password("a:b", b"x").is_err());
        assert!(file.remove("alice"));
        assert!(!file.remove("alice"));
        let text = file.to_text();
        assert!(text.starts_with("# keep me\nbob:$argon2id$"), "{text}");
        assert_eq!(PasswordFile::parse(&text, "p").unwrap(), file);
    }

    #[test]
    fn writes_atomically_and_reads_back() {
        let dir = std::env::temp_dir().join(format!("mqttkit-passwd-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("passwd");
        let mut file = PasswordFile::new();
        file.set_password("alice", b"pw").unwrap();
        file.write(&path).unwrap();
        assert_eq!(PasswordFile::read(&path).unwrap(), file);
        let leftovers: Vec<_> = std::fs::read_dir(&dir).unwrap().filter_map(Result::ok).collect();
        assert_eq!(leftovers.len(), 1, "{leftovers:?}");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
