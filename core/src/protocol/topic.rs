//! Topic names and topic filters (MQTT 5.0 §4.7, §4.8.2): validation, matching, and shared
//! subscription parsing.

use std::fmt;

/// The prefix of a shared subscription filter: `$share/{group}/{filter}`.
pub const SHARED_PREFIX: &str = "$share/";

/// The longest topic name or filter: a UTF-8 string field.
const MAX_TOPIC_LEN: usize = u16::MAX as usize;

/// What is wrong with a topic name or filter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TopicError {
    /// Topic names and filters are at least one character long (`MQTT-4.7.3-1`).
    #[error("topic is empty")]
    Empty,
    /// Longer than 65,535 bytes.
    #[error("topic is {0} bytes long (maximum 65535)")]
    TooLong(usize),
    /// U+0000 in a topic (`MQTT-4.7.3-2`).
    #[error("topic contains the null character U+0000")]
    NullCharacter,
    /// `+` or `#` in a topic name (`MQTT-3.3.2-2`, `MQTT-4.7.0-1`).
    #[error("topic name contains a wildcard character ('+' or '#')")]
    WildcardInName,
    /// `#` that is not the last character, alone in its level (`MQTT-4.7.1-1`).
    #[error("'#' must be the last character of the filter and occupy a whole level")]
    MultiLevelWildcardNotLast,
    /// `+` sharing a level with other characters (`MQTT-4.7.1-2`).
    #[error("'+' must occupy a whole level of the filter")]
    SingleLevelWildcardNotAlone,
    /// `$share/` with an empty group name, or a group name with `+`, `#` or `/`
    /// (`MQTT-4.8.2-1`, `MQTT-4.8.2-2`).
    #[error("shared subscription group name is empty or contains '+', '#' or '/'")]
    InvalidShareName,
    /// `$share/{group}` without a `/{filter}` after it, or with an empty filter
    /// (`MQTT-4.8.2-1`).
    #[error("shared subscription has no topic filter after the group name")]
    MissingSharedFilter,
}

fn check_length(topic: &str) -> Result<(), TopicError> {
    if topic.is_empty() {
        return Err(TopicError::Empty);
    }
    if topic.len() > MAX_TOPIC_LEN {
        return Err(TopicError::TooLong(topic.len()));
    }
    Ok(())
}

/// The first U+0000, `+` or `#` in `bytes` at or after `from`.
///
/// Filters are short and a scan resumes after every wildcard, where memchr's per-call setup
/// costs more than the search: this tests eight bytes per step with the "has a zero byte"
/// word trick, and looks at single bytes only in a word that has a hit, and in the tail.
fn find_special(bytes: &[u8], from: usize) -> Option<usize> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    let has_zero = |word: u64| word.wrapping_sub(ONES) & !word & HIGHS;
    let special = |b: u8| b == 0 || b == b'+' || b == b'#';
    let mut at = from;
    while at + 8 <= bytes.len() {
        let mut chunk = [0u8; 8];
        chunk.copy_from_slice(&bytes[at..at + 8]);
        let word = u64::from_le_bytes(chunk);
        let hits = has_zero(word)
            | has_zero(word ^ (ONES * u64::from(b'+')))
            | has_zero(word ^ (ONES * u64::from(b'#')));
        if hits != 0 {
            return (at..at + 8).find(|&i| special(bytes[i]));
        }
        at += 8;
    }
    (at..bytes.len()).find(|&i| special(bytes[i]))
}

/// Checks a topic name (what PUBLISH carries): non-empty, no wildcards, no U+0000; one scan.
pub fn validate_topic_name(name: &str) -> Result<(), TopicError> {
    check_length(name)?;
    let bytes = name.as_bytes();
    match memchr::memchr3(0, b'+', b'#', bytes).map(|at| bytes[at]) {
        None => Ok(()),
        Some(0) => Err(TopicError::NullCharacter),
        Some(_) => Err(TopicError::WildcardInName),
    }
}

/// [`validate_topic_name`] for a name already known to hold no U+0000 (a decoded string).
pub(crate) fn validate_decoded_topic_name(name: &str) -> Result<(), TopicError> {
    check_length(name)?;
    if memchr::memchr2(b'+', b'#', name.as_bytes()).is_some() {
        return Err(TopicError::WildcardInName);
    }
    Ok(())
}

