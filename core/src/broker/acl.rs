//! The built-in ACL: rules from a Mosquitto-style `acl_file` ([`super::acl_file`]) and from
//! `[[acl.rules]]` tables, compiled once into per-user rule sets of pre-split topic filters,
//! and the [`Authorizer`] that checks them.
//!
//! Evaluation, for a client with its user name (or none) and client identifier: the rules
//! that apply are its user's (or, for an anonymous client, the anonymous rules: the file's
//! lines before any `user`), then the rules for everyone (`pattern` lines, and inline rules
//! without `user`). A matching `deny` rule among them refuses, whatever grants another rule
//! gives (unlike Mosquitto, where a user's grant wins over a denying pattern). Otherwise a
//! matching rule granting the access allows; otherwise the default decides (`deny` whenever
//! rules are configured, unless `default = "allow"`).
//!
//! Patterns substitute `%u` (user name) and `%c` (client identifier). A rule using `%u` does
//! not apply to anonymous clients. A user name or client identifier containing `+`, `#` or
//! `/` is never substituted (it would reach other clients' topics): a granting rule that
//! would need it does not apply, and a denying rule that would need it denies every topic.
//!
//! SUBSCRIBE: a filter is refused when a `deny` rule covers every topic it can match, or
//! when no rule granting `read` (nor the default) allows any topic it can match; what a
//! granted subscription receives is then checked message by message, so a subscription to
//! `#` never receives a topic its client may not read.

use std::collections::HashMap;

use serde::Deserialize;

use super::acl_file;
use super::authorizer::{Access, Authorizer, ClientIdentity};
use super::config::{AclConfig, AclRuleConfig};
use super::error::BrokerError;
use crate::protocol::topic::{SHARED_PREFIX, validate_topic_filter};

/// What a rule grants.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AclAccess {
    /// Receive (and subscribe).
    Read,
    /// Publish.
    Write,
    /// Both.
    ReadWrite,
    /// Nothing: refuses both, whatever other rules grant.
    Deny,
}

impl AclAccess {
    /// Parses `read`, `write`, `readwrite` or `deny`.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "read" => Some(AclAccess::Read),
            "write" => Some(AclAccess::Write),
            "readwrite" => Some(AclAccess::ReadWrite),
            "deny" => Some(AclAccess::Deny),
            _ => None,
        }
    }

    /// The keyword of the `acl_file` syntax.
    pub fn as_str(self) -> &'static str {
        match self {
            AclAccess::Read => "read",
            AclAccess::Write => "write",
            AclAccess::ReadWrite => "readwrite",
            AclAccess::Deny => "deny",
        }
    }

    fn grants(self, access: Access) -> bool {
        matches!(
            (self, access),
            (AclAccess::ReadWrite, _) | (AclAccess::Read, Access::Read) | (AclAccess::Write, Access::Write)
        )
    }
}

/// What is decided when no rule does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AclDefault {
    /// Allow (the default without any rule).
    Allow,
    /// Deny (the default as soon as a rule is configured, as in Mosquitto).
    Deny,
}

/// The clients a rule applies to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AclScope {
    /// Clients without a user name (the file's lines before any `user` line).
    Anonymous,
    /// The clients authenticated as this user.
    User(String),
    /// Every client (`pattern` lines, and inline rules without `user`).
    Everyone,
}

/// One ACL rule as written, with where it was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AclRule {
    /// Which clients it applies to.
    pub scope: AclScope,
    /// Only the client with this identifier (inline rules with `client_id`).
    pub client_id: Option<String>,
    /// What it grants, or `deny`.
    pub access: AclAccess,
    /// The topic filter, as written.
    pub topic: String,
    /// Whether `%u` and `%c` in `topic` are substituted (`pattern` lines; inline rules
    /// whose topic contains them).
    pub pattern: bool,
    /// Where it comes from: `FILE:LINE` or `[[acl.rules]] #N`.
    pub origin: String,
}

