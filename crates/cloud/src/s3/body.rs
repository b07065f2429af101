//! Request bodies read as they arrive (plain or aws-chunked, verified chunk by chunk) into a
//! file or a buffer while hashing, and object data streamed back from a file.
//!
//! The aws-chunked decoder here is incremental (the body of a 5 GiB PutObject is never held
//! in memory); chunk and trailer signatures are computed with `porteiro_sigv4::ChunkSigner`
//! and errors are `porteiro_sigv4::SigError`s, so they read as S3's.

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::body::{Body, Frame, SizeHint};
use md5::Md5;
use porteiro_sigv4::checksum::{ChecksumAlgorithm, Checksummer};
use porteiro_sigv4::{ChunkSigner, SigError};
use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncSeekExt, AsyncWriteExt};

use super::S3Error;

/// Largest aws-chunked chunk accepted (clients send 64 KiB to 1 MiB).
const MAX_CHUNK: usize = 16 * 1024 * 1024;
/// Longest chunk header or trailer line.
const MAX_LINE: usize = 4096;

/// How the body is encoded.
#[derive(Debug)]
pub enum Mode {
    /// The bytes are the payload; `sha256` is the signed hash to check, if any.
    Plain {
        /// The signed payload SHA-256.
        sha256: Option<[u8; 32]>,
    },
    /// aws-chunked.
    Chunked {
        /// Verifies chunk (and trailer) signatures; `None` for `STREAMING-UNSIGNED-PAYLOAD-TRAILER`.
        signer: Option<ChunkSigner>,
        /// Whether a signed trailer may follow (`...-PAYLOAD-TRAILER`).
        trailer_allowed: bool,
        /// `x-amz-decoded-content-length`.
        decoded_length: u64,
        /// Trailer names announced in `x-amz-trailer`.
        announced: Vec<String>,
    },
}

/// Where the payload goes.
#[derive(Debug)]
pub enum Sink {
    /// A file (buffered).
    File(tokio::io::BufWriter<tokio::fs::File>),
    /// Memory.
    Memory(Vec<u8>),
}

/// What was received.
#[derive(Debug)]
pub struct Received {
    /// Payload length.
    pub len: u64,
    /// MD5 of the payload.
    pub md5: [u8; 16],
    /// The flexible checksum computed (algorithm, base64), when one was asked for.
    pub checksum: Option<(ChecksumAlgorithm, String)>,
    /// Trailers (lower-case names), signature excluded.
    pub trailers: Vec<(String, String)>,
}

struct Hashing {
    len: u64,
    limit: u64,
    md5: Md5,
    sha256: Option<Sha256>,
    checksum: Option<Checksummer>,
}

impl Hashing {
    async fn emit(&mut self, data: &[u8], sink: &mut Sink) -> Result<(), S3Error> {
        self.len += data.len() as u64;
        if self.len > self.limit {
            return Err(S3Error::new(
                400,
                "EntityTooLarge",
                format!(
                    "Your proposed upload exceeds the maximum allowed size of {} bytes",
                    self.limit
                ),
            ));
        }
        self.md5.update(data);
        if let Some(h) = &mut self.sha256 {
            h.update(data);
        }
        if let Some(c) = &mut self.checksum {
            c.update(data);
        }
        match sink {
            Sink::File(f) => f.write_all(data).await.map_err(S3Error::io)?,
            Sink::Memory(v) => v.extend_from_slice(data),
        }
        Ok(())
    }
}

fn bad(reason: &'static str) -> S3Error {
    SigError::MalformedChunkedBody { reason }.into()
}

fn eq32(a: &[u8; 32], b: &[u8; 32]) -> bool {
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn decode_hex32(s: &str) -> Option<[u8; 32]> {
    let s = s.trim().as_bytes();
    if s.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, pair) in s.chunks(2).enumerate() {
        let hex = std::str::from_utf8(pair).ok()?;
        out[i] = u8::from_str_radix(hex, 16).ok()?;
    }
    Some(out)
}

fn find_crlf(buf: &[u8]) -> Option<usize> {
    buf.windows(2).position(|w| w == b"\r\n")
}

enum State {
    Header,
    Data {
        size: usize,
        signature: Option<[u8; 32]>,
    },
    Trailers,
    Done,
}

