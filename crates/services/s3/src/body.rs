//! Request bodies in (inline or blob, hashed, verified while they stream) and version
//! bodies out (byte ranges across one or more blobs, read lazily in bounded chunks).
//!
//! Memory stays bounded whatever the body's size: at most [`INLINE_MAX_BYTES`] plus one
//! incoming chunk are held while deciding between inline and blob, and a blob is written
//! through [`nimbus_blob::BlobWriter`]'s bounded buffer.

use std::collections::VecDeque;
use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use futures::StreamExt;
use md5::Digest;
use nimbus_blob::{BlobStore, BlobStream};
use nimbus_store::{ReadTxn, WriteTxn};
use s3s::checksum::ChecksumHasher;
use s3s::dto::StreamingBlob;
use s3s::{S3Error, S3ErrorCode, S3Result};

use crate::error::Error;
use crate::keys;
use crate::meta::{BlobRef, Checksum};
use crate::S3State;

/// Bodies up to this size are kept in the store (one group commit, no file).
pub const INLINE_MAX_BYTES: u64 = 64 * 1024;

/// The largest object a single PutObject (or PostObject, CopyObject) may create.
pub const MAX_PUT_BYTES: u64 = 5 * 1024 * 1024 * 1024;

/// The checksum algorithms S3 supports, in their header spelling.
pub const CHECKSUM_ALGORITHMS: [&str; 5] = ["CRC32", "CRC32C", "CRC64NVME", "SHA1", "SHA256"];

/// What the client declared about the body, to verify while it streams in.
#[derive(Debug, Clone, Default)]
pub struct Expect {
    /// `Content-MD5` (base64).
    pub content_md5: Option<String>,
    /// `x-amz-checksum-algorithm` / `x-amz-sdk-checksum-algorithm` (`CRC32`, `CRC32C`,
    /// `CRC64NVME`, `SHA1`, `SHA256`): compute it even if no value was sent.
    pub checksum_algorithm: Option<String>,
    /// A checksum value sent in a header (`x-amz-checksum-crc32`, ...): algorithm, base64.
    pub checksum_value: Option<(String, String)>,
    /// The declared length (Content-Length or x-amz-decoded-content-length).
    pub length: Option<u64>,
    /// Refuse bodies larger than this (`EntityTooLarge`).
    pub max_bytes: u64,
}

impl Expect {
    /// What the request headers declare: `Content-MD5`, the checksum algorithm (from
    /// `x-amz-sdk-checksum-algorithm`, `x-amz-checksum-algorithm` or the `x-amz-trailer`
    /// that announces a trailing checksum), a checksum value header, and the body length
    /// (`x-amz-decoded-content-length` for aws-chunked bodies, else `Content-Length`).
    pub fn from_headers(headers: &http::HeaderMap, max_bytes: u64) -> Expect {
        let get = |name: &str| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(|s| s.trim().to_string())
        };
        let mut checksum_value = None;
        for alg in CHECKSUM_ALGORITHMS {
            if let Some(v) = get(&format!("x-amz-checksum-{}", alg.to_ascii_lowercase())) {
                checksum_value = Some((alg.to_string(), v));
                break;
            }
        }
        let trailer_alg = get("x-amz-trailer").and_then(|t| {
            t.split(',')
                .filter_map(|n| {
                    n.trim()
                        .to_ascii_lowercase()
                        .strip_prefix("x-amz-checksum-")
                        .map(str::to_ascii_uppercase)
                })
                .next()
        });
        let checksum_algorithm = get("x-amz-sdk-checksum-algorithm")
            .or_else(|| get("x-amz-checksum-algorithm"))
            .or(trailer_alg)
            .map(|s| s.to_ascii_uppercase());
        let chunked = is_aws_chunked(headers);
        let length = match get("x-amz-decoded-content-length") {
            Some(v) => v.parse().ok(),
            None if chunked => None,
            None => get("content-length").and_then(|v| v.parse().ok()),
        };
        Expect {
            content_md5: get("content-md5"),
            checksum_algorithm,
            checksum_value,
            length,
            max_bytes,
        }
    }
}