/// A valid topic filter, with its shared-subscription group split off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TopicFilter<'a> {
    /// The group of a `$share/{group}/{filter}` subscription; `None` for a plain one.
    pub share_group: Option<&'a str>,
    /// The filter that messages are matched against (without the `$share/` part).
    pub filter: &'a str,
}

impl<'a> TopicFilter<'a> {
    /// Validates `filter` and splits off a shared subscription group.
    pub fn parse(filter: &'a str) -> Result<Self, TopicError> {
        check_length(filter)?;
        let parsed = match filter.strip_prefix(SHARED_PREFIX) {
            Some(rest) => {
                let (group, inner) = rest.split_once('/').ok_or(TopicError::MissingSharedFilter)?;
                if group.bytes().any(|b| b == 0) {
                    return Err(TopicError::NullCharacter);
                }
                if group.is_empty() || group.bytes().any(|b| b == b'+' || b == b'#') {
                    return Err(TopicError::InvalidShareName);
                }
                if inner.is_empty() {
                    return Err(TopicError::MissingSharedFilter);
                }
                TopicFilter { share_group: Some(group), filter: inner }
            }
            None => TopicFilter { share_group: None, filter },
        };
        check_wildcards(parsed.filter)?;
        Ok(parsed)
    }

    /// Whether this is a shared subscription.
    pub fn is_shared(&self) -> bool {
        self.share_group.is_some()
    }

    /// Whether the filter contains `+` or `#`.
    pub fn has_wildcards(&self) -> bool {
        memchr::memchr2(b'+', b'#', self.filter.as_bytes()).is_some()
    }

    /// Whether a message published to `name` matches this filter.
    pub fn matches(&self, name: &str) -> bool {
        topic_matches(self.filter, name)
    }
}

impl fmt::Display for TopicFilter<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.share_group {
            Some(group) => write!(f, "{SHARED_PREFIX}{group}/{}", self.filter),
            None => f.write_str(self.filter),
        }
    }
}

/// No U+0000, `#` only as the whole last level, `+` only as a whole level: one scan.
fn check_wildcards(filter: &str) -> Result<(), TopicError> {
    let bytes = filter.as_bytes();
    let last = bytes.len() - 1;
    let mut next = find_special(bytes, 0);
    while let Some(at) = next {
        next = find_special(bytes, at + 1);
        let starts_level = || at == 0 || bytes[at - 1] == b'/';
        match bytes[at] {
            0 => return Err(TopicError::NullCharacter),
            b'#' if !(at == last && starts_level()) => return Err(TopicError::MultiLevelWildcardNotLast),
            b'+' if !(starts_level() && (at == last || bytes[at + 1] == b'/')) => {
                return Err(TopicError::SingleLevelWildcardNotAlone);
            }
            _ => {}
        }
    }
    Ok(())
}

/// Checks a topic filter (what SUBSCRIBE and UNSUBSCRIBE carry), shared subscriptions
/// included.
pub fn validate_topic_filter(filter: &str) -> Result<(), TopicError> {
    TopicFilter::parse(filter).map(|_| ())
}