/// Reads `body` to its end into `sink`, decoding and verifying it as `mode` says, with the
/// payload at most `limit` bytes, computing `checksum` if given.
pub async fn receive<B>(
    mut body: B,
    mode: Mode,
    checksum: Option<ChecksumAlgorithm>,
    limit: u64,
    sink: &mut Sink,
) -> Result<Received, S3Error>
where
    B: Body<Data = Bytes> + Unpin,
    B::Error: std::fmt::Display,
{
    let mut h = Hashing {
        len: 0,
        limit,
        md5: Md5::new(),
        sha256: match &mode {
            Mode::Plain { sha256: Some(_) } => Some(Sha256::new()),
            _ => None,
        },
        checksum: checksum.map(Checksummer::new),
    };
    let mut trailers = Vec::new();
    match mode {
        Mode::Plain { sha256 } => {
            while let Some(frame) = body.frame().await {
                let frame = frame.map_err(incomplete)?;
                if let Ok(data) = frame.into_data() {
                    h.emit(&data, sink).await?;
                }
            }
            if let (Some(declared), Some(hasher)) = (sha256, h.sha256.take()) {
                let computed: [u8; 32] = hasher.finalize().into();
                if !eq32(&declared, &computed) {
                    return Err(SigError::ContentSha256Mismatch {
                        declared: porteiro_sigv4::hex(&declared),
                        computed: porteiro_sigv4::hex(&computed),
                    }
                    .into());
                }
            }
        }
        Mode::Chunked {
            mut signer,
            trailer_allowed,
            decoded_length,
            announced,
        } => {
            if decoded_length > limit {
                h.len = decoded_length;
                h.emit(&[], sink).await?;
            }
            let mut buf: Vec<u8> = Vec::with_capacity(128 * 1024);
            let mut state = State::Header;
            let mut index = 0usize;
            let mut trailer_signature: Option<Option<[u8; 32]>> = None;
            let mut eof = false;
            let mut skipped_blank = false;
            loop {
                // Parse as much as the buffer allows.
                let mut pos = 0usize;
                loop {
                    match state {
                        State::Header => {
                            let rest = &buf[pos..];
                            let Some(i) = find_crlf(rest) else {
                                if rest.len() > MAX_LINE {
                                    return Err(bad("line too long"));
                                }
                                break;
                            };
                            let line = &rest[..i];
                            let (size, ext) = match line.iter().position(|&b| b == b';') {
                                Some(j) => (&line[..j], Some(&line[j + 1..])),
                                None => (line, None),
                            };
                            let size = std::str::from_utf8(size)
                                .ok()
                                .and_then(|s| usize::from_str_radix(s.trim(), 16).ok())
                                .ok_or_else(|| bad("invalid chunk size"))?;
                            if size > MAX_CHUNK {
                                return Err(bad("chunk larger than 16 MiB"));
                            }
                            let signature = match &signer {
                                Some(_) => Some(
                                    ext.and_then(|e| std::str::from_utf8(e).ok())
                                        .and_then(|e| {
                                            e.split(';')
                                                .find_map(|x| x.trim().strip_prefix("chunk-signature="))
                                        })
                                        .and_then(decode_hex32)
                                        .ok_or_else(|| bad("missing or invalid chunk-signature"))?,
                                ),
                                None => None,
                            };
                            pos += i + 2;
                            state = State::Data { size, signature };
                        }
                        State::Data { size, signature } => {
                            let need = if size == 0 { 0 } else { size + 2 };
                            if buf.len() - pos < need {
                                break;
                            }
                            let data = &buf[pos..pos + size];
                            if let (Some(s), Some(given)) = (signer.as_mut(), signature) {
                                let mut before = s.clone();
                                let expected = s.sign_chunk(data);
                                if !eq32(&given, &expected) {
                                    let string_to_sign = before.chunk_string_to_sign(data).to_owned();
                                    return Err(SigError::ChunkSignatureDoesNotMatch {
                                        index,
                                        string_to_sign,
                                    }
                                    .into());
                                }
                            }
                            if size == 0 {
                                state = State::Trailers;
                                continue;
                            }
                            if &buf[pos + size..pos + size + 2] != b"\r\n" {
                                return Err(bad("chunk data not followed by CRLF"));
                            }
                            let data = buf[pos..pos + size].to_vec();
                            h.emit(&data, sink).await?;
                            if h.len > decoded_length {
                                return Err(SigError::DecodedLengthMismatch {
                                    declared: decoded_length,
                                    actual: h.len,
                                }
                                .into());
                            }
                            pos += size + 2;
                            index += 1;
                            state = State::Header;
                        }
                        State::Trailers => {
                            let rest = &buf[pos..];
                            let (line, advance) = match find_crlf(rest) {
                                Some(i) => (&rest[..i], i + 2),
                                None if eof => (rest, rest.len()),
                                None => {
                                    if rest.len() > MAX_LINE {
                                        return Err(bad("line too long"));
                                    }
                                    break;
                                }
                            };
                            if line.is_empty() {
                                pos += advance;
                                if trailers.is_empty()
                                    && trailer_signature.is_none()
                                    && !skipped_blank
                                    && !eof
                                    && advance > 0
                                {
                                    // Lenient: a blank line between the final chunk and the trailers.
                                    skipped_blank = true;
                                    continue;
                                }
                                state = State::Done;
                                continue;
                            }
                            let line = std::str::from_utf8(line).map_err(|_| bad("trailer is not UTF-8"))?;
                            let (name, value) = line
                                .split_once(':')
                                .ok_or_else(|| bad("trailer line without ':'"))?;
                            let name = name.trim().to_ascii_lowercase();
                            let value = value.trim().to_owned();
                            if name == "x-amz-trailer-signature" {
                                trailer_signature = Some(decode_hex32(&value));
                            } else {
                                trailers.push((name, value));
                            }
                            pos += advance;
                        }
                        State::Done => {
                            if buf[pos..].iter().any(|b| !b.is_ascii_whitespace()) {
                                return Err(bad("data after the end of the aws-chunked body"));
                            }
                            pos = buf.len();
                            break;
                        }
                    }
                }
                buf.drain(..pos);
                if eof {
                    break;
                }
                match body.frame().await {
                    Some(frame) => {
                        if let Ok(data) = frame.map_err(incomplete)?.into_data() {
                            buf.extend_from_slice(&data);
                        }
                    }
                    None => {
                        eof = true;
                    }
                }
            }
            match state {
                State::Trailers | State::Done => {}
                _ => return Err(bad("truncated aws-chunked body")),
            }
            if !trailers.is_empty() || trailer_signature.is_some() {
                if !trailer_allowed {
                    return Err(bad("trailer in a payload declared without one"));
                }
                if let Some(s) = signer.as_mut() {
                    let mut canonical = Vec::new();
                    for (n, v) in &trailers {
                        canonical.extend_from_slice(format!("{n}:{v}\n").as_bytes());
                    }
                    let expected = s.clone().sign_trailer(&canonical);
                    let ok = trailer_signature
                        .flatten()
                        .is_some_and(|given| eq32(&given, &expected));
                    if !ok {
                        let string_to_sign = s.trailer_string_to_sign(&canonical).to_owned();
                        return Err(SigError::TrailerSignatureDoesNotMatch { string_to_sign }.into());
                    }
                }
            }
            if h.len != decoded_length {
                return Err(SigError::DecodedLengthMismatch {
                    declared: decoded_length,
                    actual: h.len,
                }
                .into());
            }
            for name in &announced {
                if !trailers.iter().any(|(n, _)| n.eq_ignore_ascii_case(name)) {
                    return Err(SigError::MissingTrailer {
                        name: name.to_ascii_lowercase(),
                    }
                    .into());
                }
            }
        }
    }
    if let Sink::File(f) = sink {
        f.flush().await.map_err(S3Error::io)?;
        f.get_ref().sync_all().await.map_err(S3Error::io)?;
    }
    Ok(Received {
        len: h.len,
        md5: h.md5.finalize().into(),
        checksum: h.checksum.map(|c| (c.algorithm(), c.finish())),
        trailers,
    })
}