/// Whether the request body was sent aws-chunked (its Content-Length is the encoded
/// length, not the object's).
pub fn is_aws_chunked(headers: &http::HeaderMap) -> bool {
    let has = |name: &str, pred: &dyn Fn(&str) -> bool| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .is_some_and(pred)
    };
    has("x-amz-content-sha256", &|s| s.starts_with("STREAMING-"))
        || has("content-encoding", &|s| s.contains("aws-chunked"))
}

/// A body that has been read to its end and is durable (blob: fsynced in tmp/;
/// inline: held here until [`StoredBody::write_inline`] runs in the commit txn).
#[derive(Debug, Clone)]
pub struct StoredBody {
    pub blob: BlobRef,
    pub inline: Option<Bytes>,
    pub md5: [u8; 16],
    /// The checksum computed (algorithm requested or sent), verified against any value
    /// sent in a header or trailer.
    pub checksum: Option<Checksum>,
    pub size: u64,
}

impl StoredBody {
    /// `"<md5 hex>"`.
    pub fn etag(&self) -> String {
        format!("\"{}\"", hex::encode(self.md5))
    }

    /// Writes the inline bytes (if any) in the commit transaction.
    pub fn write_inline(&self, txn: &mut dyn WriteTxn) -> Result<(), Error> {
        if let Some(bytes) = &self.inline {
            txn.put(&keys::inline(&self.blob.id), bytes)?;
        }
        Ok(())
    }

    /// After the commit: makes a blob file durable under its final name. A failure is
    /// logged only: reads fall back to tmp/, and startup recovery publishes it (the
    /// store references it).
    pub async fn publish(&self, state: &S3State) {
        if self.blob.inline {
            return;
        }
        if let Err(e) = state.blobs.publish(&self.blob.id).await {
            tracing::warn!(error = %e, blob = %self.blob.id, "publishing a blob");
        }
    }

    /// When the commit failed: removes the blob file.
    pub async fn abandon(&self, state: &S3State) {
        if self.blob.inline {
            return;
        }
        if let Err(e) = state.blobs.delete(&self.blob.id).await {
            tracing::warn!(error = %e, blob = %self.blob.id, "removing an abandoned blob");
        }
    }
}

/// `x-amz-checksum-{alg}` header name for an algorithm.
pub fn checksum_header(algorithm: &str) -> String {
    format!("x-amz-checksum-{}", algorithm.to_ascii_lowercase())
}

fn hasher_for(algorithm: &str) -> Option<ChecksumHasher> {
    use s3s::crypto::Checksum as _;
    let mut h = ChecksumHasher::default();
    match algorithm {
        "CRC32" => h.crc32 = Some(s3s::crypto::Crc32::new()),
        "CRC32C" => h.crc32c = Some(s3s::crypto::Crc32c::new()),
        "CRC64NVME" => h.crc64nvme = Some(s3s::crypto::Crc64Nvme::new()),
        "SHA1" => h.sha1 = Some(s3s::crypto::Sha1::new()),
        "SHA256" => h.sha256 = Some(s3s::crypto::Sha256::new()),
        _ => return None,
    }
    Some(h)
}

fn finish_hasher(h: ChecksumHasher) -> Option<String> {
    let c = h.finalize();
    c.checksum_crc32
        .or(c.checksum_crc32c)
        .or(c.checksum_crc64nvme)
        .or(c.checksum_sha1)
        .or(c.checksum_sha256)
}

/// The raw length of an algorithm's digest (to tell a malformed value from a wrong one).
fn digest_len(algorithm: &str) -> usize {
    match algorithm {
        "CRC32" | "CRC32C" => 4,
        "CRC64NVME" => 8,
        "SHA1" => 20,
        _ => 32,
    }
}

fn b64_decode(s: &str) -> Option<Vec<u8>> {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.decode(s).ok()
}

