//! Descriptor passing on the helper's control socket (SCM_RIGHTS). The helper binds the
//! Runtime API listener inside the sandbox's network namespace and hands it to nimbus,
//! which then accepts the runtime's connections itself: no proxy process and no extra
//! copy on the path of every invocation. A socket keeps the namespace it was created
//! in, whoever holds it.

use std::io::{IoSlice, IoSliceMut, Write};
use std::mem::MaybeUninit;
use std::os::fd::{BorrowedFd, OwnedFd};
use std::os::unix::net::UnixStream as StdUnixStream;

use rustix::net::{
    RecvAncillaryBuffer, RecvAncillaryMessage, RecvFlags, SendAncillaryBuffer,
    SendAncillaryMessage, SendFlags,
};

/// Descriptors accepted per message (the helper sends one; more are closed).
const MAX_FDS: usize = 2;

/// Writes `data` with `fd` attached to its first byte (blocking; the control lines are
/// far below a socket buffer).
pub(crate) fn send_with_fd(
    sock: &StdUnixStream,
    data: &[u8],
    fd: BorrowedFd<'_>,
) -> std::io::Result<()> {
    let fds = [fd];
    let mut space = [MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(1))];
    let mut control = SendAncillaryBuffer::new(&mut space);
    if !control.push(SendAncillaryMessage::ScmRights(&fds)) {
        return Err(std::io::Error::other("control message buffer too small"));
    }
    let sent = rustix::net::sendmsg(
        sock,
        &[IoSlice::new(data)],
        &mut control,
        SendFlags::NOSIGNAL,
    )?;
    // A short write (it does not happen at these sizes) still delivers the rest in order.
    let rest = data.get(sent..).unwrap_or_default();
    let mut w = sock;
    w.write_all(rest)?;
    Ok(())
}

/// Reads what is available into `buf`, with any descriptors that came with it
/// (close-on-exec). `Ok((0, _))` is EOF.
pub(crate) async fn recv_with_fds(
    stream: &tokio::net::UnixStream,
    buf: &mut [u8],
) -> std::io::Result<(usize, Vec<OwnedFd>)> {
    loop {
        stream.readable().await?;
        let got = stream.try_io(tokio::io::Interest::READABLE, || {
            let mut space = [MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(MAX_FDS))];
            let mut control = RecvAncillaryBuffer::new(&mut space);
            let msg = rustix::net::recvmsg(
                stream,
                &mut [IoSliceMut::new(buf)],
                &mut control,
                RecvFlags::CMSG_CLOEXEC,
            )?;
            let mut fds = Vec::new();
            for m in control.drain() {
                if let RecvAncillaryMessage::ScmRights(received) = m {
                    fds.extend(received);
                }
            }
            Ok((msg.bytes, fds))
        });
        match got {
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => continue,
            other => return other,
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests may unwrap
mod tests {
    use super::*;
    use std::os::fd::AsFd;

    #[tokio::test]
    async fn a_listener_crosses_the_socket_and_still_accepts() {
        let (a, b) = StdUnixStream::pair().unwrap();
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        send_with_fd(&a, b"line\n", listener.as_fd()).unwrap();
        drop(listener); // the receiver's copy keeps the socket open

        b.set_nonblocking(true).unwrap();
        let b = tokio::net::UnixStream::from_std(b).unwrap();
        let mut buf = [0u8; 64];
        let (n, mut fds) = recv_with_fds(&b, &mut buf).await.unwrap();
        assert_eq!(&buf[..n], b"line\n");
        assert_eq!(fds.len(), 1);
        let got = std::net::TcpListener::from(fds.pop().unwrap());
        assert_eq!(got.local_addr().unwrap(), addr);
        let _client = std::net::TcpStream::connect(addr).unwrap();
        assert!(got.accept().is_ok());

        drop(a);
        let (n, fds) = recv_with_fds(&b, &mut buf).await.unwrap();
        assert_eq!((n, fds.len()), (0, 0));
    }
}
