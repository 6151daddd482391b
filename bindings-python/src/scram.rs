//! SCRAM-SHA-256 enhanced authentication for the client (the `scram=(user, password)`
//! option), built on the SCRAM client of the core's broker module.

use bytes::Bytes;
use mqttkit::broker::{SCRAM_SHA_256, ScramClient};
use mqttkit::client::{AuthExchange, Authenticator};

/// Answers SCRAM-SHA-256 challenges with one user's credentials.
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
        self.0
            .respond(challenge.unwrap_or_default())
            .map(Some)
            .ok_or_else(|| "invalid SCRAM challenge".to_owned())
    }

    fn finish(&mut self, data: Option<&[u8]>) -> Result<(), String> {
        if self.0.verify(data.unwrap_or_default()) {
            Ok(())
        } else {
            Err("the server's SCRAM signature does not verify".to_owned())
        }
    }
}