fn invalid_request(msg: &str) -> S3Error {
    S3Error::with_message(S3ErrorCode::InvalidRequest, msg.to_string())
}

fn bad_digest_md5() -> S3Error {
    S3Error::with_message(
        S3ErrorCode::BadDigest,
        "The Content-MD5 you specified did not match what we received.",
    )
}

fn bad_checksum(algorithm: &str) -> S3Error {
    S3Error::with_message(
        S3ErrorCode::BadDigest,
        format!("The {algorithm} you specified did not match the calculated checksum."),
    )
}

/// `EntityTooLarge` as S3 words it.
pub fn entity_too_large() -> S3Error {
    S3Error::with_message(
        S3ErrorCode::EntityTooLarge,
        "Your proposed upload exceeds the maximum allowed size",
    )
}

fn incomplete_body() -> S3Error {
    S3Error::with_message(
        S3ErrorCode::IncompleteBody,
        "You did not provide the number of bytes specified by the Content-Length HTTP header",
    )
}

/// Checks what can be checked before reading a byte: digest syntax, algorithm names,
/// declared size. Returns the decoded Content-MD5 and the algorithm to compute.
fn precheck(expect: &Expect) -> S3Result<(Option<Vec<u8>>, Option<String>)> {
    let md5 = match &expect.content_md5 {
        None => None,
        Some(s) => match b64_decode(s) {
            Some(d) if d.len() == 16 => Some(d),
            _ => {
                return Err(S3Error::with_message(
                    S3ErrorCode::InvalidDigest,
                    "The Content-MD5 you specified was invalid.",
                ))
            }
        },
    };
    let declared = expect
        .checksum_algorithm
        .as_ref()
        .map(|a| a.to_ascii_uppercase());
    if let Some(a) = &declared {
        if !CHECKSUM_ALGORITHMS.contains(&a.as_str()) {
            return Err(invalid_request(
                "Checksum algorithm provided is unsupported. Please try again with any of the valid types: [CRC32, CRC32C, CRC64NVME, SHA1, SHA256]",
            ));
        }
    }
    let mut algorithm = declared.clone();
    if let Some((alg, value)) = &expect.checksum_value {
        let alg = alg.to_ascii_uppercase();
        if !CHECKSUM_ALGORITHMS.contains(&alg.as_str()) {
            return Err(invalid_request(
                "Checksum algorithm provided is unsupported.",
            ));
        }
        if b64_decode(value).is_none_or(|d| d.len() != digest_len(&alg)) {
            return Err(invalid_request(&format!(
                "Value for {} header is invalid.",
                checksum_header(&alg)
            )));
        }
        if let Some(d) = &declared {
            if *d != alg {
                return Err(invalid_request(&format!(
                    "Expecting a single x-amz-checksum- header. Multiple checksum Types are not allowed. (declared {d}, sent {alg})"
                )));
            }
        }
        algorithm = Some(alg);
    }
    if expect.length.is_some_and(|l| l > expect.max_bytes) {
        return Err(entity_too_large());
    }
    Ok((md5, algorithm))
}