impl std::fmt::Display for AclRule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: ", self.origin)?;
        match &self.scope {
            AclScope::Anonymous => f.write_str("anonymous")?,
            AclScope::User(user) => write!(f, "user {user}")?,
            AclScope::Everyone => f.write_str("everyone")?,
        }
        if let Some(client_id) = &self.client_id {
            write!(f, ", client {client_id}")?;
        }
        let keyword = if self.pattern { "pattern" } else { "topic" };
        write!(f, ": {keyword} {} {}", self.access.as_str(), self.topic)
    }
}

/// Why an [`AclDecision`] was reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AclReason<'a> {
    /// This rule matched.
    Rule(&'a AclRule),
    /// This denying pattern needs a user name or client identifier containing `+`, `#` or
    /// `/`, which is never substituted: it denies every topic.
    UnsafeSubstitution(&'a AclRule),
    /// No rule matched; the default decided.
    Default(AclDefault),
}

/// The outcome of an ACL check and what decided it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AclDecision<'a> {
    /// Whether the access is allowed.
    pub allowed: bool,
    /// What decided.
    pub reason: AclReason<'a>,
}

impl std::fmt::Display for AclDecision<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.allowed { "allow" } else { "deny" })?;
        match self.reason {
            AclReason::Rule(rule) => write!(f, " by {rule}"),
            AclReason::UnsafeSubstitution(rule) => {
                write!(f, " by {rule} (user name or client id contains '+', '#' or '/')")
            }
            AclReason::Default(AclDefault::Allow) => f.write_str(" by default = \"allow\" (no rule matched)"),
            AclReason::Default(AclDefault::Deny) => f.write_str(" by default = \"deny\" (no rule matched)"),
        }
    }
}

/// A piece of a pattern level.
#[derive(Debug)]
enum Part {
    Text(Box<str>),
    User,
    Client,
}

/// One level of a compiled filter.
#[derive(Debug)]
enum Level {
    Text(Box<str>),
    Template(Box<[Part]>),
    Plus,
    Hash,
}

/// A compiled rule: its filter split into levels once.
#[derive(Debug)]
struct Compiled {
    levels: Box<[Level]>,
    client_id: Option<Box<str>>,
    uses_user: bool,
    uses_client: bool,
}

/// The client being checked, with whether its names may be substituted.
struct Who<'a> {
    client_id: &'a str,
    username: Option<&'a str>,
    user_safe: bool,
    client_safe: bool,
}

fn safe(name: &str) -> bool {
    !name.contains(['+', '#', '/'])
}

/// How a compiled rule relates to a client, before any topic is looked at.
enum Applies {
    Yes,
    No,
    /// It needs a name that is not substituted.
    Unsafe,
}

/// How a rule's filter must relate to a SUBSCRIBE filter.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Relation {
    /// Some topic matches both.
    Intersects,
    /// Every topic the subscription matches, the rule matches.
    Covers,
}

impl Compiled {
    fn new(rule: &AclRule) -> Result<Self, String> {
        if rule.topic.starts_with(SHARED_PREFIX) {
            return Err(format!("{:?}: an ACL topic is a plain filter, not a $share/ filter", rule.topic));
        }
        validate_topic_filter(&rule.topic).map_err(|error| format!("topic {:?}: {error}", rule.topic))?;
        let (mut uses_user, mut uses_client) = (false, false);
        let levels = rule
            .topic
            .split('/')
            .map(|level| match level {
                "+" => Level::Plus,
                "#" => Level::Hash,
                text if rule.pattern && (text.contains("%u") || text.contains("%c")) => {
                    let parts = template(text);
                    uses_user |= parts.iter().any(|p| matches!(p, Part::User));
                    uses_client |= parts.iter().any(|p| matches!(p, Part::Client));
                    Level::Template(parts.into())
                }
                text => Level::Text(text.into()),
            })
            .collect();
        Ok(Compiled { levels, client_id: rule.client_id.as_deref().map(Into::into), uses_user, uses_client })
    }

    fn applies(&self, who: &Who<'_>) -> Applies {
        if self.client_id.as_deref().is_some_and(|id| id != who.client_id) {
            return Applies::No;
        }
        if self.uses_user && who.username.is_none() {
            return Applies::No;
        }
        if (self.uses_user && !who.user_safe) || (self.uses_client && !who.client_safe) {
            return Applies::Unsafe;
        }
        Applies::Yes
    }

