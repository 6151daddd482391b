//! What a [`Client`](super::Client) handle asks its connection task to do.

use tokio::sync::oneshot;

use super::results::{
    AuthResult, ConnectResult, PingResult, PublishResult, SubscribeResult, UnsubscribeResult,
};
use crate::error::Result;
use crate::protocol::{Auth, Disconnect, Publish, Subscribe, Unsubscribe};

/// Where an operation's result goes: to a waiting caller, or (fire-and-forget) to the
/// event stream.
pub(crate) type Reply<T> = Option<oneshot::Sender<Result<T>>>;

/// Completes `reply` if somebody waits for it; tells whether anyone did.
pub(crate) fn complete<T>(reply: Reply<T>, result: Result<T>) -> bool {
    match reply {
        // A caller that gave up (timeout, cancelled task) has dropped the receiver.
        Some(sender) => {
            let _ = sender.send(result);
            true
        }
        None => false,
    }
}

/// One request from the handle.
#[derive(Debug)]
pub(crate) enum Command {
    Connect(Reply<ConnectResult>),
    Publish(Publish, Reply<PublishResult>),
    Subscribe(Subscribe, Reply<SubscribeResult>),
    Unsubscribe(Unsubscribe, Reply<UnsubscribeResult>),
    Ping(Reply<PingResult>),
    Auth(Auth, Reply<AuthResult>),
    /// Re-authenticate with the configured authenticator.
    ReAuthenticate(Reply<AuthResult>),
    Disconnect(Disconnect, Reply<()>),
    Shutdown(Reply<()>),
}
