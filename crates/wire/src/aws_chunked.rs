//! The `aws-chunked` content encoding (S3 streaming uploads), decoded without checking
//! chunk signatures.
//!
//! Signed streaming uploads are verified by the S3 protocol layer. This decoder serves
//! the one case where nothing is verified: a request the gateway accepts as the account
//! root because its access key is unknown on a loopback bind (DESIGN.md §7). Its body is
//! still framed as chunks (`<hex size>[;chunk-signature=..]\r\n<data>\r\n`, ending with a
//! zero-size chunk, then optional trailer lines and an empty line), so the framing must
//! come off before the object is stored.
//!
//! Sans-IO: feed bytes with [`ChunkedDecoder::push`], take data with
//! [`ChunkedDecoder::next_data`]; memory stays bounded by the input buffer because data
//! is handed out as it arrives, never collected.

use bytes::{Buf, Bytes, BytesMut};

/// Longest chunk header or trailer line accepted (a size, a signature and some slack).
pub const MAX_LINE_BYTES: usize = 4096;
/// Most trailer lines accepted.
pub const MAX_TRAILERS: usize = 64;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChunkedError {
    #[error("malformed aws-chunked body: {0}")]
    Malformed(&'static str),
    #[error("aws-chunked body ended early")]
    Incomplete,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Expecting a chunk header line.
    Header,
    /// Inside a chunk's data: this many bytes left.
    Data(u64),
    /// Expecting the CRLF after a chunk's data.
    DataEnd,
    /// After the zero-size chunk: trailer lines until an empty line (or end of input).
    Trailers,
    Done,
}

/// Decodes one aws-chunked body.
#[derive(Debug)]
pub struct ChunkedDecoder {
    buf: BytesMut,
    state: State,
    trailers: Vec<(String, String)>,
}

impl Default for ChunkedDecoder {
    fn default() -> Self {
        Self::new()
    }
}

fn find_crlf(b: &[u8]) -> Option<usize> {
    b.windows(2).position(|w| w == b"\r\n")
}

impl ChunkedDecoder {
    pub fn new() -> Self {
        ChunkedDecoder {
            buf: BytesMut::new(),
            state: State::Header,
            trailers: Vec::new(),
        }
    }

    /// Adds input bytes.
    pub fn push(&mut self, input: &[u8]) {
        self.buf.extend_from_slice(input);
    }

    /// True once the terminating chunk and the trailers have been read.
    pub fn is_done(&self) -> bool {
        self.state == State::Done
    }

    /// The trailer headers (`x-amz-checksum-crc32: ...`), names lower-cased; complete
    /// once [`Self::is_done`]. The trailer signature line is not a header and is left out.
    pub fn trailers(&self) -> &[(String, String)] {
        &self.trailers
    }

    /// The next piece of decoded data, `Ok(None)` when more input is needed (or the body
    /// is done).
    pub fn next_data(&mut self) -> Result<Option<Bytes>, ChunkedError> {
        loop {
            match self.state {
                State::Done => return Ok(None),
                State::Header => {
                    let Some(end) = find_crlf(&self.buf) else {
                        if self.buf.len() > MAX_LINE_BYTES {
                            return Err(ChunkedError::Malformed("chunk header too long"));
                        }
                        return Ok(None);
                    };
                    if end > MAX_LINE_BYTES {
                        return Err(ChunkedError::Malformed("chunk header too long"));
                    }
                    let line = self.buf.split_to(end + 2);
                    let line = line.get(..end).unwrap_or_default();
                    let size_part = line.split(|&b| b == b';').next().unwrap_or_default();
                    let size_str = std::str::from_utf8(size_part)
                        .map_err(|_| ChunkedError::Malformed("chunk size"))?
                        .trim();
                    let size = u64::from_str_radix(size_str, 16)
                        .map_err(|_| ChunkedError::Malformed("chunk size"))?;
                    self.state = if size == 0 {
                        State::Trailers
                    } else {
                        State::Data(size)
                    };
                }
                State::Data(left) => {
                    if self.buf.is_empty() {
                        return Ok(None);
                    }
                    let take = usize::try_from(left)
                        .unwrap_or(usize::MAX)
                        .min(self.buf.len());
                    let out = self.buf.split_to(take).freeze();
                    let left = left - take as u64;
                    self.state = if left == 0 {
                        State::DataEnd
                    } else {
                        State::Data(left)
                    };
                    return Ok(Some(out));
                }
                State::DataEnd => {
                    if self.buf.len() < 2 {
                        return Ok(None);
                    }
                    if &self.buf[..2] != b"\r\n" {
                        return Err(ChunkedError::Malformed("missing CRLF after chunk data"));
                    }
                    self.buf.advance(2);
                    self.state = State::Header;
                }
                State::Trailers => {
                    let Some(end) = find_crlf(&self.buf) else {
                        if self.buf.len() > MAX_LINE_BYTES {
                            return Err(ChunkedError::Malformed("trailer line too long"));
                        }
                        return Ok(None);
                    };
                    let line = self.buf.split_to(end + 2);
                    let line = line.get(..end).unwrap_or_default();
                    if line.is_empty() {
                        self.state = State::Done;
                        continue;
                    }
                    let text = std::str::from_utf8(line)
                        .map_err(|_| ChunkedError::Malformed("trailer line"))?;
                    let (name, value) = text
                        .split_once(':')
                        .ok_or(ChunkedError::Malformed("trailer line"))?;
                    let name = name.trim().to_ascii_lowercase();
                    if name != "x-amz-trailer-signature" {
                        if self.trailers.len() >= MAX_TRAILERS {
                            return Err(ChunkedError::Malformed("too many trailers"));
                        }
                        self.trailers.push((name, value.trim().to_string()));
                    }
                }
            }
        }
    }

    /// Called at the end of input: the body must be complete. Some clients end the
    /// trailer section without its final empty line; that is accepted.
    pub fn finish(&mut self) -> Result<(), ChunkedError> {
        match self.state {
            State::Done => Ok(()),
            State::Trailers if self.buf.is_empty() => {
                self.state = State::Done;
                Ok(())
            }
            _ => Err(ChunkedError::Incomplete),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn encode(data: &[u8], chunk: usize, trailer: Option<(&str, &str)>) -> Vec<u8> {
        let mut out = Vec::new();
        for c in data.chunks(chunk.max(1)) {
            out.extend_from_slice(format!("{:x};chunk-signature=abc\r\n", c.len()).as_bytes());
            out.extend_from_slice(c);
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(b"0;chunk-signature=abc\r\n");
        if let Some((k, v)) = trailer {
            out.extend_from_slice(format!("{k}:{v}\r\n").as_bytes());
            out.extend_from_slice(b"x-amz-trailer-signature:def\r\n");
        }
        out.extend_from_slice(b"\r\n");
        out
    }

    fn decode_in_pieces(
        enc: &[u8],
        piece: usize,
    ) -> Result<(Vec<u8>, ChunkedDecoder), ChunkedError> {
        let mut d = ChunkedDecoder::new();
        let mut out = Vec::new();
        for p in enc.chunks(piece.max(1)) {
            d.push(p);
            while let Some(b) = d.next_data()? {
                out.extend_from_slice(&b);
            }
        }
        d.finish()?;
        Ok((out, d))
    }

    #[test]
    fn decodes_any_split_of_the_input() {
        let data: Vec<u8> = (0..5000u32).map(|i| (i % 251) as u8).collect();
        let enc = encode(&data, 1024, Some(("x-amz-checksum-crc32", "AAAAAA==")));
        for piece in [1, 2, 3, 7, 100, 1023, 4096, enc.len()] {
            let (out, d) = decode_in_pieces(&enc, piece).unwrap();
            assert_eq!(out, data, "piece size {piece}");
            assert_eq!(
                d.trailers(),
                &[("x-amz-checksum-crc32".to_string(), "AAAAAA==".to_string())]
            );
        }
    }

    #[test]
    fn empty_body_and_missing_final_line() {
        let (out, _) = decode_in_pieces(b"0\r\n\r\n", 1).unwrap();
        assert!(out.is_empty());
        let (out, _) = decode_in_pieces(b"3\r\nabc\r\n0\r\n", 4).unwrap();
        assert_eq!(out, b"abc");
    }

    #[test]
    fn truncated_or_garbled_bodies_fail() {
        assert_eq!(
            decode_in_pieces(b"5\r\nabc", 2).unwrap_err(),
            ChunkedError::Incomplete
        );
        assert!(matches!(
            decode_in_pieces(b"zz\r\nabc\r\n", 2).unwrap_err(),
            ChunkedError::Malformed(_)
        ));
        assert!(matches!(
            decode_in_pieces(b"3\r\nabcXX0\r\n\r\n", 2).unwrap_err(),
            ChunkedError::Malformed(_)
        ));
        let long = vec![b'1'; MAX_LINE_BYTES + 10];
        assert!(matches!(
            decode_in_pieces(&long, 100).unwrap_err(),
            ChunkedError::Malformed(_)
        ));
    }
}