/// Whether a topic `name` matches a (valid, non-shared) topic `filter`.
///
/// `+` matches exactly one level, `#` the parent level and any number of child levels, and
/// a filter starting with a wildcard never matches a name starting with `$`
/// (`MQTT-4.7.2-1`).
pub fn topic_matches(filter: &str, name: &str) -> bool {
    if name.starts_with('$') && filter.starts_with(['+', '#']) {
        return false;
    }
    let mut names = name.split('/');
    let mut filters = filter.split('/');
    loop {
        match (filters.next(), names.next()) {
            (Some("#"), _) => return true,
            (Some("+"), Some(_)) => {}
            (Some(f), Some(n)) if f == n => {}
            (None, None) => return true,
            _ => return false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mqtt_4_7_1_1_multi_level_wildcard_must_be_last_and_alone() {
        for ok in ["#", "sport/#", "sport/tennis/#", "/#"] {
            assert_eq!(validate_topic_filter(ok), Ok(()), "{ok}");
        }
        for bad in ["sport/tennis#", "sport/#/ranking", "#/", "a/b#", "##"] {
            assert_eq!(validate_topic_filter(bad), Err(TopicError::MultiLevelWildcardNotLast), "{bad}");
        }
    }

    #[test]
    fn mqtt_4_7_1_2_single_level_wildcard_occupies_whole_level() {
        for ok in ["+", "+/tennis/#", "sport/+/player1", "/+", "+/+", "+/"] {
            assert_eq!(validate_topic_filter(ok), Ok(()), "{ok}");
        }
        for bad in ["sport+", "sport/+tennis", "a/b+/c"] {
            assert_eq!(validate_topic_filter(bad), Err(TopicError::SingleLevelWildcardNotAlone), "{bad}");
        }
    }

    #[test]
    fn mqtt_4_7_3_1_topics_are_not_empty() {
        assert_eq!(validate_topic_name(""), Err(TopicError::Empty));
        assert_eq!(validate_topic_filter(""), Err(TopicError::Empty));
        assert_eq!(validate_topic_name("/"), Ok(()));
    }

    #[test]
    fn mqtt_4_7_3_2_no_null_character() {
        assert_eq!(validate_topic_name("a\0b"), Err(TopicError::NullCharacter));
        assert_eq!(validate_topic_filter("a/\0"), Err(TopicError::NullCharacter));
    }

    #[test]
    fn mqtt_3_3_2_2_topic_names_have_no_wildcards() {
        assert_eq!(validate_topic_name("a/+/b"), Err(TopicError::WildcardInName));
        assert_eq!(validate_topic_name("a/#"), Err(TopicError::WildcardInName));
        assert_eq!(validate_topic_name("sport/tennis/player1"), Ok(()));
    }

    #[test]
    fn topic_length_limit() {
        let long = "a".repeat(65_536);
        assert_eq!(validate_topic_name(&long), Err(TopicError::TooLong(65_536)));
        assert_eq!(validate_topic_name(&long[1..]), Ok(()));
    }

    #[test]
    fn matching_follows_section_4_7() {
        let cases = [
            ("sport/tennis/player1/#", "sport/tennis/player1", true),
            ("sport/tennis/player1/#", "sport/tennis/player1/ranking", true),
            ("sport/tennis/player1/#", "sport/tennis/player1/score/wimbledon", true),
            ("sport/#", "sport", true),
            ("#", "sport/tennis", true),
            ("sport/tennis/+", "sport/tennis/player1", true),
            ("sport/tennis/+", "sport/tennis/player1/ranking", false),
            ("sport/+", "sport", false),
            ("sport/+", "sport/", true),
            ("+/+", "/finance", true),
            ("/+", "/finance", true),
            ("+", "/finance", false),
            ("a/b", "a/b", true),
            ("a/b", "a/b/c", false),
            ("a/b/c", "a/b", false),
            ("A/b", "a/b", false),
        ];
        for (filter, name, expected) in cases {
            assert_eq!(topic_matches(filter, name), expected, "{filter} vs {name}");
        }
    }

    #[test]
    fn mqtt_4_7_2_1_wildcards_at_root_do_not_match_dollar_topics() {
        assert!(!topic_matches("#", "$SYS/broker/uptime"));
        assert!(!topic_matches("+/monitor/Clients", "$SYS/monitor/Clients"));
        assert!(topic_matches("$SYS/#", "$SYS/monitor/Clients"));
        assert!(topic_matches("$SYS/monitor/+", "$SYS/monitor/Clients"));
    }

    #[test]
    fn shared_subscriptions_parse() {
        let parsed = TopicFilter::parse("$share/consumer1/sport/tennis/+").unwrap();
        assert_eq!(parsed.share_group, Some("consumer1"));
        assert_eq!(parsed.filter, "sport/tennis/+");
        assert!(parsed.is_shared() && parsed.has_wildcards());
        assert_eq!(parsed.to_string(), "$share/consumer1/sport/tennis/+");
        assert!(!TopicFilter::parse("$shared/x/y").unwrap().is_shared());
    }

    #[test]
    fn mqtt_4_8_2_1_and_2_shared_subscription_syntax() {
        assert_eq!(TopicFilter::parse("$share/g"), Err(TopicError::MissingSharedFilter));
        assert_eq!(TopicFilter::parse("$share/g/"), Err(TopicError::MissingSharedFilter));
        assert_eq!(TopicFilter::parse("$share//a"), Err(TopicError::InvalidShareName));
        assert_eq!(TopicFilter::parse("$share/g+/a"), Err(TopicError::InvalidShareName));
        assert_eq!(TopicFilter::parse("$share/#/a"), Err(TopicError::InvalidShareName));
        assert_eq!(TopicFilter::parse("$share/g/a/#/b"), Err(TopicError::MultiLevelWildcardNotLast));
    }
}
