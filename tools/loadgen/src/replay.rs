//! The light client: requests signed once before the run, then replayed as raw bytes over
//! plain keep-alive TCP connections, with a minimal response reader.
//!
//! Why: on a 2-core machine the generator shares the CPU with the server under test. A
//! client that signs and frames every request with a full HTTP stack takes a large share
//! of it and compresses every ratio towards 1. Replaying pre-signed requests costs about
//! what `wrk` costs, so the server gets the CPU a real deployment would give it. Every
//! request is still correctly signed (the server verifies each one); a pool is signed at
//! the start of each run, well inside SigV4's 15-minute window (runs are capped at 10).

use std::io;

use anyhow::{bail, Result};
use bytes::Bytes;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Largest response head the reader accepts.
const MAX_HEAD_BYTES: usize = 64 * 1024;
/// Largest response body the reader accepts (DynamoDB pages are at most ~1 MB + framing).
const MAX_BODY_BYTES: usize = 32 * 1024 * 1024;

/// Renders a request as HTTP/1.1 bytes.
pub fn render(req: &http::Request<Bytes>) -> Result<Bytes> {
    let mut out = Vec::with_capacity(512 + req.body().len());
    let path = req.uri().path_and_query().map_or("/", |p| p.as_str());
    out.extend_from_slice(format!("{} {} HTTP/1.1\r\n", req.method(), path).as_bytes());
    for (name, value) in req.headers() {
        if name == http::header::CONTENT_LENGTH {
            continue;
        }
        out.extend_from_slice(name.as_str().as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(format!("content-length: {}\r\n\r\n", req.body().len()).as_bytes());
    out.extend_from_slice(req.body());
    Ok(Bytes::from(out))
}

/// One keep-alive connection with a reusable read buffer.
pub struct Conn {
    stream: TcpStream,
    buf: Vec<u8>,
}

fn bad(msg: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg.to_string())
}

/// Where the head ends (index after `\r\n\r\n`), if it is complete.
fn head_end(buf: &[u8]) -> Option<usize> {
    buf.windows(4).position(|w| w == b"\r\n\r\n").map(|i| i + 4)
}

/// Status and Content-Length of a response head.
fn parse_head(head: &[u8]) -> io::Result<(u16, usize)> {
    let text = std::str::from_utf8(head).map_err(|_| bad("response head is not UTF-8"))?;
    let mut lines = text.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let status = status_line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse::<u16>().ok())
        .ok_or_else(|| bad("bad status line"))?;
    let mut length = None;
    for line in lines {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        if name.eq_ignore_ascii_case("content-length") {
            length = value.trim().parse::<usize>().ok();
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            return Err(bad(
                "chunked responses are not supported by the replay client",
            ));
        }
    }
    let length = length.ok_or_else(|| bad("response without content-length"))?;
    if length > MAX_BODY_BYTES {
        return Err(bad("response body too large"));
    }
    Ok((status, length))
}

impl Conn {
    pub async fn connect(addr: std::net::SocketAddr) -> io::Result<Conn> {
        let stream = TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        Ok(Conn {
            stream,
            buf: Vec::with_capacity(16 * 1024),
        })
    }

    /// Sends one request and reads its response; returns the status.
    pub async fn round_trip(&mut self, request: &[u8]) -> io::Result<u16> {
        self.stream.write_all(request).await?;
        self.buf.clear();
        let mut chunk = [0u8; 16 * 1024];
        let (status, total) = loop {
            if let Some(end) = head_end(&self.buf) {
                let (status, length) = parse_head(&self.buf[..end])?;
                break (status, end + length);
            }
            if self.buf.len() > MAX_HEAD_BYTES {
                return Err(bad("response head too large"));
            }
            let n = self.stream.read(&mut chunk).await?;
            if n == 0 {
                return Err(io::ErrorKind::UnexpectedEof.into());
            }
            self.buf.extend_from_slice(&chunk[..n]);
        };
        while self.buf.len() < total {
            let n = self.stream.read(&mut chunk).await?;
            if n == 0 {
                return Err(io::ErrorKind::UnexpectedEof.into());
            }
            self.buf.extend_from_slice(&chunk[..n]);
        }
        if self.buf.len() > total {
            // One request in flight per connection: extra bytes mean a broken server.
            return Err(bad("unexpected bytes after the response"));
        }
        Ok(status)
    }
}

/// Checks a pool size argument.
pub fn check_pool(size: usize) -> Result<()> {
    if size == 0 || size > 1 << 20 {
        bail!("--pool must be 1..=1048576");
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn heads_parse() {
        let head = b"HTTP/1.1 200 OK\r\nContent-Length: 12\r\nx: y\r\n\r\n";
        assert_eq!(head_end(head), Some(head.len()));
        assert_eq!(parse_head(head).unwrap(), (200, 12));
        assert!(parse_head(b"HTTP/1.1 200 OK\r\n\r\n").is_err());
        assert!(parse_head(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n").is_err());
        assert_eq!(head_end(b"HTTP/1.1 200 OK\r\n"), None);
    }

    #[test]
    fn renders_requests() {
        let req = http::Request::builder()
            .method("POST")
            .uri("/")
            .header("host", "127.0.0.1:1")
            .body(Bytes::from_static(b"{}"))
            .unwrap();
        let raw = render(&req).unwrap();
        assert_eq!(
            &raw[..],
            b"POST / HTTP/1.1\r\nhost: 127.0.0.1:1\r\ncontent-length: 2\r\n\r\n{}"
        );
    }

    #[tokio::test]
    async fn round_trip_against_a_socket() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let (mut s, _) = listener.accept().await.unwrap();
            let mut b = [0u8; 1024];
            for _ in 0..2 {
                let _ = s.read(&mut b).await.unwrap();
                s.write_all(b"HTTP/1.1 404 Not Found\r\ncontent-length: 3\r\n\r\nabc")
                    .await
                    .unwrap();
            }
        });
        let mut c = Conn::connect(addr).await.unwrap();
        assert_eq!(c.round_trip(b"GET / HTTP/1.1\r\n\r\n").await.unwrap(), 404);
        assert_eq!(c.round_trip(b"GET / HTTP/1.1\r\n\r\n").await.unwrap(), 404);
    }
}
