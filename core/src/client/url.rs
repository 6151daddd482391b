//! Broker URLs: `mqtt://`, `mqtts://`, `ws://`, `wss://`.

use std::fmt;

use crate::error::{Error, Result};

/// How to reach the broker.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scheme {
    /// `mqtt://`: plain TCP (default port 1883).
    Mqtt,
    /// `mqtts://`: TLS over TCP (default port 8883).
    Mqtts,
    /// `ws://`: WebSocket (default port 80).
    Ws,
    /// `wss://`: WebSocket over TLS (default port 443).
    Wss,
}

impl Scheme {
    fn parse(text: &str) -> Option<Self> {
        match text.to_ascii_lowercase().as_str() {
            "mqtt" | "tcp" => Some(Scheme::Mqtt),
            "mqtts" | "ssl" | "tls" => Some(Scheme::Mqtts),
            "ws" => Some(Scheme::Ws),
            "wss" => Some(Scheme::Wss),
            _ => None,
        }
    }

    /// The port used when the URL names none.
    pub fn default_port(self) -> u16 {
        match self {
            Scheme::Mqtt => 1883,
            Scheme::Mqtts => 8883,
            Scheme::Ws => 80,
            Scheme::Wss => 443,
        }
    }

    /// The scheme as written in URLs.
    pub fn as_str(self) -> &'static str {
        match self {
            Scheme::Mqtt => "mqtt",
            Scheme::Mqtts => "mqtts",
            Scheme::Ws => "ws",
            Scheme::Wss => "wss",
        }
    }
}

/// A parsed broker URL: `scheme://[user[:password]@]host[:port][/path]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrokerUrl {
    /// Transport.
    pub scheme: Scheme,
    /// Host name or IP address (IPv6 without brackets).
    pub host: String,
    /// Port.
    pub port: u16,
    /// WebSocket path (default `/mqtt`); empty for TCP.
    pub path: String,
    /// User name given in the URL.
    pub username: Option<String>,
    /// Password given in the URL.
    pub password: Option<String>,
}

impl BrokerUrl {
    /// Parses a URL; `host:port` without a scheme means `mqtt://host:port`.
    pub fn parse(url: &str) -> Result<Self> {
        let invalid = |why: &str| Error::InvalidConfiguration(format!("invalid broker URL {url:?}: {why}"));
        let (scheme, rest) = match url.split_once("://") {
            Some((scheme, rest)) => {
                (Scheme::parse(scheme).ok_or_else(|| invalid("scheme must be mqtt, mqtts, ws or wss"))?, rest)
            }
            None => (Scheme::Mqtt, url),
        };
        let (authority, path) = match rest.find('/') {
            Some(index) => (&rest[..index], &rest[index..]),
            None => (rest, ""),
        };
        let (userinfo, hostport) = match authority.rsplit_once('@') {
            Some((userinfo, hostport)) => (Some(userinfo), hostport),
            None => (None, authority),
        };
        let (username, password) = match userinfo {
            Some(info) => match info.split_once(':') {
                Some((user, pass)) => (Some(user.to_owned()), Some(pass.to_owned())),
                None => (Some(info.to_owned()), None),
            },
            None => (None, None),
        };
        let (host, port) = if let Some(bracketed) = hostport.strip_prefix('[') {
            let (host, after) =
                bracketed.split_once(']').ok_or_else(|| invalid("unclosed '[' in IPv6 address"))?;
            match after.strip_prefix(':') {
                Some(port) => (host, Some(port)),
                None if after.is_empty() => (host, None),
                None => return Err(invalid("unexpected text after the IPv6 address")),
            }
        } else {
            match hostport.rsplit_once(':') {
                Some((host, port)) => (host, Some(port)),
                None => (hostport, None),
            }
        };
        if host.is_empty() {
            return Err(invalid("no host"));
        }
        let port = match port {
            Some(text) => {
                text.parse::<u16>().map_err(|_| invalid("port must be a number from 1 to 65535"))?
            }
            None => scheme.default_port(),
        };
        if port == 0 {
            return Err(invalid("port must be a number from 1 to 65535"));
        }
        let path = match scheme {
            Scheme::Ws | Scheme::Wss if path.is_empty() => "/mqtt".to_owned(),
            Scheme::Ws | Scheme::Wss => path.to_owned(),
            Scheme::Mqtt | Scheme::Mqtts if path.is_empty() || path == "/" => String::new(),
            Scheme::Mqtt | Scheme::Mqtts => return Err(invalid("mqtt:// and mqtts:// URLs take no path")),
        };
        Ok(BrokerUrl { scheme, host: host.to_owned(), port, path, username, password })
    }

    /// `host:port` for connecting (IPv6 in brackets).
    pub fn authority(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }
}

impl fmt::Display for BrokerUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}://{}{}", self.scheme.as_str(), self.authority(), self.path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_schemes_ports_and_credentials() {
        let url = BrokerUrl::parse("mqtt://127.0.0.1:1884").unwrap();
        assert_eq!((url.scheme, url.host.as_str(), url.port), (Scheme::Mqtt, "127.0.0.1", 1884));
        assert_eq!(BrokerUrl::parse("mqtts://broker.example").unwrap().port, 8883);
        let ws = BrokerUrl::parse("ws://user:secret@example.org").unwrap();
        assert_eq!((ws.port, ws.path.as_str()), (80, "/mqtt"));
        assert_eq!((ws.username.as_deref(), ws.password.as_deref()), (Some("user"), Some("secret")));
        assert_eq!(BrokerUrl::parse("wss://h/custom").unwrap().path, "/custom");
        let v6 = BrokerUrl::parse("mqtt://[::1]:1999").unwrap();
        assert_eq!((v6.host.as_str(), v6.authority()), ("::1", "[::1]:1999".to_owned()));
        assert_eq!(BrokerUrl::parse("localhost:1883").unwrap().scheme, Scheme::Mqtt);
    }

    #[test]
    fn rejects_bad_urls_with_a_reason() {
        for bad in [
            "http://x",
            "mqtt://",
            "mqtt://h:0",
            "mqtt://h:99999",
            "mqtt://h:x",
            "mqtt://[::1",
            "mqtt://h/path",
        ] {
            let error = BrokerUrl::parse(bad).unwrap_err();
            assert!(matches!(error, Error::InvalidConfiguration(ref m) if m.contains(bad)), "{bad}: {error}");
        }
    }
}
