//! aws-chunked payloads (`Content-Encoding: aws-chunked`): decoding with chunk and trailer
//! signature verification, encoding (for a signing gateway and tests), and checksums.
//!
//! Wire format, per chunk: `hex(size)[;chunk-signature=<64 hex>]\r\n<data>\r\n`; then the
//! final `0[;chunk-signature=…]\r\n`; then trailer lines `name:value\r\n` (with
//! `x-amz-trailer-signature:<64 hex>\r\n` last when signed) and an empty line.
//!
//! Chunk `i` is signed over `AWS4-HMAC-SHA256-PAYLOAD\n<date>\n<scope>\n<previous
//! signature>\n<sha256("")>\n<sha256(data)>` (the previous signature of chunk 0 is the request
//! signature, the final 0-byte chunk is signed too); the trailer over
//! `AWS4-HMAC-SHA256-TRAILER\n<date>\n<scope>\n<final chunk signature>\n<sha256(trailer
//! lines as "name:value\n")>`.

use sha2::{Digest, Sha256};

use crate::checksum::ChecksumAlgorithm;
use crate::encode::{ct_eq, decode_hex32, hex, hex_into};
use crate::error::SigError;
use crate::sign::SigningKey;
use crate::verify::{Payload, Verified};
use crate::{EMPTY_SHA256, Request};

/// Computes the chained chunk and trailer signatures of an aws-chunked body.
#[derive(Debug, Clone)]
pub struct ChunkSigner {
    key: SigningKey,
    amz_date: String,
    scope: String,
    previous: [u8; 32],
    buf: String,
}

impl ChunkSigner {
    /// A signer for a request signed at `amz_date` (`20130524T000000Z`) with credential scope
    /// `scope` (`20130524/us-east-1/s3/aws4_request`), seeded with the request signature.
    pub fn new(key: SigningKey, amz_date: &str, scope: &str, seed: [u8; 32]) -> Self {
        Self {
            key,
            amz_date: amz_date.to_owned(),
            scope: scope.to_owned(),
            previous: seed,
            buf: String::with_capacity(320),
        }
    }

    /// The last signature in the chain (the seed before any chunk).
    pub fn previous(&self) -> [u8; 32] {
        self.previous
    }

    fn prepare(&mut self, prefix: &str) {
        self.buf.clear();
        self.buf.push_str(prefix);
        self.buf.push('\n');
        self.buf.push_str(&self.amz_date);
        self.buf.push('\n');
        self.buf.push_str(&self.scope);
        self.buf.push('\n');
        hex_into(&mut self.buf, &self.previous);
        self.buf.push('\n');
    }

    /// The string to sign of the next chunk, carrying `data`.
    pub fn chunk_string_to_sign(&mut self, data: &[u8]) -> &str {
        self.prepare("AWS4-HMAC-SHA256-PAYLOAD");
        self.buf.push_str(EMPTY_SHA256);
        self.buf.push('\n');
        hex_into(&mut self.buf, &Sha256::digest(data));
        &self.buf
    }

    /// The string to sign of the trailer, whose canonical form is `canonical_trailers`
    /// (`name:value\n` per trailer).
    pub fn trailer_string_to_sign(&mut self, canonical_trailers: &[u8]) -> &str {
        self.prepare("AWS4-HMAC-SHA256-TRAILER");
        hex_into(&mut self.buf, &Sha256::digest(canonical_trailers));
        &self.buf
    }

    /// Signs the next chunk and advances the chain.
    pub fn sign_chunk(&mut self, data: &[u8]) -> [u8; 32] {
        self.chunk_string_to_sign(data);
        self.previous = self.key.sign(self.buf.as_bytes());
        self.previous
    }

    /// Signs the trailer and advances the chain.
    pub fn sign_trailer(&mut self, canonical_trailers: &[u8]) -> [u8; 32] {
        self.trailer_string_to_sign(canonical_trailers);
        self.previous = self.key.sign(self.buf.as_bytes());
        self.previous
    }