/// Reads `body` to its end, verifying `expect` (and trailing checksums from
/// `trailers`, called once the stream is exhausted).
pub async fn store_body(
    state: &S3State,
    body: Option<StreamingBlob>,
    expect: Expect,
    trailers: &(dyn Fn() -> Option<http::HeaderMap> + Send + Sync),
) -> S3Result<StoredBody> {
    let (want_md5, algorithm) = precheck(&expect)?;
    let mut md5 = md5::Md5::new();
    let mut hasher = algorithm.as_deref().and_then(hasher_for);
    let mut size: u64 = 0;
    let mut small = BytesMut::new();
    let mut writer: Option<nimbus_blob::BlobWriter> = None;

    // Straight to a blob when the declared size says it will not be inline.
    if expect.length.is_some_and(|l| l > INLINE_MAX_BYTES) {
        writer = Some(state.blobs.writer().map_err(blob_error)?);
    }

    let read = async {
        if let Some(mut body) = body {
            while let Some(chunk) = body.next().await {
                let chunk = chunk.map_err(body_error)?;
                if chunk.is_empty() {
                    continue;
                }
                size += chunk.len() as u64;
                if size > expect.max_bytes {
                    return Err(entity_too_large());
                }
                md5.update(&chunk);
                if let Some(h) = hasher.as_mut() {
                    h.update(&chunk);
                }
                if writer.is_none() && size > INLINE_MAX_BYTES {
                    let mut w = state.blobs.writer().map_err(blob_error)?;
                    w.write(&small).await.map_err(blob_error)?;
                    small = BytesMut::new();
                    writer = Some(w);
                }
                match writer.as_mut() {
                    Some(w) => w.write(&chunk).await.map_err(blob_error)?,
                    None => small.extend_from_slice(&chunk),
                }
            }
        }
        Ok(())
    };
    let result: S3Result<()> = read.await;
    let verified = result.and_then(|()| {
        if let Some(l) = expect.length {
            if size < l {
                return Err(incomplete_body());
            }
        }
        Ok(())
    });
    if let Err(e) = verified {
        if let Some(w) = writer {
            w.abort().await;
        }
        return Err(e);
    }

    let md5: [u8; 16] = md5.finalize().into();
    let checksum_value = hasher.and_then(finish_hasher);
    let check = verify_digests(
        &expect,
        want_md5.as_deref(),
        &md5,
        algorithm.as_deref(),
        checksum_value.as_deref(),
        trailers(),
    );
    if let Err(e) = check {
        if let Some(w) = writer {
            w.abort().await;
        }
        return Err(e);
    }
    let checksum = algorithm
        .zip(checksum_value)
        .map(|(algorithm, value)| Checksum {
            algorithm,
            value,
            kind: "FULL_OBJECT".to_string(),
        });

    match writer {
        Some(w) => {
            let id = w.id().to_string();
            let written = w.finish().await.map_err(blob_error)?;
            if written != size {
                state.blobs.delete(&id).await.ok();
                return Err(
                    Error::Corrupt(format!("blob {id}: wrote {written} of {size} bytes")).into_s3(),
                );
            }
            Ok(StoredBody {
                blob: BlobRef {
                    id,
                    size,
                    inline: false,
                },
                inline: None,
                md5,
                checksum,
                size,
            })
        }
        None => Ok(StoredBody {
            blob: BlobRef {
                id: uuid::Uuid::new_v4().simple().to_string(),
                size,
                inline: true,
            },
            inline: Some(small.freeze()),
            md5,
            checksum,
            size,
        }),
    }
}

fn verify_digests(
    expect: &Expect,
    want_md5: Option<&[u8]>,
    md5: &[u8; 16],
    algorithm: Option<&str>,
    computed: Option<&str>,
    trailers: Option<http::HeaderMap>,
) -> S3Result<()> {
    if want_md5.is_some_and(|w| w != md5) {
        return Err(bad_digest_md5());
    }
    if let (Some((alg, value)), Some(c)) = (&expect.checksum_value, computed) {
        if value.trim() != c {
            return Err(bad_checksum(&alg.to_ascii_uppercase()));
        }
    }
    if let Some(t) = trailers {
        for alg in CHECKSUM_ALGORITHMS {
            let Some(v) = t.get(checksum_header(alg)).and_then(|v| v.to_str().ok()) else {
                continue;
            };
            if algorithm != Some(alg) {
                // A trailer for an algorithm nobody announced: we cannot have computed
                // it; S3 answers this the same way.
                return Err(invalid_request(&format!(
                    "The value specified in the x-amz-trailer header is not supported: {}",
                    checksum_header(alg)
                )));
            }
            if b64_decode(v.trim()).is_none_or(|d| d.len() != digest_len(alg)) {
                return Err(invalid_request(&format!(
                    "Value for {} trailing header is invalid.",
                    checksum_header(alg)
                )));
            }
            if Some(v.trim()) != computed {
                return Err(bad_checksum(alg));
            }
        }
    }
    Ok(())
}

