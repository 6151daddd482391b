//! Authentication: the [`Authenticator`] trait the broker consults at CONNECT (user name and
//! password) and for enhanced authentication (the AUTH exchange, re-authentication
//! included), the in-config user list [`ConfigAuthenticator`], and the built-in
//! SCRAM-SHA-256 method (RFC 5802 / RFC 7677): [`ScramServer`] here, [`ScramClient`] in
//! [`crate::scram`].

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use bytes::Bytes;

use super::config::AuthConfig;
use crate::protocol::ReasonCode;

/// A boxed future returned by authenticators, so that they can do I/O.
pub type AuthFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// What a client presented in CONNECT.
#[derive(Debug, Clone, Copy)]
pub struct Credentials<'a> {
    /// The client identifier (possibly assigned by the broker).
    pub client_id: &'a str,
    /// User Name, if any.
    pub username: Option<&'a str>,
    /// Password, if any.
    pub password: Option<&'a [u8]>,
}

/// The verdict on a connection attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthDecision {
    /// Accept the connection.
    Allow,
    /// Refuse it with this CONNACK reason code (e.g. 0x86 Bad User Name or Password, 0x87
    /// Not authorized).
    Deny(ReasonCode),
}

/// One step of an enhanced authentication exchange, as the server answers it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthStep {
    /// Send AUTH 0x18 Continue authentication with this data and wait for the client.
    Continue(Bytes),
    /// Authentication succeeded; the data (if any) goes into CONNACK or AUTH 0x00.
    Success(Option<Bytes>),
    /// Authentication failed with this reason code.
    Failure(ReasonCode),
}

/// The server side of one enhanced authentication exchange (one per CONNECT or
/// re-authentication).
pub trait AuthExchange: Send {
    /// Handles the client's next Authentication Data (from CONNECT first, then from each
    /// AUTH 0x18 or 0x19).
    fn step(&mut self, data: Option<Bytes>) -> AuthFuture<'_, AuthStep>;

    /// The authenticated user, once the exchange succeeded.
    fn username(&self) -> Option<&str> {
        None
    }
}

/// Decides who may connect. Implementations must be cheap to share across connections.
pub trait Authenticator: Send + Sync + 'static {
    /// Checks a CONNECT without an Authentication Method.
    fn check<'a>(&'a self, credentials: Credentials<'a>) -> AuthFuture<'a, AuthDecision>;

    /// Starts an enhanced authentication exchange for `method`; `None` if the method is
    /// not supported (the client then gets 0x8C Bad authentication method).
    fn start(&self, method: &str) -> Option<Box<dyn AuthExchange>> {
        let _ = method;
        None
    }
}

pub use crate::scram::{SCRAM_SHA_256, ScramClient};
use crate::scram::{attributes, constant_time_eq, hmac, nonce, salted_password, sha256};

/// Iterations of PBKDF2 for SCRAM (RFC 7677's minimum).
const SCRAM_ITERATIONS: u32 = 4096;

/// The in-config user list: plain user name / password pairs, plus `allow_anonymous`, with
/// SCRAM-SHA-256 available for every user.
#[derive(Clone)]
pub struct ConfigAuthenticator {
    allow_anonymous: bool,
    users: HashMap<String, String>,
}

impl std::fmt::Debug for ConfigAuthenticator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConfigAuthenticator")
            .field("allow_anonymous", &self.allow_anonymous)
            .field("users", &self.users.len())
            .finish()
    }
}

impl ConfigAuthenticator {
    /// The authenticator described by `config`.
    pub fn new(config: &AuthConfig) -> Self {
        ConfigAuthenticator {
            allow_anonymous: config.allow_anonymous,
            users: config.users.iter().map(|u| (u.username.clone(), u.password.clone())).collect(),
        }
    }
}