fn incomplete(e: impl std::fmt::Display) -> S3Error {
    S3Error::new(
        400,
        "IncompleteBody",
        format!("The request body terminated unexpectedly: {e}"),
    )
}

/// An object's bytes streamed from an open file.
pub struct FileBody {
    rx: tokio::sync::mpsc::Receiver<Result<Bytes, std::io::Error>>,
    remaining: u64,
}

impl std::fmt::Debug for FileBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FileBody")
            .field("remaining", &self.remaining)
            .finish()
    }
}

impl FileBody {
    /// Streams `len` bytes of `file` from `start`.
    pub fn new(mut file: tokio::fs::File, start: u64, len: u64) -> FileBody {
        let (tx, rx) = tokio::sync::mpsc::channel(4);
        tokio::spawn(async move {
            if start > 0
                && let Err(e) = file.seek(std::io::SeekFrom::Start(start)).await
            {
                let _ = tx.send(Err(e)).await;
                return;
            }
            let mut left = len;
            while left > 0 {
                let n = usize::try_from(left.min(256 * 1024)).unwrap_or(256 * 1024);
                let mut buf = vec![0u8; n];
                match file.read_exact(&mut buf).await {
                    Ok(_) => {
                        left -= n as u64;
                        if tx.send(Ok(Bytes::from(buf))).await.is_err() {
                            return;
                        }
                    }
                    Err(e) => {
                        let _ = tx.send(Err(e)).await;
                        return;
                    }
                }
            }
        });
        FileBody { rx, remaining: len }
    }
}

