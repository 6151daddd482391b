//! Operations handed over to the connection task whose outcome is still to come.
//!
//! The `submit_*` methods split a wait-for-acknowledgement call in two steps: the first
//! `.await` returns once the connection task has taken the command (so commands submitted
//! one after the other go out in that order), and [`Pending::wait`] then waits for the
//! server's answer. The bindings use them to keep call order while many operations are in
//! flight at once; `client.publish(...)` is `submit_publish_with(...)` and `wait()` in one.

use std::future::Future;
use std::time::Duration;

use bytes::Bytes;
use bytestring::ByteString;
use tokio::sync::oneshot;
use tokio::time::Instant;

use super::command::{Command, Reply};
use super::results::{
    AuthResult, ConnectResult, PingResult, PublishResult, SubscribeResult, UnsubscribeResult,
};
use super::{Client, PublishOptions, SubscribeOptions, UnsubscribeOptions};
use crate::error::{Error, Operation, Result};
use crate::protocol::{Auth, DisconnectProperties, ReasonCode, Subscription};

/// When a wait for an acknowledgement gives up, and the limit to report then.
#[derive(Debug, Clone, Copy)]
pub(super) struct Deadline {
    at: Instant,
    limit: Duration,
}

impl Deadline {
    /// `limit` from now; `None` for no limit, or one too far away to represent (such as
    /// [`NO_TIMEOUT`](super::NO_TIMEOUT)).
    pub(super) fn after(limit: Option<Duration>) -> Option<Deadline> {
        let limit = limit?;
        Instant::now().checked_add(limit).map(|at| Deadline { at, limit })
    }
}

/// Runs `outcome` until `deadline`, then fails with [`Error::Timeout`] for `operation`.
pub(super) async fn within<T>(
    deadline: Option<Deadline>,
    operation: Operation,
    outcome: impl Future<Output = Result<T>>,
) -> Result<T> {
    match deadline {
        Some(Deadline { at, limit }) => tokio::time::timeout_at(at, outcome)
            .await
            .unwrap_or(Err(Error::Timeout { operation, timeout: limit })),
        None => outcome.await,
    }
}

/// The result of a command the connection task has taken, still to come.
///
/// Dropping it abandons the wait: the operation still completes, its outcome is discarded
/// (it is not reported as an event either).
#[derive(Debug)]
#[must_use = "a Pending reports its outcome only through wait()"]
pub struct Pending<T> {
    operation: Operation,
    receiver: oneshot::Receiver<Result<T>>,
    deadline: Option<Deadline>,
}

impl<T> Pending<T> {
    /// The operation this is the outcome of.
    pub fn operation(&self) -> Operation {
        self.operation
    }

    /// Waits for the outcome: the server's acknowledgement, or the operation's error.
    /// The timeout given at submission counts from the moment the command was handed over.
    ///
    /// # Errors
    /// As the matching wait-for-acknowledgement method, e.g.
    /// [`Client::publish`]; [`Error::Timeout`] when the timeout expires first.
    pub async fn wait(self) -> Result<T> {
        let receiver = self.receiver;
        within(self.deadline, self.operation, async { receiver.await.unwrap_or(Err(Error::ChannelClosed)) })
            .await
    }
}

impl Client {
    /// Hands `make(reply)` to the connection task; the timeout starts now.
    async fn submit<T>(
        &self,
        operation: Operation,
        timeout: Option<Duration>,
        make: impl FnOnce(Reply<T>) -> Command,
    ) -> Result<Pending<T>> {
        let (sender, receiver) = oneshot::channel();
        self.send(make(Some(sender))).await?;
        Ok(Pending { operation, receiver, deadline: Deadline::after(timeout) })
    }

    /// [`connect_with_timeout`](Client::connect_with_timeout) in two steps (see
    /// [`Pending`]); `timeout: None` waits as long as it takes.
    ///
    /// # Errors
    /// [`Error::ChannelClosed`] after shutdown.
    pub async fn submit_connect(&self, timeout: Option<Duration>) -> Result<Pending<ConnectResult>> {
        self.submit(Operation::Connect, timeout, Command::Connect).await
    }

    /// [`publish_with`](Client::publish_with) in two steps (see [`Pending`]).
    ///
    /// # Errors
    /// An invalid publication ([`Error::InvalidArgument`]); [`Error::ChannelClosed`] after
    /// shutdown.
    pub async fn submit_publish_with(
        &self,
        topic: impl Into<ByteString>,
        payload: impl Into<Bytes>,
        options: PublishOptions,
    ) -> Result<Pending<PublishResult>> {
        let timeout = options.timeout.or(self.timeouts().publish);
        let publish = Self::publish_packet(topic.into(), payload.into(), options)?;
        self.submit(Operation::Publish, timeout, |reply| Command::Publish(publish, reply)).await
    }