    /// Checks `given` against the signature of the string in `buf`; advances on success.
    fn check(&mut self, given: Option<&[u8; 32]>) -> Result<(), String> {
        let expected = self.key.sign(self.buf.as_bytes());
        if given.is_some_and(|g| ct_eq(g, &expected)) {
            self.previous = expected;
            Ok(())
        } else {
            Err(self.buf.clone())
        }
    }
}

/// An aws-chunked body, decoded and verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decoded {
    /// The payload (its length equals `x-amz-decoded-content-length`).
    pub payload: Vec<u8>,
    /// The trailer headers (names lower case, values trimmed), without
    /// `x-amz-trailer-signature`.
    pub trailers: Vec<(String, String)>,
    /// The `x-amz-checksum-*` trailer that was checked against the payload, if any.
    pub checksum: Option<ChecksumAlgorithm>,
}

/// Encodes `payload` as aws-chunked in chunks of `chunk_size` bytes (at least 1), followed
/// by `trailers`. With a `signer` the chunks and the trailer are signed
/// (`STREAMING-AWS4-HMAC-SHA256-PAYLOAD[-TRAILER]`); without, it is the
/// `STREAMING-UNSIGNED-PAYLOAD-TRAILER` form.
pub fn encode_aws_chunked(
    payload: &[u8],
    chunk_size: usize,
    mut signer: Option<&mut ChunkSigner>,
    trailers: &[(&str, &str)],
) -> Vec<u8> {
    let chunk_size = chunk_size.max(1);
    let mut out = Vec::with_capacity(payload.len() + (payload.len() / chunk_size + 2) * 90 + 200);
    for chunk in payload.chunks(chunk_size) {
        chunk_header(&mut out, chunk, signer.as_deref_mut());
        out.extend_from_slice(chunk);
        out.extend_from_slice(b"\r\n");
    }
    chunk_header(&mut out, &[], signer.as_deref_mut());
    if !trailers.is_empty() {
        let mut canonical = Vec::new();
        for (name, value) in trailers {
            out.extend_from_slice(format!("{name}:{value}\r\n").as_bytes());
            canonical
                .extend_from_slice(format!("{}:{}\n", name.to_ascii_lowercase(), value.trim()).as_bytes());
        }
        if let Some(s) = signer {
            out.extend_from_slice(b"x-amz-trailer-signature:");
            out.extend_from_slice(hex(&s.sign_trailer(&canonical)).as_bytes());
            out.extend_from_slice(b"\r\n");
        }
    }
    out.extend_from_slice(b"\r\n");
    out
}

fn chunk_header(out: &mut Vec<u8>, data: &[u8], signer: Option<&mut ChunkSigner>) {
    out.extend_from_slice(format!("{:x}", data.len()).as_bytes());
    if let Some(s) = signer {
        out.extend_from_slice(b";chunk-signature=");
        out.extend_from_slice(hex(&s.sign_chunk(data)).as_bytes());
    }
    out.extend_from_slice(b"\r\n");
}

/// The base64 length of each algorithm's digest.
fn b64_len(algorithm: ChecksumAlgorithm) -> usize {
    match algorithm {
        ChecksumAlgorithm::Crc32 | ChecksumAlgorithm::Crc32c => 8,
        ChecksumAlgorithm::Crc64Nvme => 12,
        ChecksumAlgorithm::Sha1 => 28,
        ChecksumAlgorithm::Sha256 => 44,
    }
}

/// Checks `data` against a base64 checksum `declared` (an `x-amz-checksum-*` value):
/// [`SigError::InvalidChecksum`] if it cannot be such a value, [`SigError::ChecksumMismatch`]
/// (S3 `BadDigest`) if it differs.
pub fn verify_checksum(algorithm: ChecksumAlgorithm, declared: &str, data: &[u8]) -> Result<(), SigError> {
    let declared = declared.trim();
    if declared.len() != b64_len(algorithm) {
        return Err(SigError::InvalidChecksum { algorithm });
    }
    let computed = algorithm.compute(data);
    if computed == declared {
        Ok(())
    } else {
        Err(SigError::ChecksumMismatch {
            algorithm,
            declared: declared.to_owned(),
            computed,
        })
    }
}

