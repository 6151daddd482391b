//! SCRAM-SHA-256 enhanced authentication for clients (feature `broker`, where the core keeps
//! its SCRAM implementation): the `scram: { username, password }` client option.

use bytes::Bytes;
use mqttkit::broker::{SCRAM_SHA_256, ScramClient};
use mqttkit::client::{AuthExchange, Authenticator};

/// Answers the server's SCRAM-SHA-256 challenges at connect and on re-authentication.
pub(crate) struct Scram {
    pub(crate) username: String,
    pub(crate) password: String,
}

impl Authenticator for Scram {
    fn method(&self) -> &str {
        SCRAM_SHA_256
    }

    fn start(&self) -> Box<dyn AuthExchange> {
        Box::new(Exchange(ScramClient::new(&self.username, &self.password)))
    }
}

struct Exchange(ScramClient);

impl AuthExchange for Exchange {
    fn initial_data(&mut self) -> Option<Bytes> {
        Some(self.0.first())
    }

    fn respond(&mut self, challenge: Option<&[u8]>) -> Result<Option<Bytes>, String> {
        let challenge = challenge.ok_or_else(|| "the server sent no SCRAM challenge".to_owned())?;
        self.0
            .respond(challenge)
            .map(Some)
            .ok_or_else(|| "invalid SCRAM challenge from the server".to_owned())
    }

    fn finish(&mut self, data: Option<&[u8]>) -> Result<(), String> {
        match data {
            Some(data) if self.0.verify(data) => Ok(()),
            _ => Err("the server's SCRAM signature does not verify".to_owned()),
        }
    }
}
