//! Raw packet API for protocol-compliance testing (feature `protocol-testing`).
