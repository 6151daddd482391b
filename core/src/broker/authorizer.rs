//! Authorization: the [`Authorizer`] trait the broker consults for every PUBLISH it
//! receives, every SUBSCRIBE filter, every delivery to a subscriber and every will. The
//! built-in implementation is the ACL ([`super::Acl`]); without one the broker allows
//! everything and pays nothing for it.

/// What a client wants to do with a topic.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Access {
    /// Receive messages published to the topic (and subscribe to filters matching it).
    Read,
    /// Publish to the topic (wills included).
    Write,
}

impl Access {
    /// `"read"` or `"write"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Access::Read => "read",
            Access::Write => "write",
        }
    }
}

impl std::fmt::Display for Access {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The client an authorization is asked for: what it authenticated as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientIdentity<'a> {
    /// Its client identifier (possibly assigned by the broker).
    pub client_id: &'a str,
    /// The user it authenticated as: the CONNECT User Name, or the user of a successful
    /// enhanced authentication; `None` for an anonymous client.
    pub username: Option<&'a str>,
}

/// Decides what an authenticated client may do. The broker calls it on its hot paths
/// (every delivery to every subscriber), so implementations must answer quickly and must
/// not block: precompute whatever they can.
///
/// Denials are counted and logged by the broker (see [`super::BrokerStats`]): a denied
/// PUBLISH is answered with 0x87 Not authorized (MQTT 5) or acknowledged and dropped (3.1.1),
/// a denied SUBSCRIBE filter with 0x87 / 0x80, a denied delivery is skipped for that
/// subscriber (a message of a shared subscription goes to one member, checked like any
/// delivery), a denied will is not published. The broker's bridges are not subject to it; a
/// persistent session is resumed only by the user it belongs to.
pub trait Authorizer: Send + Sync + 'static {
    /// Whether `client` may publish to (`Write`) or receive a message on (`Read`) the topic
    /// name `topic`.
    fn authorize(&self, client: &ClientIdentity<'_>, access: Access, topic: &str) -> bool;

    /// Whether `client` may subscribe to `filter` (a valid topic filter, without any
    /// `$share/{group}/` prefix). Each message it then receives is also checked with
    /// [`Authorizer::authorize`] for `Read`. The default allows a filter with wildcards
    /// (deliveries are checked one by one) and checks a filter without wildcards as a topic.
    fn authorize_subscribe(&self, client: &ClientIdentity<'_>, filter: &str) -> bool {
        filter.contains(['+', '#']) || self.authorize(client, Access::Read, filter)
    }
}
