//! The client over real OS pipes, and the connection to BuildKit breaking.

use super::*;

/// The production path: two OS pipes, non-blocking, joined (as `take_stdio` does with fds 0/1).
#[tokio::test]
async fn works_over_os_pipes() {
    use std::os::fd::{FromRawFd, OwnedFd};
    fn os_pipe() -> (OwnedFd, OwnedFd) {
        let mut fds = [0; 2];
        // SAFETY: pipe2 writes two new descriptors into the array.
        let rc = unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) };
        assert_eq!(rc, 0, "pipe2");
        // SAFETY: both descriptors are new and owned here.
        unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) }
    }
    let (to_frontend_r, to_frontend_w) = os_pipe();
    let (to_daemon_r, to_daemon_w) = os_pipe();
    let server_io = crate::gateway::transport::stream_from_fds(to_daemon_r, to_frontend_w).expect("server io");
    let bridge = FakeBridge::new(Script { pong: pong(&[]), file_data: vec![1; 5 << 20], ..Default::default() });
    serve(bridge, PipeIo(server_io));
    let client_io = crate::gateway::transport::stream_from_fds(to_frontend_r, to_daemon_w).expect("client io");
    let mut client = Client::connect_io(client_io).await.expect("connect");
    assert!(client.ping().await.expect("ping").has_gateway(cap::SOLVE_BASE));
    assert_eq!(client.read_file("r", "f", None).await.expect("read").len(), 5 << 20);
}

/// Server-side wrapper so the pipe stream satisfies tonic's `Connected`.
struct PipeIo(crate::gateway::transport::StdioStream);

impl tonic::transport::server::Connected for PipeIo {
    type ConnectInfo = ();
    fn connect_info(&self) {}
}

impl AsyncRead for PipeIo {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.0).poll_read(cx, buf)
    }
}

impl AsyncWrite for PipeIo {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.0).poll_write(cx, buf)
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.0).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.0).poll_shutdown(cx)
    }
}

/// BuildKit going away mid-conversation (the pipe closes after a successful Ping).
#[tokio::test]
async fn connection_lost_after_ping() {
    let bridge = FakeBridge::new(Script { pong: pong(&[]), ..Default::default() });
    let (client_io, mut proxy_client_side) = tokio::io::duplex(1 << 16);
    let (mut proxy_server_side, server_io) = tokio::io::duplex(1 << 16);
    serve(bridge, server_io);
    let proxy = tokio::spawn(async move {
        let _ = tokio::io::copy_bidirectional(&mut proxy_client_side, &mut proxy_server_side).await;
    });
    let mut client = Client::connect_io(client_io).await.expect("connect");
    client.ping().await.expect("ping");
    proxy.abort();
    let _ = proxy.await;
    let err = client.read_file("r", "decant.yaml", None).await.expect_err("gone");
    eprintln!("connection lost: {err}");
    assert!(matches!(err, GatewayError::Closed { method: "ReadFile", .. }), "{err:?}");
    // No reconnect: the next call fails the same way instead of hanging.
    let err = client.inputs().await.expect_err("still gone");
    eprintln!("connection lost (2nd call): {err}");
    assert!(matches!(err, GatewayError::Closed { method: "Inputs", .. }), "{err:?}");
}

/// The pipe breaking while a call is in flight.
#[tokio::test]
async fn connection_lost_during_call() {
    let bridge = FakeBridge::new(Script { pong: pong(&[cap::EVALUATE]), ..Default::default() });
    let (client_io, mut proxy_client_side) = tokio::io::duplex(1 << 16);
    let (mut proxy_server_side, server_io) = tokio::io::duplex(1 << 16);
    serve(bridge.clone(), server_io);
    let proxy = tokio::spawn(async move {
        let _ = tokio::io::copy_bidirectional(&mut proxy_client_side, &mut proxy_server_side).await;
    });
    let client = Client::connect_io(client_io).await.expect("connect");
    let call = tokio::spawn(async move { client.evaluate("r").await });
    while !bridge.record(|r| r.calls.contains(&"Evaluate".to_string())) {
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    proxy.abort();
    let err = call.await.expect("join").expect_err("broken");
    eprintln!("lost during call: {err}");
    assert!(matches!(err, GatewayError::Closed { method: "Evaluate", .. }), "{err:?}");
}
