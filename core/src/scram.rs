//! SCRAM-SHA-256 (RFC 5802, RFC 7677) primitives and its client side, shared by the client's
//! [`ScramSha256`](crate::client::ScramSha256) authenticator and the broker's SCRAM method.

use std::collections::HashMap;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use bytes::Bytes;
use hmac::{KeyInit, Mac};
use sha2::{Digest, Sha256};

/// The name of the SCRAM-SHA-256 authentication method.
pub const SCRAM_SHA_256: &str = "SCRAM-SHA-256";

pub(crate) fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

type HmacSha256 = hmac::Hmac<Sha256>;

pub(crate) fn hmac(key: &[u8], data: &[u8]) -> [u8; 32] {
    let mut mac = <HmacSha256 as KeyInit>::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(data);
    mac.finalize().into_bytes().into()
}

pub(crate) fn sha256(data: &[u8]) -> [u8; 32] {
    Sha256::digest(data).into()
}

pub(crate) fn salted_password(password: &str, salt: &[u8], iterations: u32) -> [u8; 32] {
    let mut out = [0u8; 32];
    pbkdf2::pbkdf2_hmac::<Sha256>(password.as_bytes(), salt, iterations, &mut out);
    out
}

pub(crate) fn nonce() -> String {
    let mut raw = [0u8; 18];
    rand::fill(&mut raw[..]);
    B64.encode(raw)
}

/// Parses `k=v,k=v` SCRAM attributes.
pub(crate) fn attributes(message: &str) -> HashMap<char, &str> {
    message
        .split(',')
        .filter_map(|part| {
            let mut chars = part.chars();
            let key = chars.next()?;
            part.get(1..)?.strip_prefix('=').map(|value| (key, value))
        })
        .collect()
}

/// The client side of SCRAM-SHA-256, for clients and tests: [`ScramClient::first`], then
/// [`ScramClient::respond`] to the server's challenge, then [`ScramClient::verify`] the
/// server's final message.
#[derive(Debug, Clone)]
pub struct ScramClient {
    username: String,
    password: String,
    client_nonce: String,
    server_signature: Option<[u8; 32]>,
}

impl ScramClient {
    /// A client exchange for this user.
    pub fn new(username: &str, password: &str) -> Self {
        ScramClient {
            username: username.to_owned(),
            password: password.to_owned(),
            client_nonce: nonce(),
            server_signature: None,
        }
    }

    fn first_bare(&self) -> String {
        let name = self.username.replace('=', "=3D").replace(',', "=2C");
        format!("n={name},r={}", self.client_nonce)
    }

    /// The client-first message (the Authentication Data of CONNECT).
    pub fn first(&self) -> Bytes {
        Bytes::from(format!("n,,{}", self.first_bare()))
    }

    /// The client-final message answering the server-first message; `None` if the
    /// challenge is invalid.
    pub fn respond(&mut self, server_first: &[u8]) -> Option<Bytes> {
        let server_first = std::str::from_utf8(server_first).ok()?;
        let attrs = attributes(server_first);
        let nonce = *attrs.get(&'r')?;
        if !nonce.starts_with(&self.client_nonce) {
            return None;
        }
        let salt = B64.decode(attrs.get(&'s')?).ok()?;
        let iterations: u32 = attrs.get(&'i')?.parse().ok()?;
        let salted = salted_password(&self.password, &salt, iterations);
        let without_proof = format!("c=biws,r={nonce}");
        let auth_message = format!("{},{server_first},{without_proof}", self.first_bare());
        let client_key = hmac(&salted, b"Client Key");
        let signature = hmac(&sha256(&client_key), auth_message.as_bytes());
        let proof: Vec<u8> = client_key.iter().zip(signature).map(|(k, s)| k ^ s).collect();
        self.server_signature = Some(hmac(&hmac(&salted, b"Server Key"), auth_message.as_bytes()));
        Some(Bytes::from(format!("{without_proof},p={}", B64.encode(proof))))
    }

    /// Whether the server-final message proves that the server knows the password.
    pub fn verify(&self, server_final: &[u8]) -> bool {
        let Some(expected) = self.server_signature else { return false };
        std::str::from_utf8(server_final)
            .ok()
            .and_then(|s| s.strip_prefix("v="))
            .and_then(|v| B64.decode(v).ok())
            .is_some_and(|v| constant_time_eq(&v, &expected))
    }
}
