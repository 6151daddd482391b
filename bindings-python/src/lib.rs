//! mqttkit bindings for python.
//!
//! This crate is a placeholder in the workspace; the binding itself lands with its own issue.