fn blob_error(e: nimbus_blob::BlobError) -> S3Error {
    Error::Blob(e).into_s3()
}

/// An error from the request body stream: s3s's own S3 errors (chunk signature
/// mismatch) pass through; anything else means the body ended badly.
fn body_error(e: s3s::StdError) -> S3Error {
    match e.downcast::<S3Error>() {
        Ok(s3) => *s3,
        Err(other) => {
            let text = other.to_string();
            if text.contains("SignatureMismatch") {
                S3Error::with_message(
                    S3ErrorCode::SignatureDoesNotMatch,
                    "The request signature we calculated does not match the signature you provided. Check your key and signing method.",
                )
            } else {
                tracing::debug!(error = %text, "request body ended with an error");
                incomplete_body()
            }
        }
    }
}

enum Segment {
    Bytes(Bytes),
    File { id: String, offset: u64, len: u64 },
    Fail(String),
}

/// The segments of `blobs` that cover `[offset, offset + len)`; inline bytes are read
/// from `snap` right away (they are small and the snapshot is the caller's).
fn segments(
    snap: Option<&dyn ReadTxn>,
    blobs: &[BlobRef],
    offset: u64,
    len: u64,
) -> VecDeque<Segment> {
    let mut out = VecDeque::new();
    let end = offset.saturating_add(len);
    let mut pos: u64 = 0;
    for b in blobs {
        let (bstart, bend) = (pos, pos.saturating_add(b.size));
        pos = bend;
        let s = offset.max(bstart);
        let e = end.min(bend);
        if s >= e {
            continue;
        }
        let (rel, n) = (s - bstart, e - s);
        if b.inline {
            let got = snap
                .ok_or(())
                .and_then(|t| t.get(&keys::inline(&b.id)).map_err(|_| ()));
            match got {
                Ok(Some(v)) => {
                    let bytes = Bytes::from(v);
                    let (a, z) = (rel as usize, (rel + n) as usize);
                    match bytes.get(a..z) {
                        Some(_) => out.push_back(Segment::Bytes(bytes.slice(a..z))),
                        None => {
                            out.push_back(Segment::Fail(format!("inline body {} is short", b.id)));
                            break;
                        }
                    }
                }
                _ => {
                    out.push_back(Segment::Fail(format!("inline body {} is missing", b.id)));
                    break;
                }
            }
        } else {
            out.push_back(Segment::File {
                id: b.id.clone(),
                offset: rel,
                len: n,
            });
        }
    }
    out
}

struct Reader {
    segs: VecDeque<Segment>,
    cur: Option<BlobStream>,
    store: Arc<BlobStore>,
}

fn stream_segments(segs: VecDeque<Segment>, store: Arc<BlobStore>) -> StreamingBlob {
    let st = Reader {
        segs,
        cur: None,
        store,
    };
    let s = futures::stream::unfold(st, |mut st| async move {
        loop {
            if let Some(cur) = st.cur.as_mut() {
                match cur.next().await {
                    Some(Ok(b)) => return Some((Ok(b), st)),
                    Some(Err(e)) => {
                        st.cur = None;
                        st.segs.clear();
                        return Some((Err(e), st));
                    }
                    None => st.cur = None,
                }
            }
            match st.segs.pop_front()? {
                Segment::Bytes(b) => return Some((Ok(b), st)),
                Segment::Fail(msg) => {
                    st.segs.clear();
                    tracing::error!(error = %msg, "reading an object body");
                    return Some((Err(std::io::Error::other(msg)), st));
                }
                Segment::File { id, offset, len } => match st.store.read(&id, offset, len).await {
                    Ok(s) => st.cur = Some(s),
                    Err(e) => {
                        st.segs.clear();
                        tracing::error!(error = %e, blob = %id, "reading an object body");
                        return Some((Err(std::io::Error::other(e.to_string())), st));
                    }
                },
            }
        }
    });
    StreamingBlob::wrap(s)
}

