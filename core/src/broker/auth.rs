//! Authentication: the [`Authenticator`] trait the broker consults at CONNECT (user name and
//! password) and for enhanced authentication (the AUTH exchange, re-authentication
//! included), the configured users [`ConfigAuthenticator`] (in-config list and password
//! file), and the built-in
//! SCRAM-SHA-256 method (RFC 5802 / RFC 7677): [`ScramServer`] here, [`ScramClient`] in
//! [`crate::scram`].

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use bytes::Bytes;
use tokio::sync::Semaphore;

use super::config::AuthConfig;
use super::error::BrokerError;
use super::password_file::{self, PasswordFile};
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

/// The configured users: the in-config user list (plain user name / password pairs, with
/// SCRAM-SHA-256 available for every one of them), the users of the password file (argon2id
/// hashes, user name and password only), and `allow_anonymous`.
///
/// A password-file verification runs on Tokio's blocking threads, at most as many at once
/// as there are CPUs (argon2id is slow and memory-hard by design: it must neither stall the
/// connections' tasks nor let a burst of CONNECTs exhaust memory); an unknown user costs the
/// same time as a wrong password. Nothing is cached.
#[derive(Clone)]
pub struct ConfigAuthenticator {
    allow_anonymous: bool,
    users: HashMap<String, String>,
    hashed: Arc<HashMap<String, String>>,
    verifications: Arc<Semaphore>,
}

impl std::fmt::Debug for ConfigAuthenticator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConfigAuthenticator")
            .field("allow_anonymous", &self.allow_anonymous)
            .field("users", &self.users.len())
            .field("password_file_users", &self.hashed.len())
            .finish()
    }
}

impl ConfigAuthenticator {
    /// The authenticator of `config`'s in-config users (its `password_file` is not read: see
    /// [`ConfigAuthenticator::load`]).
    pub fn new(config: &AuthConfig) -> Self {
        let cpus = std::thread::available_parallelism().map_or(1, usize::from);
        ConfigAuthenticator {
            allow_anonymous: config.allow_anonymous,
            users: config.users.iter().map(|u| (u.username.clone(), u.password.clone())).collect(),
            hashed: Arc::new(HashMap::new()),
            verifications: Arc::new(Semaphore::new(cpus)),
        }
    }

    /// The authenticator `config` describes, its password file read now.
    ///
    /// # Errors
    /// The password file cannot be read or has a bad line ([`PasswordFile::read`]), or one
    /// of its users is also in the in-config list.
    pub fn load(config: &AuthConfig) -> Result<Self, BrokerError> {
        let mut authenticator = Self::new(config);
        if let Some(path) = &config.password_file {
            let file = PasswordFile::read(path)?;
            authenticator = authenticator.with_password_file(&file).map_err(|reason| {
                BrokerError::Config { origin: path.display().to_string(), line: 1, column: 1, reason }
            })?;
            tracing::info!(path = %path.display(), users = authenticator.hashed.len(), "password file loaded");
        }
        Ok(authenticator)
    }

    /// Adds the users of a password file.
    ///
    /// # Errors
    /// A user of the file is also in the in-config list (which one should win is unclear).
    pub fn with_password_file(mut self, file: &PasswordFile) -> Result<Self, String> {
        let mut hashed = HashMap::new();
        for name in file.users() {
            if self.users.contains_key(name) {
                return Err(format!("user {name:?} is both in [[auth.users]] and in the password file"));
            }
            hashed.insert(name.to_owned(), file.hash_of(name).unwrap_or_default().to_owned());
        }
        self.hashed = Arc::new(hashed);
        Ok(self)
    }

    /// Verifies a password against a password-file hash (or, with no hash, spends the same
    /// time and fails) on a blocking thread, within the concurrency limit.
    async fn verify(&self, hash: Option<String>, password: &[u8]) -> bool {
        let Ok(_permit) = self.verifications.clone().acquire_owned().await else { return false };
        let password = password.to_vec();
        let verified = tokio::task::spawn_blocking(move || match hash {
            Some(hash) => password_file::verify_password(&hash, &password),
            None => password_file::verify_unknown_user(&password),
        });
        verified.await.unwrap_or(false)
    }
}

impl Authenticator for ConfigAuthenticator {
    fn check<'a>(&'a self, credentials: Credentials<'a>) -> AuthFuture<'a, AuthDecision> {
        Box::pin(async move {
            let bad = AuthDecision::Deny(ReasonCode::BadUserNameOrPassword);
            let (name, password) = match (credentials.username, credentials.password) {
                (None, None) if self.allow_anonymous => return AuthDecision::Allow,
                (None, None) => return AuthDecision::Deny(ReasonCode::NotAuthorized),
                (None, Some(_)) => return bad,
                (Some(name), password) => (name, password),
            };
            if let Some(expected) = self.users.get(name) {
                return match password {
                    Some(given) if constant_time_eq(expected.as_bytes(), given) => AuthDecision::Allow,
                    _ => bad,
                };
            }
            if self.users.is_empty() && self.hashed.is_empty() {
                return if self.allow_anonymous { AuthDecision::Allow } else { bad };
            }
            match (self.hashed.is_empty(), password) {
                (false, Some(password)) if self.verify(self.hashed.get(name).cloned(), password).await => {
                    AuthDecision::Allow
                }
                _ => bad,
            }
        })
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