    /// [`subscribe_with`](Client::subscribe_with) in two steps (see [`Pending`]).
    ///
    /// # Errors
    /// An invalid filter or option; [`Error::ChannelClosed`] after shutdown.
    pub async fn submit_subscribe_with(
        &self,
        subscriptions: Vec<Subscription>,
        options: SubscribeOptions,
    ) -> Result<Pending<SubscribeResult>> {
        let subscribe = Self::subscribe_packet(subscriptions, &options)?;
        let timeout = options.timeout.or(self.timeouts().subscribe);
        self.submit(Operation::Subscribe, timeout, |reply| Command::Subscribe(subscribe, reply)).await
    }

    /// [`unsubscribe_with`](Client::unsubscribe_with) in two steps (see [`Pending`]).
    ///
    /// # Errors
    /// No filter; [`Error::ChannelClosed`] after shutdown.
    pub async fn submit_unsubscribe_with(
        &self,
        filters: Vec<String>,
        options: UnsubscribeOptions,
    ) -> Result<Pending<UnsubscribeResult>> {
        let unsubscribe = Self::unsubscribe_packet(filters, &options)?;
        let timeout = options.timeout.or(self.timeouts().unsubscribe);
        self.submit(Operation::Unsubscribe, timeout, |reply| Command::Unsubscribe(unsubscribe, reply)).await
    }

    /// [`ping_with_timeout`](Client::ping_with_timeout) in two steps (see [`Pending`]);
    /// `timeout: None` waits as long as it takes.
    ///
    /// # Errors
    /// [`Error::ChannelClosed`] after shutdown.
    pub async fn submit_ping(&self, timeout: Option<Duration>) -> Result<Pending<PingResult>> {
        self.submit(Operation::Ping, timeout, Command::Ping).await
    }

    /// [`auth_continue_with_timeout`](Client::auth_continue_with_timeout) in two steps (see
    /// [`Pending`]); `timeout: None` waits as long as it takes.
    ///
    /// # Errors
    /// [`Error::ChannelClosed`] after shutdown.
    pub async fn submit_auth_continue(
        &self,
        method: impl Into<String>,
        data: Option<Bytes>,
        timeout: Option<Duration>,
    ) -> Result<Pending<AuthResult>> {
        let auth = Auth::new(ReasonCode::ContinueAuthentication, ByteString::from(method.into()), data);
        self.submit(Operation::Auth, timeout, |reply| Command::Auth(auth, reply)).await
    }

    /// [`re_authenticate_with_timeout`](Client::re_authenticate_with_timeout) in two steps
    /// (see [`Pending`]); `timeout: None` waits as long as it takes.
    ///
    /// # Errors
    /// [`Error::ChannelClosed`] after shutdown.
    pub async fn submit_re_authenticate(&self, timeout: Option<Duration>) -> Result<Pending<AuthResult>> {
        self.check_authenticator()?;
        self.submit(Operation::Auth, timeout, Command::ReAuthenticate).await
    }

    /// [`re_authenticate_with`](Client::re_authenticate_with) in two steps (see
    /// [`Pending`]), with its own timeout (`None`: as long as it takes).
    ///
    /// # Errors
    /// [`Error::ChannelClosed`] after shutdown.
    pub async fn submit_re_authenticate_with(
        &self,
        method: impl Into<String>,
        data: Option<Bytes>,
        timeout: Option<Duration>,
    ) -> Result<Pending<AuthResult>> {
        let auth = Auth::new(ReasonCode::ReAuthenticate, ByteString::from(method.into()), data);
        self.submit(Operation::Auth, timeout, |reply| Command::Auth(auth, reply)).await
    }

    /// [`disconnect_with_timeout`](Client::disconnect_with_timeout) in two steps (see
    /// [`Pending`]); `timeout: None` waits as long as it takes.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for a reason code DISCONNECT cannot carry;
    /// [`Error::ChannelClosed`] after shutdown.
    pub async fn submit_disconnect_with(
        &self,
        reason_code: ReasonCode,
        properties: DisconnectProperties,
        timeout: Option<Duration>,
    ) -> Result<Pending<()>> {
        let disconnect = Self::disconnect_packet(reason_code, properties)?;
        self.submit(Operation::Disconnect, timeout, |reply| Command::Disconnect(disconnect, reply)).await
    }
}