impl Authenticator for ConfigAuthenticator {
    fn check<'a>(&'a self, credentials: Credentials<'a>) -> AuthFuture<'a, AuthDecision> {
        let decision = match credentials.username {
            None if credentials.password.is_none() => {
                if self.allow_anonymous {
                    AuthDecision::Allow
                } else {
                    AuthDecision::Deny(ReasonCode::NotAuthorized)
                }
            }
            None => AuthDecision::Deny(ReasonCode::BadUserNameOrPassword),
            Some(name) => match (self.users.get(name), credentials.password) {
                (Some(expected), Some(given)) if constant_time_eq(expected.as_bytes(), given) => {
                    AuthDecision::Allow
                }
                (None, _) if self.users.is_empty() && self.allow_anonymous => AuthDecision::Allow,
                _ => AuthDecision::Deny(ReasonCode::BadUserNameOrPassword),
            },
        };
        Box::pin(async move { decision })
    }

    fn start(&self, method: &str) -> Option<Box<dyn AuthExchange>> {
        (method == SCRAM_SHA_256).then(|| {
            let users = self.users.clone();
            Box::new(ScramServer::new(move |name| users.get(name).cloned())) as Box<dyn AuthExchange>
        })
    }
}

enum ScramState {
    ClientFirst,
    ClientFinal { username: String, client_first_bare: String, server_first: String, salted: [u8; 32] },
    Done,
}

/// The server side of SCRAM-SHA-256 (RFC 5802, RFC 7677), without channel binding.
/// `lookup` returns a user's password.
pub struct ScramServer<F> {
    lookup: F,
    state: ScramState,
    authenticated: Option<String>,
}

impl<F: Fn(&str) -> Option<String> + Send> ScramServer<F> {
    /// A new exchange that checks passwords with `lookup`.
    pub fn new(lookup: F) -> Self {
        ScramServer { lookup, state: ScramState::ClientFirst, authenticated: None }
    }

    fn advance(&mut self, data: Option<Bytes>) -> AuthStep {
        let fail = AuthStep::Failure(ReasonCode::NotAuthorized);
        let Some(text) = data.as_deref().and_then(|d| std::str::from_utf8(d).ok()) else { return fail };
        match std::mem::replace(&mut self.state, ScramState::Done) {
            ScramState::ClientFirst => {
                // gs2 header: no channel binding ("n") or client supports it but we do not ("y").
                let Some(bare) = text.strip_prefix("n,,").or_else(|| text.strip_prefix("y,,")) else {
                    return fail;
                };
                let attrs = attributes(bare);
                let (Some(name), Some(client_nonce)) = (attrs.get(&'n'), attrs.get(&'r')) else {
                    return fail;
                };
                let username = name.replace("=2C", ",").replace("=3D", "=");
                let Some(password) = (self.lookup)(&username) else { return fail };
                let mut salt = [0u8; 16];
                rand::fill(&mut salt[..]);
                let server_first =
                    format!("r={client_nonce}{},s={},i={SCRAM_ITERATIONS}", nonce(), B64.encode(salt));
                let salted = salted_password(&password, &salt, SCRAM_ITERATIONS);
                let reply = Bytes::from(server_first.clone().into_bytes());
                self.state = ScramState::ClientFinal {
                    username,
                    client_first_bare: bare.to_owned(),
                    server_first,
                    salted,
                };
                AuthStep::Continue(reply)
            }
            ScramState::ClientFinal { username, client_first_bare, server_first, salted } => {
                let Some((without_proof, proof)) = text.rsplit_once(",p=") else { return fail };
                let attrs = attributes(without_proof);
                let server_nonce = attributes(&server_first).get(&'r').map(|s| s.to_string());
                if attrs.get(&'r').map(|s| s.to_string()) != server_nonce {
                    return fail;
                }
                let binding_ok = matches!(attrs.get(&'c'), Some(&"biws") | Some(&"eSws"));
                let Ok(proof) = B64.decode(proof) else { return fail };
                if !binding_ok || proof.len() != 32 {
                    return fail;
                }
                let auth_message = format!("{client_first_bare},{server_first},{without_proof}");
                let client_key = hmac(&salted, b"Client Key");
                let stored_key = sha256(&client_key);
                let signature = hmac(&stored_key, auth_message.as_bytes());
                let recovered: Vec<u8> = proof.iter().zip(signature).map(|(p, s)| p ^ s).collect();
                if !constant_time_eq(&sha256(&recovered), &stored_key) {
                    return fail;
                }
                let server_key = hmac(&salted, b"Server Key");
                let server_signature = hmac(&server_key, auth_message.as_bytes());
                self.authenticated = Some(username);
                AuthStep::Success(Some(Bytes::from(format!("v={}", B64.encode(server_signature)))))
            }
            ScramState::Done => fail,
        }
    }
}