impl Body for FileBody {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, std::io::Error>>> {
        match self.rx.poll_recv(cx) {
            Poll::Ready(Some(Ok(b))) => {
                self.remaining = self.remaining.saturating_sub(b.len() as u64);
                Poll::Ready(Some(Ok(Frame::data(b))))
            }
            Poll::Ready(Some(Err(e))) => Poll::Ready(Some(Err(e))),
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Pending => Poll::Pending,
        }
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.remaining)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::Full;
    use porteiro_sigv4::{SigningKey, encode_aws_chunked};

    fn run<F: std::future::Future>(f: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(f)
    }

    #[test]
    fn decodes_signed_chunks_with_trailer() {
        let key = SigningKey::derive("secret", "20260101", "us-east-1", "s3");
        let seed = [7u8; 32];
        let payload: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
        let crc = ChecksumAlgorithm::Crc32.compute(&payload);
        let mut signer = ChunkSigner::new(
            key.clone(),
            "20260101T000000Z",
            "20260101/us-east-1/s3/aws4_request",
            seed,
        );
        let body = encode_aws_chunked(
            &payload,
            65536,
            Some(&mut signer),
            &[("x-amz-checksum-crc32", &crc)],
        );
        let mode = || Mode::Chunked {
            signer: Some(ChunkSigner::new(
                key.clone(),
                "20260101T000000Z",
                "20260101/us-east-1/s3/aws4_request",
                seed,
            )),
            trailer_allowed: true,
            decoded_length: payload.len() as u64,
            announced: vec!["x-amz-checksum-crc32".into()],
        };
        let mut sink = Sink::Memory(Vec::new());
        let got = run(receive(
            Full::new(Bytes::from(body.clone())),
            mode(),
            Some(ChecksumAlgorithm::Crc32),
            1 << 30,
            &mut sink,
        ))
        .unwrap();
        assert_eq!(got.checksum.unwrap().1, crc);
        assert_eq!(
            got.trailers,
            vec![("x-amz-checksum-crc32".to_string(), crc.clone())]
        );
        let Sink::Memory(v) = sink else { panic!() };
        assert_eq!(v, payload);
        // A flipped payload byte breaks the chunk signature.
        let mut broken = body;
        broken[200] ^= 1;
        let err = run(receive(
            Full::new(Bytes::from(broken)),
            mode(),
            None,
            1 << 30,
            &mut Sink::Memory(Vec::new()),
        ))
        .unwrap_err();
        assert_eq!(err.code, "SignatureDoesNotMatch");
    }

    #[test]
    fn decodes_unsigned_trailer_form_and_checks_length() {
        let payload = b"hello world";
        let body = encode_aws_chunked(payload, 4, None, &[("x-amz-checksum-crc32", "DUoRhQ==")]);
        let mode = |n| Mode::Chunked {
            signer: None,
            trailer_allowed: true,
            decoded_length: n,
            announced: vec![],
        };
        let mut sink = Sink::Memory(Vec::new());
        run(receive(
            Full::new(Bytes::from(body.clone())),
            mode(11),
            None,
            100,
            &mut sink,
        ))
        .unwrap();
        let err = run(receive(
            Full::new(Bytes::from(body)),
            mode(12),
            None,
            100,
            &mut Sink::Memory(Vec::new()),
        ))
        .unwrap_err();
        assert_eq!(err.status, 400);
    }

    #[test]
    fn plain_body_checks_sha256_and_limit() {
        let sha: [u8; 32] = Sha256::digest(b"abc").into();
        let mut sink = Sink::Memory(Vec::new());
        run(receive(
            Full::new(Bytes::from_static(b"abc")),
            Mode::Plain { sha256: Some(sha) },
            None,
            10,
            &mut sink,
        ))
        .unwrap();
        let err = run(receive(
            Full::new(Bytes::from_static(b"abd")),
            Mode::Plain { sha256: Some(sha) },
            None,
            10,
            &mut Sink::Memory(Vec::new()),
        ))
        .unwrap_err();
        assert_eq!(err.code, "XAmzContentSHA256Mismatch");
        let err = run(receive(
            Full::new(Bytes::from_static(b"abcd")),
            Mode::Plain { sha256: None },
            None,
            3,
            &mut Sink::Memory(Vec::new()),
        ))
        .unwrap_err();
        assert_eq!(err.code, "EntityTooLarge");
    }
}
