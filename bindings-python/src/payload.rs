//! Payloads from Python: `bytes`, `bytearray`, `memoryview` (any buffer) or `str` become the
//! one [`Bytes`] the core sends from, with at most one copy.
//!
//! - `bytes`: copied when small; from [`SHARE_FROM`] bytes on, the core sends straight from
//!   the Python object, which it keeps alive (a `bytes` object never changes).
//! - `str`: encoded to UTF-8 once (that is the copy), and sent from the encoded object.
//! - `bytearray`: copied once (it may change after the call returns).
//! - `memoryview` and other buffers: copied once by `memoryview.tobytes()`, and sent from
//!   that object. The stable ABI of Python 3.9 (this wheel's floor) has no
//!   buffer protocol; pyo3's `PyBuffer` would need an `abi3-py311` build, and would still
//!   copy once (a buffer may be mutable), so it would save nothing here.

use std::borrow::Cow;

use bytes::Bytes;
use bytestring::ByteString;
use pyo3::prelude::*;
use pyo3::types::{PyByteArray, PyBytes, PyMemoryView, PyString};

use crate::errors::invalid_argument;

/// Payloads given as `bytes` of at least this size are sent from the Python object instead
/// of a copy: below it, a copy costs less than keeping the object alive.
const SHARE_FROM: usize = 4096;

/// A Python `bytes` object as the owner of a [`Bytes`].
struct SharedPyBytes {
    /// Keeps the object, and so its buffer, alive. Dropped without the GIL, the reference
    /// goes to pyo3's pool and is released at the next attach.
    _object: Py<PyBytes>,
    data: *const u8,
    len: usize,
}

// SAFETY: `data` points into the immutable buffer of `_object`, which lives as long as this
// value; nothing writes to a `bytes` object's buffer after its creation.
unsafe impl Send for SharedPyBytes {}
// SAFETY: as for Send: the buffer is only read.
unsafe impl Sync for SharedPyBytes {}

impl AsRef<[u8]> for SharedPyBytes {
    fn as_ref(&self) -> &[u8] {
        // SAFETY: see the Send impl; `data`/`len` come from the live object.
        unsafe { std::slice::from_raw_parts(self.data, self.len) }
    }
}

/// The bytes of a Python `bytes` object, without a copy.
fn shared(bytes: Bound<'_, PyBytes>) -> Bytes {
    let data = bytes.as_bytes();
    let (data, len) = (data.as_ptr(), data.len());
    Bytes::from_owner(SharedPyBytes { data, len, _object: bytes.unbind() })
}

/// The payload `value` as the core sends it (see the module documentation). `None` is the
/// empty payload.
pub(crate) fn payload_bytes(value: &Bound<'_, PyAny>) -> PyResult<Bytes> {
    if let Ok(bytes) = value.cast::<PyBytes>() {
        let data = bytes.as_bytes();
        return Ok(if data.len() < SHARE_FROM {
            Bytes::copy_from_slice(data)
        } else {
            shared(bytes.clone())
        });
    }
    if let Ok(text) = value.cast::<PyString>() {
        return Ok(shared(text.encode_utf8()?));
    }
    if let Ok(array) = value.cast::<PyByteArray>() {
        return Ok(Bytes::from(array.to_vec()));
    }
    if value.is_none() {
        return Ok(Bytes::new());
    }
    let copied = PyMemoryView::from(value).and_then(|view| view.call_method0("tobytes")).map_err(|_| {
        invalid_argument(format!(
            "payload must be bytes, bytearray, memoryview or str, not {}",
            value.get_type()
        ))
    })?;
    Ok(shared(copied.cast_into::<PyBytes>()?))
}

/// A topic as the core takes it, without a second copy where the stable ABI makes one.
pub(crate) fn topic_string(topic: &Bound<'_, PyString>) -> PyResult<ByteString> {
    Ok(match topic.to_cow()? {
        Cow::Borrowed(text) => ByteString::from(text),
        Cow::Owned(text) => ByteString::from(text),
    })
}