/// Streams `len` bytes starting at `offset` of the concatenation of `blobs`.
pub fn read_blobs(state: &S3State, blobs: &[BlobRef], offset: u64, len: u64) -> StreamingBlob {
    let snap = state.db.snapshot();
    let segs = match &snap {
        Ok(s) => segments(Some(s.as_ref()), blobs, offset, len),
        Err(_) => segments(None, blobs, offset, len),
    };
    stream_segments(segs, state.blobs.clone())
}

/// [`read_blobs`] with inline bodies read from `snap` (the snapshot the version was
/// read from, so that a concurrent overwrite cannot remove them in between).
pub fn read_blobs_at(
    state: &S3State,
    snap: &dyn ReadTxn,
    blobs: &[BlobRef],
    offset: u64,
    len: u64,
) -> StreamingBlob {
    stream_segments(
        segments(Some(snap), blobs, offset, len),
        state.blobs.clone(),
    )
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use nimbus_core::ManualClock;

    fn blob_of(chunks: Vec<Vec<u8>>) -> StreamingBlob {
        StreamingBlob::wrap(futures::stream::iter(
            chunks
                .into_iter()
                .map(|c| Ok::<_, std::io::Error>(Bytes::from(c))),
        ))
    }

    fn no_trailers() -> Option<http::HeaderMap> {
        None
    }

    async fn collect(mut s: StreamingBlob) -> Vec<u8> {
        let mut out = Vec::new();
        while let Some(c) = s.next().await {
            out.extend_from_slice(&c.unwrap());
        }
        out
    }

    fn state() -> Arc<S3State> {
        S3State::for_tests(Arc::new(ManualClock::new(1_700_000_000_000)))
    }

    fn expect() -> Expect {
        Expect {
            max_bytes: MAX_PUT_BYTES,
            ..Default::default()
        }
    }

    fn b64(b: &[u8]) -> String {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD.encode(b)
    }

    async fn commit(state: &S3State, body: &StoredBody) {
        let b = body.clone();
        state.db.write(move |t| b.write_inline(t)).await.unwrap();
        body.publish(state).await;
    }

    #[tokio::test]
    async fn small_bodies_are_inline_and_large_ones_spill_to_a_blob() {
        let st = state();
        let small = store_body(
            &st,
            Some(blob_of(vec![b"hello ".to_vec(), b"world".to_vec()])),
            expect(),
            &no_trailers,
        )
        .await
        .unwrap();
        assert!(small.blob.inline);
        assert_eq!(small.size, 11);
        assert_eq!(small.etag(), "\"5eb63bbbe01eeed093cb22bb8f5acdc3\"");
        commit(&st, &small).await;

        let data: Vec<u8> = (0..200_000u32).map(|i| (i % 253) as u8).collect();
        let big = store_body(
            &st,
            Some(blob_of(data.chunks(10_000).map(<[u8]>::to_vec).collect())),
            expect(),
            &no_trailers,
        )
        .await
        .unwrap();
        assert!(!big.blob.inline);
        assert!(big.inline.is_none());
        assert_eq!(big.size, 200_000);
        let want: [u8; 16] = md5::Md5::digest(&data).into();
        assert_eq!(big.md5, want);
        commit(&st, &big).await;

        let blobs = vec![small.blob.clone(), big.blob.clone()];
        let mut all = b"hello world".to_vec();
        all.extend_from_slice(&data);
        assert_eq!(
            collect(read_blobs(&st, &blobs, 0, all.len() as u64)).await,
            all
        );
        assert_eq!(collect(read_blobs(&st, &blobs, 6, 10)).await, all[6..16]);
        assert_eq!(
            collect(read_blobs(&st, &blobs, 150_000, 1_000_000)).await,
            all[150_000..]
        );
        assert!(collect(read_blobs(&st, &blobs, 5, 0)).await.is_empty());
    }

    #[tokio::test]
    async fn empty_and_missing_bodies_are_empty_inline_objects() {
        let st = state();
        let b = store_body(&st, None, expect(), &no_trailers).await.unwrap();
        assert_eq!(b.size, 0);
        assert!(b.blob.inline);
        assert_eq!(b.etag(), "\"d41d8cd98f00b204e9800998ecf8427e\"");
    }

    #[tokio::test]
    async fn content_md5_is_verified() {
        let st = state();
        let good = md5::Md5::digest(b"abc");
        let ok = store_body(
            &st,
            Some(blob_of(vec![b"abc".to_vec()])),
            Expect {
                content_md5: Some(b64(&good)),
                ..expect()
            },
            &no_trailers,
        )
        .await;
        assert!(ok.is_ok());
        let bad = store_body(
            &st,
            Some(blob_of(vec![b"abd".to_vec()])),
            Expect {
                content_md5: Some(b64(&good)),
                ..expect()
            },
            &no_trailers,
        )
        .await
        .unwrap_err();
        assert_eq!(*bad.code(), S3ErrorCode::BadDigest);
        let malformed = store_body(
            &st,
            Some(blob_of(vec![b"abc".to_vec()])),
            Expect {
                content_md5: Some("nope".into()),
                ..expect()
            },
            &no_trailers,
        )
        .await
        .unwrap_err();
        assert_eq!(*malformed.code(), S3ErrorCode::InvalidDigest);
    }

    #[tokio::test]
    async fn checksums_are_computed_and_verified_from_headers_and_trailers() {
        let st = state();
        // CRC32 of "hello" is 0x3610a686.
        let crc = b64(&[0x36, 0x10, 0xa6, 0x86]);
        let b = store_body(
            &st,
            Some(blob_of(vec![b"hello".to_vec()])),
            Expect {
                checksum_algorithm: Some("crc32".into()),
                ..expect()
            },
            &no_trailers,
        )
        .await
        .unwrap();
        assert_eq!(b.checksum.as_ref().unwrap().value, crc);
        assert_eq!(b.checksum.as_ref().unwrap().algorithm, "CRC32");

        let wrong = store_body(
            &st,
            Some(blob_of(vec![b"hellO".to_vec()])),
            Expect {
                checksum_value: Some(("CRC32".into(), crc.clone())),
                ..expect()
            },
            &no_trailers,
        )
        .await
        .unwrap_err();
        assert_eq!(*wrong.code(), S3ErrorCode::BadDigest);
        assert_eq!(
            wrong.message(),
            Some("The CRC32 you specified did not match the calculated checksum.")
        );

        let malformed = store_body(
            &st,
            Some(blob_of(vec![b"hello".to_vec()])),
            Expect {
                checksum_value: Some(("CRC32".into(), "AAAA".into())),
                ..expect()
            },
            &no_trailers,
        )
        .await
        .unwrap_err();
        assert_eq!(*malformed.code(), S3ErrorCode::InvalidRequest);

        let crc2 = crc.clone();
        let good_trailer = move || {
            let mut h = http::HeaderMap::new();
            h.insert("x-amz-checksum-crc32", crc2.parse().unwrap());
            Some(h)
        };
        let ok = store_body(
            &st,
            Some(blob_of(vec![b"hel".to_vec(), b"lo".to_vec()])),
            Expect {
                checksum_algorithm: Some("CRC32".into()),
                ..expect()
            },
            &good_trailer,
        )
        .await;
        assert!(ok.is_ok());
        let bad = store_body(
            &st,
            Some(blob_of(vec![vec![7u8; 100_000]])),
            Expect {
                checksum_algorithm: Some("CRC32".into()),
                ..expect()
            },
            &good_trailer,
        )
        .await
        .unwrap_err();
        assert_eq!(*bad.code(), S3ErrorCode::BadDigest);

        for alg in CHECKSUM_ALGORITHMS {
            let b = store_body(
                &st,
                Some(blob_of(vec![b"x".to_vec()])),
                Expect {
                    checksum_algorithm: Some(alg.into()),
                    ..expect()
                },
                &no_trailers,
            )
            .await
            .unwrap();
            let v = b.checksum.unwrap().value;
            assert_eq!(b64_decode(&v).unwrap().len(), digest_len(alg), "{alg}");
        }
    }

    #[tokio::test]
    async fn limits_and_short_bodies_are_refused_and_leave_no_blob() {
        let dir = tempfile::tempdir().unwrap();
        let st = state();
        let st = S3State {
            notifications: crate::NotificationHooks::default(),
            owners: Default::default(),
            db: st.db.clone(),
            blobs: Arc::new(BlobStore::open(dir.path()).unwrap()),
            clock: st.clock.clone(),
            credentials: st.credentials.clone(),
            config: st.config.clone(),
        };
        let too_big = store_body(
            &st,
            Some(blob_of(vec![vec![0u8; 100_000], vec![0u8; 100_000]])),
            Expect {
                max_bytes: 150_000,
                ..Default::default()
            },
            &no_trailers,
        )
        .await
        .unwrap_err();
        assert_eq!(*too_big.code(), S3ErrorCode::EntityTooLarge);
        let declared_too_big = store_body(
            &st,
            None,
            Expect {
                length: Some(MAX_PUT_BYTES + 1),
                ..expect()
            },
            &no_trailers,
        )
        .await
        .unwrap_err();
        assert_eq!(*declared_too_big.code(), S3ErrorCode::EntityTooLarge);
        let short = store_body(
            &st,
            Some(blob_of(vec![vec![1u8; 70_000]])),
            Expect {
                length: Some(80_000),
                ..expect()
            },
            &no_trailers,
        )
        .await
        .unwrap_err();
        assert_eq!(*short.code(), S3ErrorCode::IncompleteBody);
        assert!(st.blobs.list_tmp().await.unwrap().is_empty());

        // A blob-sized body: on disk in tmp/ until published, then readable.
        let b = store_body(
            &st,
            Some(blob_of(vec![vec![9u8; 300_000]])),
            expect(),
            &no_trailers,
        )
        .await
        .unwrap();
        assert_eq!(st.blobs.list_tmp().await.unwrap(), vec![b.blob.id.clone()]);
        b.publish(&st).await;
        assert!(st.blobs.list_tmp().await.unwrap().is_empty());
        let got = collect(read_blobs(&st, std::slice::from_ref(&b.blob), 299_990, 100)).await;
        assert_eq!(got, vec![9u8; 10]);
        b.abandon(&st).await;
        assert!(!st.blobs.exists(&b.blob.id).await.unwrap());
    }

    #[test]
    fn expect_reads_the_request_headers() {
        let mut h = http::HeaderMap::new();
        h.insert("content-length", "999".parse().unwrap());
        h.insert("x-amz-decoded-content-length", "5".parse().unwrap());
        h.insert(
            "x-amz-content-sha256",
            "STREAMING-UNSIGNED-PAYLOAD-TRAILER".parse().unwrap(),
        );
        h.insert("x-amz-trailer", "x-amz-checksum-crc64nvme".parse().unwrap());
        h.insert("content-md5", "abc=".parse().unwrap());
        let e = Expect::from_headers(&h, 10);
        assert_eq!(e.length, Some(5));
        assert_eq!(e.checksum_algorithm.as_deref(), Some("CRC64NVME"));
        assert_eq!(e.content_md5.as_deref(), Some("abc="));
        assert_eq!(e.max_bytes, 10);

        let mut h = http::HeaderMap::new();
        h.insert("content-length", "7".parse().unwrap());
        h.insert("x-amz-checksum-sha256", "xyz".parse().unwrap());
        let e = Expect::from_headers(&h, 10);
        assert_eq!(e.length, Some(7));
        assert_eq!(e.checksum_value, Some(("SHA256".into(), "xyz".into())));
    }
}
