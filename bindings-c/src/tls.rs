//! TLS settings of `mqtts://` and `wss://` clients (the core's `TlsOptions`), as setters on
//! `mqttkit_client_options_t`. PEM texts and files are read and checked by the setter, so a
//! bad certificate or key fails there with `MQTTKIT_RESULT_INVALID_ARGUMENT` and a message
//! naming what could not be read. TLS settings with an `mqtt://` or `ws://` URL make
//! `mqttkit_client_new` fail with `MQTTKIT_RESULT_INVALID_CONFIGURATION`. Without any of
//! them, `mqtts://` trusts the Mozilla root certificates.

use std::ffi::c_char;

use mqttkit::transport::TlsOptions;

use crate::error::{Failure, FfiResult, mqttkit_result};
use crate::options::{mqttkit_client_options_t, opts_mut};
use crate::{check_bytes, check_str, ffi_result};

/// The options' TLS settings, created empty on first use (only once a setter's arguments
/// were found valid, so that a failed setter leaves no TLS settings behind).
fn tls_of(options: &mut mqttkit_client_options_t) -> &mut TlsOptions {
    options.tls.get_or_insert_with(TlsOptions::default)
}

fn read_file(path: &str, what: &str) -> FfiResult<Vec<u8>> {
    std::fs::read(path).map_err(|e| Failure::invalid(format!("cannot read the {what} file {path:?}: {e}")))
}

/// Checks PEM texts by building a TLS configuration from them alone.
fn check(candidate: TlsOptions) -> FfiResult<()> {
    candidate.client_config().map(drop).map_err(Failure::invalid)
}

fn check_ca(pem: &[u8]) -> FfiResult<()> {
    check(TlsOptions { ca_pem: Some(pem.to_vec()), ..Default::default() })
}

fn add_ca(tls: &mut TlsOptions, pem: &[u8]) {
    let all = tls.ca_pem.get_or_insert_with(Vec::new);
    if !all.is_empty() && !all.ends_with(b"\n") {
        all.push(b'\n');
    }
    all.extend_from_slice(pem);
}

fn check_client_cert(cert: &[u8], key: &[u8]) -> FfiResult<()> {
    check(TlsOptions {
        client_cert_pem: Some(cert.to_vec()),
        client_key_pem: Some(key.to_vec()),
        insecure_skip_verify: true,
        ..Default::default()
    })
}

fn set_client_cert(tls: &mut TlsOptions, cert: Vec<u8>, key: Vec<u8>) {
    tls.client_cert_pem = Some(cert);
    tls.client_key_pem = Some(key);
}

/// Trusts the CA certificates in `len` bytes of PEM at `pem` (one or more certificates;
/// copied). May be called several times, also together with
/// `mqttkit_client_options_add_tls_ca_file`: every CA added is trusted, and only those
/// (not the Mozilla roots any more).
///
/// Returns `MQTTKIT_RESULT_INVALID_ARGUMENT` when the PEM holds no certificate or a broken
/// one (see `mqttkit_last_error`), `MQTTKIT_RESULT_NULL_PARAMETER` for NULL arguments.
///
/// # Safety
/// `options` NULL or live; `pem` readable for `len` bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mqttkit_client_options_add_tls_ca_pem(
    options: *mut mqttkit_client_options_t,
    pem: *const u8,
    len: usize,
) -> mqttkit_result {
    ffi_result! {
        let options = opts_mut(options)?;
        let pem = check_bytes!(pem, len);
        check_ca(pem)?;
        add_ca(tls_of(options), pem);
        Ok(())
    }
}

/// Trusts the CA certificates of the PEM file at `path` (read now). See
/// `mqttkit_client_options_add_tls_ca_pem`; an unreadable file is
/// `MQTTKIT_RESULT_INVALID_ARGUMENT` naming the path and the system error.
///
/// # Safety
/// `options` NULL or live; `path` NULL or NUL-terminated.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mqttkit_client_options_add_tls_ca_file(
    options: *mut mqttkit_client_options_t,
    path: *const c_char,
) -> mqttkit_result {
    ffi_result! {
        let options = opts_mut(options)?;
        let pem = read_file(check_str!(path), "CA")?;
        check_ca(&pem)?;
        add_ca(tls_of(options), &pem);
        Ok(())
    }
}

