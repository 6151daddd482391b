//! Gives the shared library the SONAME it is installed under (`libmqttkit.so.0`).

fn main() {
    let major = std::env::var("CARGO_PKG_VERSION_MAJOR").unwrap_or_else(|_| "0".into());
    println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libmqttkit.so.{major}");
    println!("cargo:rerun-if-changed=build.rs");
}