    fn level_matches(level: &Level, text: &str, who: &Who<'_>) -> bool {
        match level {
            Level::Text(expected) => **expected == *text,
            Level::Plus | Level::Hash => true,
            Level::Template(parts) => {
                let mut rest = text;
                for part in parts.iter() {
                    let piece = match part {
                        Part::Text(piece) => piece,
                        Part::User => who.username.unwrap_or_default(),
                        Part::Client => who.client_id,
                    };
                    match rest.strip_prefix(piece) {
                        Some(after) => rest = after,
                        None => return false,
                    }
                }
                rest.is_empty()
            }
        }
    }

    fn starts_with_wildcard(&self) -> bool {
        matches!(self.levels.first(), Some(Level::Plus | Level::Hash))
    }

    /// Whether the topic name `topic` matches (`MQTT-4.7.2-1`: a filter starting with a
    /// wildcard does not match a topic starting with `$`).
    fn matches_topic(&self, topic: &str, who: &Who<'_>) -> bool {
        if topic.starts_with('$') && self.starts_with_wildcard() {
            return false;
        }
        let mut names = topic.split('/');
        let mut levels = self.levels.iter();
        loop {
            match (levels.next(), names.next()) {
                (Some(Level::Hash), _) => return true,
                (None, None) => return true,
                (Some(level), Some(name)) if Self::level_matches(level, name, who) => {}
                _ => return false,
            }
        }
    }

    /// Whether this rule's filter intersects or covers the subscription `filter`.
    fn relates(&self, filter: &str, who: &Who<'_>, relation: Relation) -> bool {
        let filter_wild = filter.starts_with(['+', '#']);
        if (filter.starts_with('$') && self.starts_with_wildcard())
            || (filter_wild && matches!(self.levels.first(), Some(Level::Text(t)) if t.starts_with('$')))
        {
            return false;
        }
        let intersecting = relation == Relation::Intersects;
        let mut parts = filter.split('/');
        let mut levels = self.levels.iter();
        loop {
            match (levels.next(), parts.next()) {
                (Some(Level::Hash), _) | (None, None) => return true,
                (None, Some("#")) | (Some(_), Some("#")) => return intersecting,
                (None, Some(_)) | (Some(_), None) => return false,
                (Some(Level::Plus), Some(_)) => {}
                (Some(_), Some("+")) if intersecting => {}
                (Some(_), Some("+")) => return false,
                (Some(level), Some(name)) if Self::level_matches(level, name, who) => {}
                (Some(_), Some(_)) => return false,
            }
        }
    }
}

/// Splits a pattern level into text, `%u` and `%c`.
fn template(level: &str) -> Vec<Part> {
    let mut parts = Vec::new();
    let mut text = String::new();
    let mut chars = level.chars().peekable();
    while let Some(c) = chars.next() {
        let marker = match (c, chars.peek()) {
            ('%', Some('u')) => Some(Part::User),
            ('%', Some('c')) => Some(Part::Client),
            _ => None,
        };
        match marker {
            Some(part) => {
                chars.next();
                if !text.is_empty() {
                    parts.push(Part::Text(std::mem::take(&mut text).into()));
                }
                parts.push(part);
            }
            None => text.push(c),
        }
    }
    if !text.is_empty() {
        parts.push(Part::Text(text.into()));
    }
    parts
}

/// Indices of rules, denying ones apart (they are looked at first).
#[derive(Debug, Default)]
struct RuleSet {
    deny: Vec<usize>,
    grant: Vec<usize>,
}

impl RuleSet {
    fn push(&mut self, index: usize, access: AclAccess) {
        if access == AclAccess::Deny { self.deny.push(index) } else { self.grant.push(index) }
    }
}

/// The compiled ACL: an [`Authorizer`], and the explanations behind `mqttkit acl check`.
#[derive(Debug)]
pub struct Acl {
    rules: Vec<AclRule>,
    compiled: Vec<Compiled>,
    by_user: HashMap<Box<str>, RuleSet>,
    anonymous: RuleSet,
    everyone: RuleSet,
    has_templates: bool,
    default: AclDefault,
}

