//! Enhanced authentication (MQTT 5 §4.12) on the client side: an [`Authenticator`] answers
//! the server's AUTH challenges during CONNECT and during re-authentication.

use bytes::Bytes;

/// An enhanced-authentication method the client can run, e.g. SCRAM-SHA-256.
///
/// Configure it with
/// [`ClientOptionsBuilder::authenticator`](super::ClientOptionsBuilder::authenticator): the
/// client then sends its method in CONNECT, answers every AUTH challenge, and checks the
/// server's final data before reporting the connection as established.
pub trait Authenticator: Send + Sync + 'static {
    /// The Authentication Method name sent to the server.
    fn method(&self) -> &str;

    /// Starts one authentication exchange (one per connect or re-authentication).
    fn start(&self) -> Box<dyn AuthExchange>;
}

/// One run of an authentication method.
pub trait AuthExchange: Send {
    /// Authentication Data for CONNECT, or for the AUTH that starts re-authentication.
    fn initial_data(&mut self) -> Option<Bytes>;

    /// The answer to an AUTH Continue authentication from the server.
    ///
    /// # Errors
    /// A message saying why the challenge cannot be answered; the attempt fails with
    /// [`Error::AuthFailed`](crate::Error::AuthFailed).
    fn respond(&mut self, challenge: Option<&[u8]>) -> Result<Option<Bytes>, String>;

    /// Checks the server's final Authentication Data (in CONNACK or AUTH Success).
    ///
    /// # Errors
    /// A message saying why the server is not trusted; the attempt fails with
    /// [`Error::AuthFailed`](crate::Error::AuthFailed).
    fn finish(&mut self, data: Option<&[u8]>) -> Result<(), String>;
}

/// SCRAM-SHA-256 (RFC 5802, RFC 7677) with a user name and password: the client proves it
/// knows the password without sending it, and checks that the server knows it too.
///
/// ```no_run
/// # fn demo() -> mqttkit::Result<()> {
/// use mqttkit::client::{ClientOptions, ScramSha256};
/// let options = ClientOptions::builder("mqtt://127.0.0.1:1883")
///     .authenticator(ScramSha256::new("alice", "s3cret"))
///     .build()?;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct ScramSha256 {
    username: String,
    password: String,
}

impl ScramSha256 {
    /// The method for this user.
    pub fn new(username: impl Into<String>, password: impl Into<String>) -> Self {
        ScramSha256 { username: username.into(), password: password.into() }
    }
}

impl std::fmt::Debug for ScramSha256 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ScramSha256").field("username", &self.username).finish_non_exhaustive()
    }
}

impl Authenticator for ScramSha256 {
    fn method(&self) -> &str {
        crate::scram::SCRAM_SHA_256
    }

    fn start(&self) -> Box<dyn AuthExchange> {
        Box::new(crate::scram::ScramClient::new(&self.username, &self.password))
    }
}

impl AuthExchange for crate::scram::ScramClient {
    fn initial_data(&mut self) -> Option<Bytes> {
        Some(self.first())
    }

    fn respond(&mut self, challenge: Option<&[u8]>) -> Result<Option<Bytes>, String> {
        let challenge = challenge.ok_or("the server's SCRAM challenge has no data")?;
        crate::scram::ScramClient::respond(self, challenge)
            .map(Some)
            .ok_or_else(|| "the server's SCRAM challenge is malformed or has a foreign nonce".to_owned())
    }

    fn finish(&mut self, data: Option<&[u8]>) -> Result<(), String> {
        let data = data.ok_or("the server sent no SCRAM signature")?;
        if self.verify(data) {
            Ok(())
        } else {
            Err("the server's SCRAM signature is wrong: it does not know the password".to_owned())
        }
    }
}
