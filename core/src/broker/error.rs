//! The broker's error type.

/// What can go wrong starting or running a broker.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BrokerError {
    /// The configuration is invalid; `origin` is the file (or other source) it came from.
    #[error("{origin}:{line}:{column}: {reason}")]
    Config {
        /// File name or other source of the configuration.
        origin: String,
        /// Line of the offending value (1-based).
        line: usize,
        /// Column of the offending value (1-based).
        column: usize,
        /// What is wrong.
        reason: String,
    },
    /// An I/O operation failed (binding a listener, reading a file, ...).
    #[error("{context}: {source}")]
    Io {
        /// What the broker was doing.
        context: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// A listener cannot serve as configured: its TLS files cannot be read or do not fit
    /// together, or its transport is not built in.
    #[error("listener {bind}: {reason}")]
    Listener {
        /// The listener's configured address.
        bind: std::net::SocketAddr,
        /// What is wrong.
        reason: String,
    },
    /// A bridge cannot start as configured (its TLS files cannot be read, ...).
    #[error("bridge {name}: {reason}")]
    Bridge {
        /// The bridge's name.
        name: String,
        /// What is wrong.
        reason: String,
    },
    /// The configuration asks for something this version does not implement yet.
    #[error("not supported yet: {0}")]
    Unsupported(String),
}
