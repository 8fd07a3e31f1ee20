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

/// One keep-alive connection with a reusable read buffer. Peers that close after a
/// response (`Connection: close`, HTTP/1.0, bodies delimited by the close) are reconnected
/// on the next request, inside the measured round trip, as a real client would.
pub struct Conn {
    addr: std::net::SocketAddr,
    stream: Option<TcpStream>,
    buf: Vec<u8>,
}

/// How the body of a response is delimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Framing {
    Length(usize),
    Chunked,
    UntilClose,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Head {
    status: u16,
    framing: Framing,
    /// The server closes the connection after this response.
    close: bool,
}

fn bad(msg: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg.to_string())
}

/// Where the head ends (index after `\r\n\r\n`), if it is complete.
fn head_end(buf: &[u8]) -> Option<usize> {
    buf.windows(4).position(|w| w == b"\r\n\r\n").map(|i| i + 4)
}

/// Status, body framing and keep-alive of a response head (`head_request`: the request was
/// a HEAD, so there is no body whatever the headers say).
fn parse_head(head: &[u8], head_request: bool) -> io::Result<Head> {
    let text = std::str::from_utf8(head).map_err(|_| bad("response head is not UTF-8"))?;
    let mut lines = text.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let http10 = status_line.starts_with("HTTP/1.0");
    let status = status_line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse::<u16>().ok())
        .ok_or_else(|| bad("bad status line"))?;
    let mut length = None;
    let mut chunked = false;
    let mut close = http10;
    for line in lines {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let value = value.trim();
        if name.eq_ignore_ascii_case("content-length") {
            length = Some(
                value
                    .parse::<usize>()
                    .map_err(|_| bad("bad content-length"))?,
            );
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            chunked = value.to_ascii_lowercase().contains("chunked");
        } else if name.eq_ignore_ascii_case("connection") {
            let v = value.to_ascii_lowercase();
            if v.contains("close") {
                close = true;
            } else if v.contains("keep-alive") {
                close = false;
            }
        }
    }
    let framing = if head_request || status == 204 || status == 304 || (100..200).contains(&status)
    {
        Framing::Length(0)
    } else if chunked {
        Framing::Chunked
    } else if let Some(n) = length {
        if n > MAX_BODY_BYTES {
            return Err(bad("response body too large"));
        }
        Framing::Length(n)
    } else {
        Framing::UntilClose
    };
    if framing == Framing::UntilClose {
        close = true;
    }
    Ok(Head {
        status,
        framing,
        close,
    })
}

/// Where a complete chunked body that starts at `from` ends, if it is complete.
fn chunked_end(buf: &[u8], from: usize) -> io::Result<Option<usize>> {
    let mut pos = from;
    loop {
        let Some(rest) = buf.get(pos..) else {
            return Ok(None);
        };
        let Some(eol) = rest.windows(2).position(|w| w == b"\r\n") else {
            if rest.len() > MAX_HEAD_BYTES {
                return Err(bad("chunk size line too long"));
            }
            return Ok(None);
        };
        let line = std::str::from_utf8(&rest[..eol]).map_err(|_| bad("bad chunk size"))?;
        let size_text = line.split(';').next().unwrap_or_default().trim();
        let size = usize::from_str_radix(size_text, 16).map_err(|_| bad("bad chunk size"))?;
        if size > MAX_BODY_BYTES || pos - from > MAX_BODY_BYTES {
            return Err(bad("response body too large"));
        }
        pos += eol + 2;
        if size == 0 {
            // Trailer lines, then an empty line.
            loop {
                let Some(rest) = buf.get(pos..) else {
                    return Ok(None);
                };
                let Some(eol) = rest.windows(2).position(|w| w == b"\r\n") else {
                    return Ok(None);
                };
                pos += eol + 2;
                if eol == 0 {
                    return Ok(Some(pos));
                }
            }
        }
        if buf.len() < pos + size + 2 {
            return Ok(None);
        }
        pos += size + 2;
    }
}

impl Conn {
    async fn open(addr: std::net::SocketAddr) -> io::Result<TcpStream> {
        let stream = TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        Ok(stream)
    }

    pub async fn connect(addr: std::net::SocketAddr) -> io::Result<Conn> {
        Ok(Conn {
            addr,
            stream: Some(Self::open(addr).await?),
            buf: Vec::with_capacity(16 * 1024),
        })
    }

