//! Connection hygiene for `serve` (issue #13, finding 4): time limits on
//! every connection, a cap on how many are open, and HTTP/2 limits.
//!
//! * **HTTP/1 header-read timeout** (hyper's `header_read_timeout`, which
//!   hyper silently disables when no timer is set: the builder gets a
//!   [`TokioTimer`]). Hyper restarts it whenever it waits for the next
//!   request on a kept-alive connection, so it is also the HTTP/1 idle
//!   limit.
//! * **First-bytes deadline**: before hyper parses anything, hyper-util's
//!   auto builder reads up to 24 bytes to tell HTTP/2's preface from
//!   HTTP/1, with no time limit; a client that sends nothing, or trickles
//!   the preface, would hold the connection for ever. [`GuardedStream`]
//!   fails the read if those bytes do not arrive within the header-read
//!   timeout.
//! * **Idle timeout**: a connection on which nothing was read or written
//!   for the idle timeout is closed (HTTP/2 connections, which hyper never
//!   times out, and slow readers of a response). It must exceed the
//!   per-request timeout ([`crate::http::REQUEST_TIMEOUT`]), else a request
//!   still being handled could be cut.
//! * **Connection cap**: at most `max_connections` connections at once;
//!   one more is closed as soon as it is accepted (no response), and
//!   counted in `paysecure_http_connections_refused_total`.
//! * **HTTP/2**: at most [`H2_MAX_CONCURRENT_STREAMS`] streams per
//!   connection and [`H2_MAX_HEADER_LIST_SIZE`] bytes of headers; no
//!   keep-alive pings (they would keep idle connections open past the idle
//!   timeout, which detects dead peers as well).
//!
//! The TLS handshake has its own time limit (axum-server's default, 10 s)
//! and happens after the connection holds its slot under the cap.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum_server::accept::Accept;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use hyper_util::server::conn::auto::Builder;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::{Instant, Sleep};

use crate::http::telemetry::Metrics;

/// Default `--header-read-timeout-secs`.
pub const DEFAULT_HEADER_READ_TIMEOUT_SECS: u64 = 10;
/// Default `--idle-timeout-secs`.
pub const DEFAULT_IDLE_TIMEOUT_SECS: u64 = 60;
/// Default `--max-connections`.
pub const DEFAULT_MAX_CONNECTIONS: usize = 1024;
/// Most concurrent streams on one HTTP/2 connection.
pub const H2_MAX_CONCURRENT_STREAMS: u32 = 100;
/// Largest header list of an HTTP/2 request (bytes, as HPACK counts them).
pub const H2_MAX_HEADER_LIST_SIZE: u32 = 16 * 1024;
/// Bytes hyper-util reads to choose between HTTP/1 and HTTP/2.
const PREFACE_LEN: usize = 24;

/// The limits of every connection.
#[derive(Debug, Clone, Copy)]
pub struct ConnectionLimits {
    /// Time to send the request head (HTTP/1), or the first bytes.
    pub header_read_timeout: Duration,
    /// Longest time with nothing read or written.
    pub idle_timeout: Duration,
    /// Most connections open at once.
    pub max_connections: usize,
}

impl Default for ConnectionLimits {
    fn default() -> Self {
        ConnectionLimits {
            header_read_timeout: Duration::from_secs(DEFAULT_HEADER_READ_TIMEOUT_SECS),
            idle_timeout: Duration::from_secs(DEFAULT_IDLE_TIMEOUT_SECS),
            max_connections: DEFAULT_MAX_CONNECTIONS,
        }
    }
}

/// Why limits were refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum LimitsError {
    /// A zero header-read timeout or connection cap.
    #[error("the header-read timeout and the connection cap must be at least 1")]
    Zero,
    /// The idle timeout would cut requests still being handled.
    #[error("the idle timeout must be longer than the request timeout ({0} s)")]
    IdleBelowRequestTimeout(u64),
}

impl ConnectionLimits {
    /// Checks the limits make sense.
    pub fn validate(&self) -> Result<(), LimitsError> {
        if self.header_read_timeout.is_zero() || self.max_connections == 0 {
            return Err(LimitsError::Zero);
        }
        if self.idle_timeout <= crate::http::REQUEST_TIMEOUT {
            return Err(LimitsError::IdleBelowRequestTimeout(
                crate::http::REQUEST_TIMEOUT.as_secs(),
            ));
        }
        Ok(())
    }