/// Client certificate chain and its private key (PEM; PKCS#8, PKCS#1 or SEC1 key; both
/// copied) for mutual TLS. Replaces an earlier pair.
///
/// Returns `MQTTKIT_RESULT_INVALID_ARGUMENT` when either cannot be read or the key does not
/// belong to the certificate (see `mqttkit_last_error`).
///
/// # Safety
/// `options` NULL or live; `cert` readable for `cert_len` bytes, `key` for `key_len`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mqttkit_client_options_set_tls_client_cert_pem(
    options: *mut mqttkit_client_options_t,
    cert: *const u8,
    cert_len: usize,
    key: *const u8,
    key_len: usize,
) -> mqttkit_result {
    ffi_result! {
        let options = opts_mut(options)?;
        let (cert, key) = (check_bytes!(cert, cert_len).to_vec(), check_bytes!(key, key_len).to_vec());
        check_client_cert(&cert, &key)?;
        set_client_cert(tls_of(options), cert, key);
        Ok(())
    }
}

/// `mqttkit_client_options_set_tls_client_cert_pem` with the certificate chain and the key
/// read now from the PEM files at `cert_path` and `key_path`.
///
/// # Safety
/// `options` NULL or live; `cert_path` and `key_path` NULL or NUL-terminated.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mqttkit_client_options_set_tls_client_cert_file(
    options: *mut mqttkit_client_options_t,
    cert_path: *const c_char,
    key_path: *const c_char,
) -> mqttkit_result {
    ffi_result! {
        let options = opts_mut(options)?;
        let (cert_path, key_path) = (check_str!(cert_path), check_str!(key_path));
        let cert = read_file(cert_path, "client certificate")?;
        let key = read_file(key_path, "client key")?;
        check_client_cert(&cert, &key)?;
        set_client_cert(tls_of(options), cert, key);
        Ok(())
    }
}

/// The name the server certificate is verified against (copied), when it differs from the
/// URL's host. An invalid name fails at `mqttkit_client_new` with
/// `MQTTKIT_RESULT_INVALID_CONFIGURATION`.
///
/// # Safety
/// `options` NULL or live; `server_name` NULL or NUL-terminated.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mqttkit_client_options_set_tls_server_name(
    options: *mut mqttkit_client_options_t,
    server_name: *const c_char,
) -> mqttkit_result {
    ffi_result! {
        let options = opts_mut(options)?;
        tls_of(options).server_name = Some(check_str!(server_name).to_owned());
        Ok(())
    }
}

/// Offers the ALPN protocol `protocol` (copied, 1..=255 bytes, e.g. "mqtt"), after those
/// added before.
///
/// # Safety
/// `options` NULL or live; `protocol` NULL or NUL-terminated.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mqttkit_client_options_add_tls_alpn(
    options: *mut mqttkit_client_options_t,
    protocol: *const c_char,
) -> mqttkit_result {
    ffi_result! {
        let options = opts_mut(options)?;
        let protocol = check_str!(protocol);
        if protocol.is_empty() || protocol.len() > 255 {
            return Err(Failure::invalid(format!("an ALPN protocol has 1 to 255 bytes, got {}", protocol.len())));
        }
        tls_of(options).alpn.push(protocol.as_bytes().to_vec());
        Ok(())
    }
}

/// Accept any server certificate (default false). Only for tests against self-signed
/// brokers: the connection is then encrypted but not authenticated.
///
/// Returns `MQTTKIT_RESULT_NULL_PARAMETER` when `options` is NULL.
///
/// # Safety
/// `options` NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mqttkit_client_options_set_tls_insecure_skip_verify(
    options: *mut mqttkit_client_options_t,
    insecure: bool,
) -> mqttkit_result {
    ffi_result! {
        tls_of(opts_mut(options)?).insecure_skip_verify = insecure;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn broken_pem_is_an_invalid_argument_naming_the_part() {
        let failure = check_ca(b"-----BEGIN CERTIFICATE-----\nnot base64!\n-----END CERTIFICATE-----\n")
            .expect_err("broken PEM");
        assert_eq!(failure.code, mqttkit_result::MQTTKIT_RESULT_INVALID_ARGUMENT);
        assert!(failure.message.contains("CA certificate"), "{}", failure.message);
        let failure = check_ca(b"no PEM at all").expect_err("no certificate");
        assert!(failure.message.contains("no certificate"), "{}", failure.message);
        let failure = check_client_cert(b"nothing", b"nothing").expect_err("no PEM");
        assert!(failure.message.contains("client certificate"), "{}", failure.message);
    }
}
