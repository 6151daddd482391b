//! Reading into a buffer that is allocated only once bytes have arrived, so that a waiting
//! connection holds no read buffer.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use bytes::BytesMut;
use tokio::io::{AsyncRead, AsyncReadExt, ReadBuf};

/// Bytes read at most in one go into an empty buffer.
const SCRATCH: usize = 2048;

/// Reads once from `stream`, appending to `buf`; `Ok(0)` at end of stream.
///
/// With spare capacity in `buf` the bytes go there directly. Without (an idle connection
/// released its buffer) they are read into a stack buffer of [`SCRATCH`] bytes during the
/// poll and appended to `buf` (allocating just enough) once they are there: nothing is
/// allocated while the read is pending.
pub(crate) fn read_lazily<'a, S: AsyncRead + Unpin>(
    stream: &'a mut S,
    buf: &'a mut BytesMut,
) -> ReadLazily<'a, S> {
    ReadLazily { stream, buf }
}

/// The future of [`read_lazily`].
pub(crate) struct ReadLazily<'a, S> {
    stream: &'a mut S,
    buf: &'a mut BytesMut,
}

impl<S: AsyncRead + Unpin> Future for ReadLazily<'_, S> {
    type Output = io::Result<usize>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        if this.buf.capacity() > this.buf.len() {
            let read = this.stream.read_buf(this.buf);
            tokio::pin!(read);
            return read.poll(cx);
        }
        let mut scratch = [0u8; SCRATCH];
        let mut filled = ReadBuf::new(&mut scratch);
        ready!(Pin::new(&mut *this.stream).poll_read(cx, &mut filled))?;
        this.buf.extend_from_slice(filled.filled());
        Poll::Ready(Ok(filled.filled().len()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncWriteExt;

    #[tokio::test]
    async fn reads_into_an_unallocated_buffer_and_into_spare_capacity() {
        let (mut a, mut b) = tokio::io::duplex(64 * 1024);
        let mut buf = BytesMut::new();
        let write = tokio::spawn(async move {
            b.write_all(b"hello").await.unwrap();
            b
        });
        assert_eq!(read_lazily(&mut a, &mut buf).await.unwrap(), 5);
        assert_eq!(&buf[..], b"hello");
        let mut b = write.await.unwrap();
        // More than the scratch buffer: a read into an empty buffer takes at most SCRATCH.
        b.write_all(&vec![7u8; SCRATCH + 10]).await.unwrap();
        buf = BytesMut::new();
        assert_eq!(read_lazily(&mut a, &mut buf).await.unwrap(), SCRATCH);
        buf.reserve(100);
        assert_eq!(read_lazily(&mut a, &mut buf).await.unwrap(), 10);
        assert_eq!(buf.len(), SCRATCH + 10);
        drop(b);
        assert_eq!(read_lazily(&mut a, &mut buf).await.unwrap(), 0);
    }
}