    /// Sends one request and reads its response; returns the status.
    pub async fn round_trip(&mut self, request: &[u8]) -> io::Result<u16> {
        let stream = match self.stream.take() {
            Some(s) => s,
            None => Self::open(self.addr).await?,
        };
        let mut stream = stream;
        let head_request = request.starts_with(b"HEAD ");
        stream.write_all(request).await?;
        self.buf.clear();
        let mut chunk = [0u8; 16 * 1024];
        let (head, body_start) = loop {
            if let Some(end) = head_end(&self.buf) {
                break (parse_head(&self.buf[..end], head_request)?, end);
            }
            if self.buf.len() > MAX_HEAD_BYTES {
                return Err(bad("response head too large"));
            }
            let n = stream.read(&mut chunk).await?;
            if n == 0 {
                return Err(io::ErrorKind::UnexpectedEof.into());
            }
            self.buf.extend_from_slice(&chunk[..n]);
        };
        let total = loop {
            match head.framing {
                Framing::Length(n) if self.buf.len() >= body_start + n => break body_start + n,
                Framing::Chunked => {
                    if let Some(end) = chunked_end(&self.buf, body_start)? {
                        break end;
                    }
                }
                _ => {}
            }
            if self.buf.len() > body_start + MAX_BODY_BYTES + MAX_HEAD_BYTES {
                return Err(bad("response body too large"));
            }
            let n = stream.read(&mut chunk).await?;
            if n == 0 {
                if head.framing == Framing::UntilClose {
                    break self.buf.len();
                }
                return Err(io::ErrorKind::UnexpectedEof.into());
            }
            self.buf.extend_from_slice(&chunk[..n]);
        };
        if self.buf.len() > total {
            // One request in flight per connection: extra bytes mean a broken server.
            return Err(bad("unexpected bytes after the response"));
        }
        if !head.close {
            self.stream = Some(stream);
        }
        Ok(head.status)
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
        let h = parse_head(head, false).unwrap();
        assert_eq!(
            (h.status, h.framing, h.close),
            (200, Framing::Length(12), false)
        );
        let h = parse_head(b"HTTP/1.1 200 OK\r\n\r\n", false).unwrap();
        assert_eq!((h.framing, h.close), (Framing::UntilClose, true));
        let h = parse_head(
            b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n",
            false,
        )
        .unwrap();
        assert_eq!(h.framing, Framing::Chunked);
        let h = parse_head(b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\n", true).unwrap();
        assert_eq!(h.framing, Framing::Length(0));
        let h = parse_head(b"HTTP/1.0 204 No Content\r\n\r\n", false).unwrap();
        assert_eq!((h.framing, h.close), (Framing::Length(0), true));
        let h = parse_head(
            b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 1\r\n\r\n",
            false,
        )
        .unwrap();
        assert!(h.close);
        assert!(parse_head(b"HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n", false).is_err());
        assert_eq!(head_end(b"HTTP/1.1 200 OK\r\n"), None);
    }

    #[test]
    fn chunked_bodies_end_where_they_end() {
        let body = b"4\r\nWiki\r\n5;ext=1\r\npedia\r\n0\r\n\r\n";
        assert_eq!(chunked_end(body, 0).unwrap(), Some(body.len()));
        assert_eq!(chunked_end(&body[..body.len() - 1], 0).unwrap(), None);
        assert_eq!(chunked_end(b"4\r\nWi", 0).unwrap(), None);
        let with_trailer = b"0\r\nx-amz-checksum-crc32: AAAAAA==\r\n\r\n";
        assert_eq!(
            chunked_end(with_trailer, 0).unwrap(),
            Some(with_trailer.len())
        );
        assert!(chunked_end(b"zz\r\n", 0).is_err());
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
            let _ = s.read(&mut b).await.unwrap();
            s.write_all(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n3\r\nabc\r\n")
                .await
                .unwrap();
            s.write_all(b"0\r\n\r\n").await.unwrap();
            // A peer that closes after its response: the next request reconnects.
            let _ = s.read(&mut b).await.unwrap();
            s.write_all(b"HTTP/1.0 200 OK\r\n\r\nuntil close")
                .await
                .unwrap();
            drop(s);
            let (mut s, _) = listener.accept().await.unwrap();
            let _ = s.read(&mut b).await.unwrap();
            s.write_all(b"HTTP/1.1 204 No Content\r\n\r\n")
                .await
                .unwrap();
        });
        let mut c = Conn::connect(addr).await.unwrap();
        assert_eq!(c.round_trip(b"GET / HTTP/1.1\r\n\r\n").await.unwrap(), 404);
        assert_eq!(c.round_trip(b"GET / HTTP/1.1\r\n\r\n").await.unwrap(), 404);
        assert_eq!(c.round_trip(b"GET / HTTP/1.1\r\n\r\n").await.unwrap(), 200);
        assert_eq!(c.round_trip(b"GET / HTTP/1.1\r\n\r\n").await.unwrap(), 200);
        assert_eq!(c.round_trip(b"PUT / HTTP/1.1\r\n\r\n").await.unwrap(), 204);
    }
}
