//! The Mosquitto `acl_file` syntax, one rule or block header per line:
//!
//! ```text
//! # anonymous clients (lines before any `user` line)
//! topic read public/#
//!
//! user alice
//! topic readwrite home/alice/#
//! topic deny home/alice/safe
//!
//! # every client, with %u (user name) and %c (client id) substituted
//! pattern write devices/%c/state
//! ```
//!
//! `topic [read|write|readwrite|deny] FILTER` (no access word: `readwrite`) applies to the
//! current `user NAME` block, or to anonymous clients before any; `pattern ...` applies to
//! every client wherever it is. `#` starts a comment line; blank lines are ignored.

use std::path::Path;

use super::acl::{AclAccess, AclRule, AclScope, check_rule};
use super::error::BrokerError;

/// Reads and parses an ACL file.
///
/// # Errors
/// [`BrokerError::Io`] if it cannot be read, [`BrokerError::Config`] naming the file, line
/// and reason of the first bad line.
pub(crate) fn read(path: &Path) -> Result<Vec<AclRule>, BrokerError> {
    let text = std::fs::read_to_string(path).map_err(|source| BrokerError::Io {
        context: format!("reading ACL file {}", path.display()),
        source,
    })?;
    parse(&text, &path.display().to_string())
}

/// Parses the text of an ACL file; `origin` names it in errors and in the rules' origins.
///
/// # Errors
/// [`BrokerError::Config`] naming `origin`, the line and the reason of the first bad line.
pub(crate) fn parse(text: &str, origin: &str) -> Result<Vec<AclRule>, BrokerError> {
    let mut rules = Vec::new();
    let mut scope = AclScope::Anonymous;
    for (index, raw) in text.lines().enumerate() {
        let line = index + 1;
        let error =
            |reason: String| BrokerError::Config { origin: origin.to_owned(), line, column: 1, reason };
        let content = raw.trim();
        if content.is_empty() || content.starts_with('#') {
            continue;
        }
        let (keyword, rest) = split_word(content);
        match keyword {
            "user" if rest.is_empty() => return Err(error("`user` needs a user name".into())),
            "user" => scope = AclScope::User(rest.to_owned()),
            "topic" | "pattern" => {
                let (first, after) = split_word(rest);
                let (access, topic) = match (first, after) {
                    ("", _) => return Err(error(format!("`{keyword}` needs a topic filter"))),
                    (topic, "") => (AclAccess::ReadWrite, topic),
                    (word, topic) => match AclAccess::parse(word) {
                        Some(access) => (access, topic),
                        None => {
                            return Err(error(format!(
                                "unknown access {word:?} (expected read, write, readwrite or deny)"
                            )));
                        }
                    },
                };
                let pattern = keyword == "pattern";
                let rule = AclRule {
                    scope: if pattern { AclScope::Everyone } else { scope.clone() },
                    client_id: None,
                    access,
                    topic: topic.to_owned(),
                    pattern,
                    origin: format!("{origin}:{line}"),
                };
                check_rule(&rule).map_err(error)?;
                rules.push(rule);
            }
            other => {
                return Err(error(format!("unknown keyword {other:?} (expected user, topic or pattern)")));
            }
        }
    }
    Ok(rules)
}

/// The first word of `text` and the rest, trimmed.
fn split_word(text: &str) -> (&str, &str) {
    match text.split_once(char::is_whitespace) {
        Some((word, rest)) => (word, rest.trim()),
        None => (text, ""),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line_error(text: &str) -> (usize, String) {
        match parse(text, "acl.conf") {
            Err(BrokerError::Config { origin, line, reason, .. }) => {
                assert_eq!(origin, "acl.conf");
                (line, reason)
            }
            other => panic!("expected a config error, got {other:?}"),
        }
    }

    #[test]
    fn parses_blocks_patterns_and_comments() {
        let text = "# comment\n\ntopic read public/#\nuser alice\ntopic readwrite home/alice/#\n  topic \
                    deny  home/alice/safe  \npattern write devices/%c/state\ntopic readwrite chat room\nuser bob smith\r\n\
                    topic write a\n";
        let rules = parse(text, "acl.conf").unwrap();
        let summary: Vec<_> =
            rules.iter().map(|r| (r.scope.clone(), r.access, r.topic.as_str(), r.pattern)).collect();
        let alice = AclScope::User("alice".into());
        assert_eq!(
            summary,
            vec![
                (AclScope::Anonymous, AclAccess::Read, "public/#", false),
                (alice.clone(), AclAccess::ReadWrite, "home/alice/#", false),
                (alice.clone(), AclAccess::Deny, "home/alice/safe", false),
                (AclScope::Everyone, AclAccess::Write, "devices/%c/state", true),
                (alice, AclAccess::ReadWrite, "chat room", false),
                (AclScope::User("bob smith".into()), AclAccess::Write, "a", false),
            ]
        );
        assert_eq!(rules[2].origin, "acl.conf:6");
        assert_eq!(rules[2].to_string(), "acl.conf:6: user alice: topic deny home/alice/safe");
    }

    #[test]
    fn a_lone_word_is_a_readwrite_topic_as_in_mosquitto() {
        let rules = parse("topic read\n", "f").unwrap();
        assert_eq!((rules[0].access, rules[0].topic.as_str()), (AclAccess::ReadWrite, "read"));
    }

    #[test]
    fn bad_lines_are_reported_with_their_line_and_reason() {
        let (line, reason) = line_error("topic read a\nuser\n");
        assert_eq!(line, 2);
        assert!(reason.contains("user name"), "{reason}");
        let (line, reason) = line_error("\n\ntopic rw a/b\n");
        assert_eq!(line, 3);
        assert!(reason.contains("\"rw\""), "{reason}");
        let (line, reason) = line_error("user a\ntopic read a/#/b\n");
        assert_eq!(line, 2);
        assert!(reason.contains("a/#/b"), "{reason}");
        let (line, reason) = line_error("# x\nallow all\n");
        assert_eq!(line, 2);
        assert!(reason.contains("unknown keyword \"allow\""), "{reason}");
        let (line, reason) = line_error("pattern\n");
        assert_eq!(line, 1);
        assert!(reason.contains("needs a topic filter"), "{reason}");
        let (_, reason) = line_error("topic deny $share/g/a\n");
        assert!(reason.contains("$share"), "{reason}");
    }

    #[test]
    fn a_missing_file_is_an_io_error_naming_it() {
        let error = read(Path::new("/nonexistent/acl.conf")).unwrap_err().to_string();
        assert!(error.contains("/nonexistent/acl.conf"), "{error}");
    }
}