/// Checks `body` against every `x-amz-checksum-<algorithm>` header of `request` (a body sent
/// whole, with the checksum in a header). Returns the last algorithm checked.
pub fn verify_checksum_headers(
    request: &Request<'_>,
    body: &[u8],
) -> Result<Option<ChecksumAlgorithm>, SigError> {
    let mut checked = None;
    for (name, value) in request.headers {
        if let Some(algorithm) = ChecksumAlgorithm::from_header_name(name) {
            verify_checksum(algorithm, value, body)?;
            checked = Some(algorithm);
        }
    }
    Ok(checked)
}

fn bad(reason: &'static str) -> SigError {
    SigError::MalformedChunkedBody { reason }
}

/// Longest chunk header or trailer line accepted.
const MAX_LINE: usize = 4096;

/// The line starting at `*pos` (without CRLF); advances past the CRLF. At the very end of
/// the body a line without CRLF is accepted when `allow_eof`.
fn read_line<'b>(body: &'b [u8], pos: &mut usize, allow_eof: bool) -> Result<&'b [u8], SigError> {
    let rest = &body[*pos..];
    let window = &rest[..rest.len().min(MAX_LINE + 2)];
    match window.windows(2).position(|w| w == b"\r\n") {
        Some(i) => {
            *pos += i + 2;
            Ok(&rest[..i])
        }
        None if allow_eof && rest.len() <= MAX_LINE => {
            *pos = body.len();
            Ok(rest)
        }
        None if rest.len() > MAX_LINE => Err(bad("line too long")),
        None => Err(bad("truncated chunk header")),
    }
}

fn parse_size(s: &[u8]) -> Result<usize, SigError> {
    if s.is_empty() || s.len() > 16 {
        return Err(bad("invalid chunk size"));
    }
    let mut n: u64 = 0;
    for &c in s {
        let d = match c {
            b'0'..=b'9' => c - b'0',
            b'a'..=b'f' => c - b'a' + 10,
            b'A'..=b'F' => c - b'A' + 10,
            _ => return Err(bad("invalid chunk size")),
        };
        n = (n << 4) | u64::from(d);
    }
    usize::try_from(n).map_err(|_| bad("invalid chunk size"))
}

fn chunk_signature(extensions: Option<&[u8]>) -> Result<[u8; 32], SigError> {
    let ext = extensions.ok_or(bad("missing chunk-signature"))?;
    let ext = std::str::from_utf8(ext).map_err(|_| bad("invalid chunk extension"))?;
    ext.split(';')
        .find_map(|e| e.trim().strip_prefix("chunk-signature="))
        .and_then(decode_hex32)
        .ok_or(bad("missing or invalid chunk-signature"))
}

