//! The library version: macros in the header and `mqttkit_version()`, both equal to the
//! crate version in Cargo.toml (checked by the tests).

use std::ffi::c_char;

/// Major version of the header (matches `mqttkit_version()` of the library it ships with).
pub const MQTTKIT_VERSION_MAJOR: u32 = 0;
/// Minor version of the header.
pub const MQTTKIT_VERSION_MINOR: u32 = 1;
/// Patch version of the header.
pub const MQTTKIT_VERSION_PATCH: u32 = 0;

/// The version of the loaded library, e.g. "0.1.0" (static, never NULL, do not free).
/// Compare with the header's `MQTTKIT_VERSION` string macro (built from the three numeric macros) to detect a header/library mismatch.
#[unsafe(no_mangle)]
pub extern "C" fn mqttkit_version() -> *const c_char {
    crate::ffi_boundary! { concat!(env!("CARGO_PKG_VERSION"), "\0").as_ptr().cast::<c_char>() }
}

/// For tests of the panic boundary: panics inside the library and returns what the boundary
/// turns a panic into, `MQTTKIT_RESULT_PANIC` (with the panic message as last error).
/// Nothing is printed to stderr.
#[unsafe(no_mangle)]
pub extern "C" fn mqttkit_debug_panic() -> crate::error::mqttkit_result {
    crate::ffi_boundary! {
        panic!("mqttkit_debug_panic was called")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_constants_match_cargo_toml() {
        assert_eq!(MQTTKIT_VERSION_MAJOR.to_string(), env!("CARGO_PKG_VERSION_MAJOR"));
        assert_eq!(MQTTKIT_VERSION_MINOR.to_string(), env!("CARGO_PKG_VERSION_MINOR"));
        assert_eq!(MQTTKIT_VERSION_PATCH.to_string(), env!("CARGO_PKG_VERSION_PATCH"));
    }
}
