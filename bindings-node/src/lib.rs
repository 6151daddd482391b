//! mqttkit bindings for node.
//!
//! This crate is a placeholder in the workspace; the binding itself lands with its own issue.
