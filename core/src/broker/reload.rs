//! The authenticator and the ACL the broker builds from its own configuration, held so that
//! [`super::BrokerHandle::reload_auth`] can rebuild them from the password file and the ACL
//! file while clients stay connected (Mosquitto does the same on SIGHUP).
//!
//! Each is swapped whole: a check in flight finishes with the rules it started with, the
//! next one sees the new rules, and the hot paths pay one lock-free load per check.

use std::sync::Arc;

use arc_swap::ArcSwap;

use super::acl::Acl;
use super::auth::{AuthDecision, AuthExchange, AuthFuture, Authenticator, ConfigAuthenticator, Credentials};
use super::authorizer::{Access, Authorizer, ClientIdentity};
use super::config::{AclConfig, AuthConfig};
use super::error::BrokerError;

/// The built-in authenticator ([`ConfigAuthenticator`]), replaceable on reload.
pub(crate) struct ConfiguredAuthenticator {
    current: ArcSwap<ConfigAuthenticator>,
}

impl Authenticator for ConfiguredAuthenticator {
    fn check<'a>(&'a self, credentials: Credentials<'a>) -> AuthFuture<'a, AuthDecision> {
        let current = self.current.load_full();
        Box::pin(async move { current.check(credentials).await })
    }

    fn start(&self, method: &str) -> Option<Box<dyn AuthExchange>> {
        self.current.load().start(method)
    }
}

/// The configured ACL ([`Acl`]), replaceable on reload.
pub(crate) struct ConfiguredAcl {
    current: ArcSwap<Acl>,
}

impl Authorizer for ConfiguredAcl {
    fn authorize(&self, client: &ClientIdentity<'_>, access: Access, topic: &str) -> bool {
        self.current.load().authorize(client, access, topic)
    }

    fn authorize_subscribe(&self, client: &ClientIdentity<'_>, filter: &str) -> bool {
        self.current.load().authorize_subscribe(client, filter)
    }
}

/// What the broker built from its configuration and can rebuild: `None` where the
/// builder was given a custom authenticator or authorizer (those are the application's to
/// update), or where no ACL is configured.
#[derive(Default)]
pub(crate) struct Reloadable {
    authenticator: Option<Arc<ConfiguredAuthenticator>>,
    acl: Option<Arc<ConfiguredAcl>>,
}

impl Reloadable {
    /// Wraps the built-in authenticator so that it can be reloaded; the broker uses what
    /// this returns.
    pub(crate) fn authenticator(&mut self, authenticator: ConfigAuthenticator) -> Arc<dyn Authenticator> {
        let configured = Arc::new(ConfiguredAuthenticator { current: ArcSwap::from_pointee(authenticator) });
        self.authenticator = Some(configured.clone());
        configured
    }

    /// Wraps the configured ACL so that it can be reloaded; the broker uses what this
    /// returns.
    pub(crate) fn acl(&mut self, acl: Acl) -> Arc<dyn Authorizer> {
        let configured = Arc::new(ConfiguredAcl { current: ArcSwap::from_pointee(acl) });
        self.acl = Some(configured.clone());
        configured
    }

    /// Reads the password file and the ACL file again (with the in-config users and
    /// rules of `auth` and `acl`) and, only if both load, puts them in force together.
    ///
    /// # Errors
    /// A file cannot be read or has a bad line: nothing changes, and the error names the
    /// file and the line.
    pub(crate) fn reload(&self, auth: &AuthConfig, acl: &AclConfig) -> Result<(), BrokerError> {
        let authenticator =
            self.authenticator.as_ref().map(|_| ConfigAuthenticator::load(auth)).transpose()?;
        let rules = self.acl.as_ref().map(|_| Acl::load(acl)).transpose()?;
        if let (Some(configured), Some(authenticator)) = (&self.authenticator, authenticator) {
            configured.current.store(Arc::new(authenticator));
        }
        if let (Some(configured), Some(rules)) = (&self.acl, rules) {
            tracing::info!(rules = rules.rules().len(), default = ?rules.default_decision(), "ACL reloaded");
            configured.current.store(Arc::new(rules));
        }
        Ok(())
    }
}