impl<F: Fn(&str) -> Option<String> + Send> AuthExchange for ScramServer<F> {
    fn step(&mut self, data: Option<Bytes>) -> AuthFuture<'_, AuthStep> {
        let step = self.advance(data);
        Box::pin(async move { step })
    }

    fn username(&self) -> Option<&str> {
        self.authenticated.as_deref()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(step: AuthFuture<'_, AuthStep>) -> AuthStep {
        // The built-in futures are ready at once.
        let waker = std::task::Waker::noop();
        let mut cx = std::task::Context::from_waker(waker);
        let mut step = step;
        match step.as_mut().poll(&mut cx) {
            std::task::Poll::Ready(step) => step,
            std::task::Poll::Pending => panic!("pending"),
        }
    }

    fn server() -> ScramServer<impl Fn(&str) -> Option<String> + Send> {
        ScramServer::new(|name: &str| (name == "user").then(|| "pencil".to_owned()))
    }

    #[test]
    fn scram_sha_256_round_trip() {
        let mut client = ScramClient::new("user", "pencil");
        let mut server = server();
        let AuthStep::Continue(challenge) = run(server.step(Some(client.first()))) else { panic!() };
        let response = client.respond(&challenge).unwrap();
        let AuthStep::Success(Some(final_message)) = run(server.step(Some(response))) else { panic!() };
        assert!(client.verify(&final_message));
        assert_eq!(server.username(), Some("user"));
    }

    #[test]
    fn scram_rejects_a_wrong_password_and_unknown_users() {
        let mut client = ScramClient::new("user", "wrong");
        let mut exchange = server();
        let AuthStep::Continue(challenge) = run(exchange.step(Some(client.first()))) else { panic!() };
        let response = client.respond(&challenge).unwrap();
        assert_eq!(run(exchange.step(Some(response))), AuthStep::Failure(ReasonCode::NotAuthorized));

        let client = ScramClient::new("nobody", "x");
        assert_eq!(run(server().step(Some(client.first()))), AuthStep::Failure(ReasonCode::NotAuthorized));
    }

    /// RFC 7677 §3 test vector (user "user", password "pencil").
    #[test]
    fn rfc_7677_test_vector() {
        let salt = B64.decode("W22ZaJ0SNY7soEsUEjb6gQ==").unwrap();
        let salted = salted_password("pencil", &salt, 4096);
        let first_bare = "n=user,r=rOprNGfwEbeRWgbNEkqO";
        let server_first =
            "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096";
        let without_proof = "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0";
        let auth = format!("{first_bare},{server_first},{without_proof}");
        let client_key = hmac(&salted, b"Client Key");
        let signature = hmac(&sha256(&client_key), auth.as_bytes());
        let proof: Vec<u8> = client_key.iter().zip(signature).map(|(k, s)| k ^ s).collect();
        assert_eq!(B64.encode(proof), "dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=");
        let server_signature = hmac(&hmac(&salted, b"Server Key"), auth.as_bytes());
        assert_eq!(B64.encode(server_signature), "6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=");
    }
}