    /// Sets hyper's limits on axum-server's connection builder.
    pub fn configure(&self, builder: &mut Builder<TokioExecutor>) {
        builder
            .http1()
            .timer(TokioTimer::new())
            .header_read_timeout(self.header_read_timeout)
            .keep_alive(true);
        builder
            .http2()
            .timer(TokioTimer::new())
            .max_concurrent_streams(H2_MAX_CONCURRENT_STREAMS)
            .max_header_list_size(H2_MAX_HEADER_LIST_SIZE)
            .keep_alive_interval(None);
    }
}

/// An acceptor that enforces the connection cap and wraps each stream in a
/// [`GuardedStream`]; `inner` is axum-server's (plain or TLS) acceptor.
#[derive(Clone)]
pub struct GuardedAcceptor<A> {
    inner: A,
    limits: ConnectionLimits,
    slots: Arc<Semaphore>,
    metrics: Arc<Metrics>,
}

impl<A> GuardedAcceptor<A> {
    /// Guards the connections `inner` accepts.
    pub fn new(inner: A, limits: ConnectionLimits, metrics: Arc<Metrics>) -> Self {
        GuardedAcceptor {
            inner,
            limits,
            slots: Arc::new(Semaphore::new(limits.max_connections)),
            metrics,
        }
    }
}

type AcceptFuture<T> = Pin<Box<dyn Future<Output = io::Result<T>> + Send>>;

impl<A, I, S> Accept<I, S> for GuardedAcceptor<A>
where
    A: Accept<I, S>,
    A::Future: Send + 'static,
    A::Stream: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    A::Service: Send + 'static,
{
    type Stream = GuardedStream<A::Stream>;
    type Service = A::Service;
    type Future = AcceptFuture<(Self::Stream, Self::Service)>;

    fn accept(&self, stream: I, service: S) -> Self::Future {
        let Ok(slot) = Arc::clone(&self.slots).try_acquire_owned() else {
            // Over the cap: the stream is dropped, which closes it.
            drop(stream);
            self.metrics.connection_refused();
            tracing::debug!("connection refused: connection cap reached");
            return Box::pin(std::future::ready(Err(io::Error::other(
                "connection cap reached",
            ))));
        };
        let accepted = self.inner.accept(stream, service);
        let limits = self.limits;
        Box::pin(async move {
            let (stream, service) = accepted.await?;
            Ok((GuardedStream::new(stream, slot, limits), service))
        })
    }
}

/// A connection's stream with the first-bytes deadline and the idle
/// timeout; holds the connection's slot under the cap until dropped.
pub struct GuardedStream<S> {
    inner: S,
    _slot: OwnedSemaphorePermit,
    timer: Pin<Box<Sleep>>,
    /// Set until the first [`PREFACE_LEN`] bytes have been read.
    first_bytes_by: Option<Instant>,
    read: usize,
    idle: Duration,
    last_activity: Instant,
}

impl<S> GuardedStream<S> {
    fn new(inner: S, slot: OwnedSemaphorePermit, limits: ConnectionLimits) -> Self {
        let now = Instant::now();
        let first_bytes_by = now + limits.header_read_timeout;
        GuardedStream {
            inner,
            _slot: slot,
            timer: Box::pin(tokio::time::sleep_until(first_bytes_by)),
            first_bytes_by: Some(first_bytes_by),
            read: 0,
            idle: limits.idle_timeout,
            last_activity: now,
        }
    }

    fn deadline(&self) -> Instant {
        self.first_bytes_by
            .unwrap_or(self.last_activity + self.idle)
    }

    fn activity(&mut self, bytes_read: usize) {
        self.last_activity = Instant::now();
        if self.first_bytes_by.is_some() {
            self.read += bytes_read;
            if self.read >= PREFACE_LEN {
                self.first_bytes_by = None;
                // The idle deadline may come before the timer's.
                let deadline = self.deadline();
                self.timer.as_mut().reset(deadline);
            }
        }
    }