impl Verified {
    /// Decodes and verifies the aws-chunked `body` of a request whose payload is
    /// [`Payload::StreamingSigned`], [`Payload::StreamingSignedTrailer`] or
    /// [`Payload::StreamingUnsignedTrailer`] (else [`SigError::NotChunked`]).
    ///
    /// Verifies every chunk signature (the final 0-byte chunk included) chained from the
    /// request signature, the trailer signature, that the trailers named in `x-amz-trailer`
    /// were sent, the payload length against `x-amz-decoded-content-length`, and any
    /// `x-amz-checksum-*` trailer against the payload. Lenient where clients differ: an empty
    /// line between the final chunk and the trailers, and a missing final CRLF, are accepted.
    pub fn decode_aws_chunked(&self, body: &[u8]) -> Result<Decoded, SigError> {
        let signed = match self.payload {
            Payload::StreamingSigned | Payload::StreamingSignedTrailer => true,
            Payload::StreamingUnsignedTrailer => false,
            Payload::Sha256(_) | Payload::Unsigned => return Err(SigError::NotChunked),
        };
        let declared: u64 = self
            .decoded_content_length
            .as_deref()
            .ok_or(SigError::MissingDecodedContentLength)?
            .parse()
            .map_err(|_| bad("invalid x-amz-decoded-content-length"))?;
        let mut signer = ChunkSigner::new(self.key.clone(), &self.amz_date, &self.scope, self.signature);
        let capacity = usize::try_from(declared).unwrap_or(usize::MAX).min(body.len());
        let mut payload = Vec::with_capacity(capacity);
        let mut pos = 0;
        let mut index = 0;
        loop {
            let line = read_line(body, &mut pos, false)?;
            let (size, extensions) = match line.iter().position(|&b| b == b';') {
                Some(i) => (&line[..i], Some(&line[i + 1..])),
                None => (line, None),
            };
            let size = parse_size(size.trim_ascii())?;
            let end = pos
                .checked_add(size)
                .filter(|&e| e <= body.len())
                .ok_or(bad("truncated chunk"))?;
            let data = &body[pos..end];
            pos = end;
            if signed {
                let given = chunk_signature(extensions)?;
                signer.chunk_string_to_sign(data);
                signer.check(Some(&given)).map_err(|string_to_sign| {
                    SigError::ChunkSignatureDoesNotMatch {
                        index,
                        string_to_sign,
                    }
                })?;
            }
            if size == 0 {
                break;
            }
            if body.get(pos..pos + 2) != Some(b"\r\n") {
                return Err(bad("chunk data not followed by CRLF"));
            }
            pos += 2;
            payload.extend_from_slice(data);
            if payload.len() as u64 > declared {
                return Err(SigError::DecodedLengthMismatch {
                    declared,
                    actual: payload.len() as u64,
                });
            }
            index += 1;
        }

        let mut trailers: Vec<(String, String)> = Vec::new();
        let mut trailer_signature: Option<Option<[u8; 32]>> = None;
        let mut skipped_blank = false;
        while pos < body.len() {
            let line = read_line(body, &mut pos, true)?;
            if line.is_empty() {
                if trailers.is_empty() && trailer_signature.is_none() && !skipped_blank && pos < body.len() {
                    skipped_blank = true;
                    continue;
                }
                break;
            }
            let line = std::str::from_utf8(line).map_err(|_| bad("trailer is not UTF-8"))?;
            let (name, value) = line.split_once(':').ok_or(bad("trailer line without ':'"))?;
            let name = name.trim().to_ascii_lowercase();
            let value = value.trim();
            if name == "x-amz-trailer-signature" {
                trailer_signature = Some(decode_hex32(value));
            } else {
                trailers.push((name, value.to_owned()));
            }
        }
        if pos != body.len() {
            return Err(bad("data after the end of the aws-chunked body"));
        }

        match self.payload {
            Payload::StreamingSigned if !trailers.is_empty() || trailer_signature.is_some() => {
                return Err(bad("trailer in a payload declared without one"));
            }
            Payload::StreamingSignedTrailer if !trailers.is_empty() || trailer_signature.is_some() => {
                let mut canonical =
                    Vec::with_capacity(trailers.iter().map(|(n, v)| n.len() + v.len() + 2).sum());
                for (n, v) in &trailers {
                    canonical.extend_from_slice(n.as_bytes());
                    canonical.push(b':');
                    canonical.extend_from_slice(v.as_bytes());
                    canonical.push(b'\n');
                }
                signer.trailer_string_to_sign(&canonical);
                signer
                    .check(trailer_signature.flatten().as_ref())
                    .map_err(|string_to_sign| SigError::TrailerSignatureDoesNotMatch { string_to_sign })?;
            }
            _ => {}
        }

        if payload.len() as u64 != declared {
            return Err(SigError::DecodedLengthMismatch {
                declared,
                actual: payload.len() as u64,
            });
        }
        if let Some(names) = &self.trailer {
            for name in names.split(',').map(str::trim).filter(|n| !n.is_empty()) {
                if !trailers.iter().any(|(n, _)| n.eq_ignore_ascii_case(name)) {
                    return Err(SigError::MissingTrailer {
                        name: name.to_ascii_lowercase(),
                    });
                }
            }
        }
        let mut checksum = None;
        for (name, value) in &trailers {
            if let Some(algorithm) = ChecksumAlgorithm::from_header_name(name) {
                verify_checksum(algorithm, value, &payload)?;
                checksum = Some(algorithm);
            }
        }
        Ok(Decoded {
            payload,
            trailers,
            checksum,
        })
    }
}