impl Acl {
    /// Compiles `rules`; what is not decided by a rule is decided by `default`.
    ///
    /// # Errors
    /// A message naming the rule's origin and what is wrong with its topic filter.
    pub fn new(rules: Vec<AclRule>, default: AclDefault) -> Result<Self, String> {
        let mut acl = Acl {
            compiled: Vec::with_capacity(rules.len()),
            by_user: HashMap::new(),
            anonymous: RuleSet::default(),
            everyone: RuleSet::default(),
            has_templates: false,
            default,
            rules: Vec::new(),
        };
        for (index, rule) in rules.iter().enumerate() {
            let compiled = Compiled::new(rule).map_err(|reason| format!("{}: {reason}", rule.origin))?;
            acl.has_templates |= compiled.uses_user || compiled.uses_client;
            acl.compiled.push(compiled);
            let set = match &rule.scope {
                AclScope::Anonymous => &mut acl.anonymous,
                AclScope::User(user) => acl.by_user.entry(user.as_str().into()).or_default(),
                AclScope::Everyone => &mut acl.everyone,
            };
            set.push(index, rule.access);
        }
        acl.rules = rules;
        Ok(acl)
    }

    /// The ACL `config` describes: its `file` (read now) and its inline rules. `None` when
    /// there is nothing to check: no rule and the default is `allow` (which it is when
    /// neither a file nor a rule is configured).
    ///
    /// # Errors
    /// [`BrokerError::Io`] if the file cannot be read, [`BrokerError::Config`] naming the
    /// file and line (or the inline rule) of a bad rule.
    pub fn from_config(config: &AclConfig) -> Result<Option<Self>, BrokerError> {
        let acl = Self::load(config)?;
        Ok((!acl.rules.is_empty() || acl.default == AclDefault::Deny).then_some(acl))
    }

    /// [`Acl::from_config`], also when there is nothing to check (an ACL allowing
    /// everything): what a reload of a configured ACL file gives when the file was emptied.
    ///
    /// # Errors
    /// As [`Acl::from_config`].
    pub fn load(config: &AclConfig) -> Result<Self, BrokerError> {
        let mut rules = match &config.file {
            Some(path) => acl_file::read(path)?,
            None => Vec::new(),
        };
        rules.extend(config.rules.iter().enumerate().map(|(i, rule)| inline_rule(i, rule)));
        let configured = config.file.is_some() || !rules.is_empty();
        let default = config.default.unwrap_or(if configured { AclDefault::Deny } else { AclDefault::Allow });
        let origin = config.file.as_deref().map_or_else(|| "[acl]".to_owned(), |p| p.display().to_string());
        Acl::new(rules, default).map_err(|reason| BrokerError::Config { origin, line: 1, column: 1, reason })
    }

    /// Every rule, in the order of the file then of the inline rules.
    pub fn rules(&self) -> &[AclRule] {
        &self.rules
    }

    /// What is decided when no rule matches.
    pub fn default_decision(&self) -> AclDefault {
        self.default
    }