    /// Ready (with an error) once the current deadline has passed; the
    /// timer only ever moves later, so it is reset lazily when it fires.
    fn poll_expired(&mut self, cx: &mut Context<'_>) -> Poll<io::Error> {
        loop {
            if self.timer.as_mut().poll(cx).is_pending() {
                return Poll::Pending;
            }
            let deadline = self.deadline();
            if Instant::now() >= deadline {
                let what = if self.first_bytes_by.is_some() {
                    "no request within the header-read timeout"
                } else {
                    "connection idle"
                };
                return Poll::Ready(io::Error::new(io::ErrorKind::TimedOut, what));
            }
            self.timer.as_mut().reset(deadline);
        }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for GuardedStream<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        match Pin::new(&mut this.inner).poll_read(cx, buf) {
            Poll::Ready(Ok(())) => {
                let n = buf.filled().len() - before;
                if n > 0 {
                    this.activity(n);
                }
                Poll::Ready(Ok(()))
            }
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Pending => this.poll_expired(cx).map(Err),
        }
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for GuardedStream<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        match Pin::new(&mut this.inner).poll_write(cx, buf) {
            Poll::Ready(Ok(n)) => {
                if n > 0 {
                    this.activity(0);
                }
                Poll::Ready(Ok(n))
            }
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Pending => this.poll_expired(cx).map(Err),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        match Pin::new(&mut this.inner).poll_write_vectored(cx, bufs) {
            Poll::Ready(Ok(n)) => {
                if n > 0 {
                    this.activity(0);
                }
                Poll::Ready(Ok(n))
            }
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Pending => this.poll_expired(cx).map(Err),
        }
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        match Pin::new(&mut this.inner).poll_flush(cx) {
            Poll::Pending => this.poll_expired(cx).map(Err),
            ready => ready,
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    fn limits(header: u64, idle: u64) -> ConnectionLimits {
        ConnectionLimits {
            header_read_timeout: Duration::from_secs(header),
            idle_timeout: Duration::from_secs(idle),
            max_connections: 2,
        }
    }

    fn guarded(
        limits: ConnectionLimits,
    ) -> (
        GuardedStream<tokio::io::DuplexStream>,
        tokio::io::DuplexStream,
    ) {
        let (server, client) = tokio::io::duplex(1024);
        let slot = Arc::new(Semaphore::new(1)).try_acquire_owned().unwrap();
        (GuardedStream::new(server, slot, limits), client)
    }

    #[test]
    fn limits_are_validated() {
        assert!(ConnectionLimits::default().validate().is_ok());
        assert_eq!(
            limits(10, 15).validate(),
            Err(LimitsError::IdleBelowRequestTimeout(15))
        );
        assert_eq!(limits(0, 60).validate(), Err(LimitsError::Zero));
    }

    #[tokio::test(start_paused = true)]
    async fn silence_before_the_first_bytes_times_out() {
        let (mut s, _client) = guarded(limits(10, 60));
        let start = Instant::now();
        let mut buf = [0u8; 8];
        let e = s.read(&mut buf).await.unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::TimedOut);
        assert_eq!(start.elapsed().as_secs(), 10);
    }

    #[tokio::test(start_paused = true)]
    async fn a_trickled_preface_times_out_at_the_header_deadline() {
        let (mut s, mut client) = guarded(limits(10, 60));
        let start = Instant::now();
        tokio::spawn(async move {
            for b in b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" {
                client.write_all(&[*b]).await.unwrap();
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
            tokio::time::sleep(Duration::from_secs(3600)).await;
        });
        let mut buf = [0u8; 1];
        let e = loop {
            match s.read(&mut buf).await {
                Ok(_) => continue,
                Err(e) => break e,
            }
        };
        assert_eq!(e.kind(), io::ErrorKind::TimedOut);
        assert_eq!(start.elapsed().as_secs(), 10, "not reset by each byte");
    }

    #[tokio::test(start_paused = true)]
    async fn after_the_first_bytes_only_idleness_times_out() {
        let (mut s, mut client) = guarded(limits(10, 20));
        client.write_all(&[b'x'; 30]).await.unwrap();
        let mut buf = [0u8; 30];
        s.read_exact(&mut buf).await.unwrap();
        // Active every 5 s for 60 s: no timeout.
        let writer = tokio::spawn(async move {
            for _ in 0..12 {
                tokio::time::sleep(Duration::from_secs(5)).await;
                client.write_all(b"y").await.unwrap();
            }
            tokio::time::sleep(Duration::from_secs(3600)).await;
            drop(client);
        });
        for _ in 0..12 {
            s.read_exact(&mut buf[..1]).await.unwrap();
        }
        let quiet = Instant::now();
        let e = s.read(&mut buf).await.unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::TimedOut);
        assert_eq!(quiet.elapsed().as_secs(), 20);
        writer.abort();
    }
}
