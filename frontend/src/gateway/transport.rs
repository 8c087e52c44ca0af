//! The gRPC transport to BuildKit: HTTP/2 with prior knowledge (h2c) over one byte stream.
//!
//! Under BuildKit the stream is our own stdin (BuildKit → frontend) and stdout
//! (frontend → BuildKit); decant is the gRPC client. [`connect_stdio`] takes duplicates of
//! fds 0 and 1 as non-blocking pipes (tokio's blocking stdin reader would hang the process at
//! exit), then points fd 1 at stderr and fd 0 at `/dev/null`, so a stray print or read can
//! never touch the stream. [`connect_io`] accepts any `AsyncRead + AsyncWrite` (tests use
//! `tokio::io::duplex`).

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::unix::pipe;
use tonic::transport::{Channel, Endpoint, Uri};

use super::errors::GatewayError;

/// Largest message decant accepts from BuildKit (ReadFile of a big file, large Solve/Inputs
/// replies; v0.8's server sends without limit).
pub const MAX_DECODING_MESSAGE_SIZE: usize = 128 << 20;
/// Largest message decant sends. BuildKit v0.14+ accepts 16 MiB; v0.8 only 4 MiB, and
/// rejects more with ResourceExhausted.
pub const MAX_ENCODING_MESSAGE_SIZE: usize = 16 << 20;

static STDIO_TAKEN: AtomicBool = AtomicBool::new(false);

/// The joined stdin/stdout stream.
pub type StdioStream = tokio::io::Join<pipe::Receiver, pipe::Sender>;

/// Takes over stdin/stdout as the byte stream to BuildKit.
///
/// Duplicates fds 0 and 1 (close-on-exec), makes the copies non-blocking and registers them
/// with tokio, then redirects fd 1 to fd 2 and fd 0 to `/dev/null`. Must be called from inside
/// a tokio runtime, once.
pub fn take_stdio() -> io::Result<StdioStream> {
    // A second call would duplicate the already redirected fd 1 (stderr) as the "stream".
    if STDIO_TAKEN.swap(true, Ordering::SeqCst) {
        return Err(io::Error::new(
            io::ErrorKind::AlreadyExists,
            "stdin/stdout were already taken as the BuildKit stream",
        ));
    }
    let input = dup_cloexec(0)?;
    let output = dup_cloexec(1)?;
    // From here on nothing else may write to the real stdout or read the real stdin.
    redirect(2, 1)?;
    if let Ok(devnull) = std::fs::File::open("/dev/null") {
        // Best effort: a missing /dev/null only means fd 0 stays shared.
        let _ = redirect(devnull.as_raw_fd(), 0);
    }
    stream_from_fds(input, output)
}

/// Joins a readable and a writable descriptor (pipes, FIFOs or sockets) into one stream:
/// both are made non-blocking and registered with tokio. Must be called inside a runtime.
pub fn stream_from_fds(input: OwnedFd, output: OwnedFd) -> io::Result<StdioStream> {
    set_nonblocking(&input)?;
    set_nonblocking(&output)?;
    let rx = pipe::Receiver::from_owned_fd_unchecked(input)?;
    let tx = pipe::Sender::from_owned_fd_unchecked(output)?;
    Ok(tokio::io::join(rx, tx))
}

/// Connects to BuildKit over our own stdin/stdout (see [`take_stdio`]).
pub async fn connect_stdio() -> Result<Channel, GatewayError> {
    let io = take_stdio().map_err(|e| {
        GatewayError::Connect(format!(
            "stdin/stdout are not usable as the BuildKit stream ({e}); decant must run as a BuildKit gateway frontend"
        ))
    })?;
    connect_io(io).await
}

/// Connects to an LLB bridge server over `io` (HTTP/2 with prior knowledge).
///
/// The connector hands out `io` exactly once: a broken stream is not reconnected, later calls
/// fail with [`GatewayError::Closed`].
pub async fn connect_io<IO>(io: IO) -> Result<Channel, GatewayError>
where
    IO: AsyncRead + AsyncWrite + Send + Unpin + 'static,
{
    let slot = Arc::new(Mutex::new(Some(io)));
    let connector = tower::service_fn(move |_: Uri| {
        let taken = slot.lock().ok().and_then(|mut s| s.take());
        async move {
            match taken {
                Some(io) => Ok(TokioIo::new(io)),
                None => Err(io::Error::new(
                    io::ErrorKind::NotConnected,
                    "the BuildKit stream is gone and cannot be reopened",
                )),
            }
        }
    });
    Endpoint::from_static("http://localhost")
        .connect_with_connector(connector)
        .await
        .map_err(|e| GatewayError::Connect(error_chain(&e)))
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut src = e.source();
    while let Some(s) = src {
        out.push_str(": ");
        out.push_str(&s.to_string());
        src = s.source();
    }
    out
}

fn dup_cloexec(fd: RawFd) -> io::Result<OwnedFd> {
    // SAFETY: F_DUPFD_CLOEXEC on a descriptor number only reads the process fd table; on
    // success the returned descriptor is new and owned by nobody else.
    let new = unsafe { libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, 3) };
    if new < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `new` is a freshly duplicated, open descriptor that we exclusively own.
    Ok(unsafe { OwnedFd::from_raw_fd(new) })
}

fn redirect(from: RawFd, to: RawFd) -> io::Result<()> {
    // SAFETY: dup2 on descriptor numbers; `to` is a standard stream we intend to replace.
    if unsafe { libc::dup2(from, to) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

fn set_nonblocking(fd: &OwnedFd) -> io::Result<()> {
    let raw = fd.as_raw_fd();
    // SAFETY: fcntl F_GETFL/F_SETFL on a descriptor we own.
    let flags = unsafe { libc::fcntl(raw, libc::F_GETFL) };
    if flags < 0 {
        return Err(io::Error::last_os_error());
    }
    if flags & libc::O_NONBLOCK == 0 {
        // SAFETY: as above.
        if unsafe { libc::fcntl(raw, libc::F_SETFL, flags | libc::O_NONBLOCK) } < 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}