    fn who<'a>(&self, client: &ClientIdentity<'a>) -> Who<'a> {
        let (user_safe, client_safe) = if self.has_templates {
            (client.username.is_none_or(safe), safe(client.client_id))
        } else {
            (true, true)
        };
        Who { client_id: client.client_id, username: client.username, user_safe, client_safe }
    }

    fn sets(&self, username: Option<&str>) -> [Option<&RuleSet>; 2] {
        let own = match username {
            Some(user) => self.by_user.get(user),
            None => Some(&self.anonymous),
        };
        [own, Some(&self.everyone)]
    }

    fn decide(
        &self,
        client: &ClientIdentity<'_>,
        access: Option<Access>,
        deny_matches: impl Fn(&Compiled, &Who<'_>) -> bool,
        grant_matches: impl Fn(&Compiled, &Who<'_>) -> bool,
    ) -> AclDecision<'_> {
        let who = self.who(client);
        let sets = self.sets(client.username);
        for &index in sets.iter().flatten().flat_map(|set| &set.deny) {
            let compiled = &self.compiled[index];
            match compiled.applies(&who) {
                Applies::No => {}
                Applies::Unsafe => {
                    return AclDecision {
                        allowed: false,
                        reason: AclReason::UnsafeSubstitution(&self.rules[index]),
                    };
                }
                Applies::Yes if deny_matches(compiled, &who) => {
                    return AclDecision { allowed: false, reason: AclReason::Rule(&self.rules[index]) };
                }
                Applies::Yes => {}
            }
        }
        for &index in sets.iter().flatten().flat_map(|set| &set.grant) {
            let compiled = &self.compiled[index];
            let grants = access.is_none_or(|access| self.rules[index].access.grants(access));
            if grants && matches!(compiled.applies(&who), Applies::Yes) && grant_matches(compiled, &who) {
                return AclDecision { allowed: true, reason: AclReason::Rule(&self.rules[index]) };
            }
        }
        AclDecision { allowed: self.default == AclDefault::Allow, reason: AclReason::Default(self.default) }
    }

    /// Whether `client` may `access` the topic name `topic`, and which rule decided.
    pub fn check(&self, client: &ClientIdentity<'_>, access: Access, topic: &str) -> AclDecision<'_> {
        let matches = |compiled: &Compiled, who: &Who<'_>| compiled.matches_topic(topic, who);
        self.decide(client, Some(access), matches, matches)
    }

    /// Whether `client` may subscribe to `filter` (without `$share/{group}/`), and which rule
    /// decided (see the module documentation).
    pub fn check_subscribe(&self, client: &ClientIdentity<'_>, filter: &str) -> AclDecision<'_> {
        self.decide(
            client,
            Some(Access::Read),
            |compiled, who| compiled.relates(filter, who, Relation::Covers),
            |compiled, who| compiled.relates(filter, who, Relation::Intersects),
        )
    }
}

impl Authorizer for Acl {
    fn authorize(&self, client: &ClientIdentity<'_>, access: Access, topic: &str) -> bool {
        self.check(client, access, topic).allowed
    }

    fn authorize_subscribe(&self, client: &ClientIdentity<'_>, filter: &str) -> bool {
        self.check_subscribe(client, filter).allowed
    }
}

fn inline_rule(index: usize, rule: &AclRuleConfig) -> AclRule {
    AclRule {
        scope: rule.user.clone().map_or(AclScope::Everyone, AclScope::User),
        client_id: rule.client_id.clone(),
        access: rule.access,
        pattern: rule.topic.contains("%u") || rule.topic.contains("%c"),
        topic: rule.topic.clone(),
        origin: format!("[[acl.rules]] #{}", index + 1),
    }
}

/// Checks a rule's topic filter; the reason it is bad.
pub(crate) fn check_rule(rule: &AclRule) -> Result<(), String> {
    Compiled::new(rule).map(|_| ())
}

/// Checks the inline rules' topics: the reason for the first bad one, with its index.
pub(crate) fn validate_inline(rules: &[AclRuleConfig]) -> Result<(), (usize, String)> {
    for (index, rule) in rules.iter().enumerate() {
        let rule = inline_rule(index, rule);
        check_rule(&rule).map_err(|reason| (index, format!("{}: {reason}", rule.origin)))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(scope: AclScope, access: AclAccess, topic: &str, pattern: bool) -> AclRule {
        AclRule { scope, client_id: None, access, topic: topic.into(), pattern, origin: "test".into() }
    }

    fn user(name: &str, access: AclAccess, topic: &str) -> AclRule {
        rule(AclScope::User(name.into()), access, topic, false)
    }

    fn client<'a>(username: Option<&'a str>, client_id: &'a str) -> ClientIdentity<'a> {
        ClientIdentity { client_id, username }
    }

    fn acl(rules: Vec<AclRule>) -> Acl {
        Acl::new(rules, AclDefault::Deny).unwrap()
    }

    #[test]
    fn wildcards_match_as_in_mqtt() {
        let acl = acl(vec![
            user("alice", AclAccess::Read, "sensors/+/temp"),
            user("alice", AclAccess::Write, "cmd/#"),
            user("alice", AclAccess::ReadWrite, "chat"),
        ]);
        let alice = client(Some("alice"), "a1");
        assert!(acl.authorize(&alice, Access::Read, "sensors/kitchen/temp"));
        assert!(!acl.authorize(&alice, Access::Read, "sensors/kitchen/humidity"));
        assert!(!acl.authorize(&alice, Access::Read, "sensors/a/b/temp"));
        assert!(!acl.authorize(&alice, Access::Write, "sensors/kitchen/temp"));
        assert!(acl.authorize(&alice, Access::Write, "cmd"));
        assert!(acl.authorize(&alice, Access::Write, "cmd/door/open"));
        assert!(!acl.authorize(&alice, Access::Read, "cmd/door"));
        assert!(acl.authorize(&alice, Access::Read, "chat") && acl.authorize(&alice, Access::Write, "chat"));
        assert!(!acl.authorize(&client(Some("bob"), "b"), Access::Read, "chat"));
    }

    #[test]
    fn wildcard_rules_do_not_match_dollar_topics() {
        let acl = acl(vec![user("u", AclAccess::Read, "#"), user("u", AclAccess::Read, "$SYS/broker/#")]);
        let u = client(Some("u"), "c");
        assert!(acl.authorize(&u, Access::Read, "anything/at/all"));
        assert!(acl.authorize(&u, Access::Read, "$SYS/broker/uptime"));
        assert!(!acl.authorize(&u, Access::Read, "$other/x"));
        assert!(!acl.authorize_subscribe(&u, "$other/#"));
        assert!(acl.authorize_subscribe(&u, "$SYS/#"));
    }

    #[test]
    fn deny_overrides_grants_from_any_rule() {
        let acl = acl(vec![
            user("alice", AclAccess::ReadWrite, "home/#"),
            user("alice", AclAccess::Deny, "home/safe/#"),
            rule(AclScope::Everyone, AclAccess::Deny, "home/%u/private", true),
        ]);
        let alice = client(Some("alice"), "a");
        assert!(acl.authorize(&alice, Access::Write, "home/kitchen"));
        let decision = acl.check(&alice, Access::Read, "home/safe/code");
        assert!(!decision.allowed);
        assert_eq!(decision.reason, AclReason::Rule(&acl.rules()[1]));
        assert!(!acl.authorize(&alice, Access::Write, "home/alice/private"));
        assert!(acl.authorize(&alice, Access::Write, "home/bob/private"));
    }

    #[test]
    fn patterns_substitute_user_and_client_id() {
        let acl = acl(vec![
            rule(AclScope::Everyone, AclAccess::ReadWrite, "users/%u/#", true),
            rule(AclScope::Everyone, AclAccess::Write, "devices/%c/state", true),
            rule(AclScope::Everyone, AclAccess::Read, "mixed/%u-%c", true),
            user("carol", AclAccess::Read, "literal/%u"),
        ]);
        let alice = client(Some("alice"), "dev-1");
        assert!(acl.authorize(&alice, Access::Write, "users/alice/notes"));
        assert!(!acl.authorize(&alice, Access::Write, "users/bob/notes"));
        assert!(acl.authorize(&alice, Access::Write, "devices/dev-1/state"));
        assert!(!acl.authorize(&alice, Access::Write, "devices/dev-2/state"));
        assert!(acl.authorize(&alice, Access::Read, "mixed/alice-dev-1"));
        assert!(!acl.authorize(&alice, Access::Read, "mixed/alice-dev-2"));
        // `%u` needs a user name; `%c` applies to anonymous clients too.
        let anonymous = client(None, "dev-9");
        assert!(!acl.authorize(&anonymous, Access::Write, "users//x"));
        assert!(acl.authorize(&anonymous, Access::Write, "devices/dev-9/state"));
        // `topic` lines are not patterns.
        let carol = client(Some("carol"), "c");
        assert!(acl.authorize(&carol, Access::Read, "literal/%u"));
        assert!(!acl.authorize(&carol, Access::Read, "literal/carol"));
    }

    #[test]
    fn unsafe_names_are_never_substituted() {
        let acl = acl(vec![
            rule(AclScope::Everyone, AclAccess::ReadWrite, "users/%u/#", true),
            rule(AclScope::Everyone, AclAccess::Read, "devices/%c", true),
        ]);
        for name in ["+", "#", "alice/../bob", "a+b"] {
            let sneaky = client(Some(name), "c");
            assert!(!acl.authorize(&sneaky, Access::Write, &format!("users/{name}/x")), "{name}");
        }
        assert!(!acl.authorize(&client(Some("bob"), "x/y"), Access::Read, "devices/x/y"));
        assert!(!acl.authorize(&client(Some("bob"), "#"), Access::Read, "devices/#"));
        let denying = Acl::new(
            vec![
                rule(AclScope::Everyone, AclAccess::ReadWrite, "#", false),
                rule(AclScope::Everyone, AclAccess::Deny, "secret/%c/#", true),
            ],
            AclDefault::Deny,
        )
        .unwrap();
        let decision = denying.check(&client(None, "a/b"), Access::Read, "public");
        assert!(!decision.allowed);
        assert!(matches!(decision.reason, AclReason::UnsafeSubstitution(_)), "{decision}");
        assert!(denying.authorize(&client(None, "ab"), Access::Read, "public"));
    }

    #[test]
    fn anonymous_rules_apply_to_anonymous_clients_only() {
        let acl = acl(vec![
            rule(AclScope::Anonymous, AclAccess::Read, "public/#", false),
            user("alice", AclAccess::Read, "private/#"),
        ]);
        assert!(acl.authorize(&client(None, "x"), Access::Read, "public/news"));
        assert!(!acl.authorize(&client(None, "x"), Access::Read, "private/a"));
        assert!(!acl.authorize(&client(Some("alice"), "x"), Access::Read, "public/news"));
        assert!(acl.authorize(&client(Some("alice"), "x"), Access::Read, "private/a"));
    }

    #[test]
    fn client_id_conditions_restrict_rules() {
        let mut only = user("alice", AclAccess::Write, "a");
        only.client_id = Some("phone".into());
        let acl = acl(vec![only]);
        assert!(acl.authorize(&client(Some("alice"), "phone"), Access::Write, "a"));
        assert!(!acl.authorize(&client(Some("alice"), "laptop"), Access::Write, "a"));
    }

    #[test]
    fn the_default_decides_what_no_rule_does() {
        let open = Acl::new(vec![user("u", AclAccess::Deny, "secret")], AclDefault::Allow).unwrap();
        let u = client(Some("u"), "c");
        assert!(open.authorize(&u, Access::Write, "other"));
        assert!(!open.authorize(&u, Access::Write, "secret"));
        let decision = open.check(&u, Access::Read, "other");
        assert_eq!(decision.reason, AclReason::Default(AclDefault::Allow));
        assert!(decision.to_string().starts_with("allow by default"), "{decision}");
    }

    #[test]
    fn subscriptions_need_a_readable_topic_and_no_covering_deny() {
        let acl = acl(vec![
            user("u", AclAccess::Read, "sensors/+/temp"),
            user("u", AclAccess::ReadWrite, "home/#"),
            user("u", AclAccess::Deny, "home/safe/#"),
            user("u", AclAccess::Write, "out/#"),
        ]);
        let u = client(Some("u"), "c");
        for granted in ["#", "+/+/temp", "sensors/#", "sensors/+/temp", "sensors/x/temp", "home/+", "home/#"]
        {
            assert!(acl.authorize_subscribe(&u, granted), "{granted}");
        }
        for refused in ["sensors/x/humidity", "sensors/+", "out/#", "home/safe/#", "home/safe/door", "other"]
        {
            assert!(!acl.authorize_subscribe(&u, refused), "{refused}");
        }
        // A deny rule that covers only part of the filter does not refuse it: deliveries are
        // checked one by one.
        assert!(acl.authorize_subscribe(&u, "home/+/door"));
        assert!(!acl.authorize(&u, Access::Read, "home/safe/door"));
    }

    #[test]
    fn bad_rule_topics_are_reported_with_their_origin() {
        let bad =
            |topic: &str| Acl::new(vec![user("u", AclAccess::Read, topic)], AclDefault::Deny).unwrap_err();
        assert!(bad("a/#/b").starts_with("test: topic \"a/#/b\""), "{}", bad("a/#/b"));
        assert!(bad("").contains("empty"), "{}", bad(""));
        assert!(bad("$share/g/x").contains("$share"), "{}", bad("$share/g/x"));
    }
}
