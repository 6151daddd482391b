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
