//! S3 flexible checksums (`x-amz-checksum-*`): CRC32, CRC32C, CRC64/NVME, SHA-1 and SHA-256,
//! each sent as the base64 of the big-endian digest.

use std::fmt;

use sha1::Sha1;
use sha2::{Digest, Sha256};

use crate::encode::base64;

/// A checksum algorithm S3 clients send in `x-amz-checksum-<name>` headers or trailers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ChecksumAlgorithm {
    /// CRC-32 (ISO-HDLC, the zlib one): `x-amz-checksum-crc32`.
    Crc32,
    /// CRC-32C (Castagnoli): `x-amz-checksum-crc32c`.
    Crc32c,
    /// CRC-64/NVME: `x-amz-checksum-crc64nvme`.
    Crc64Nvme,
    /// SHA-1: `x-amz-checksum-sha1`.
    Sha1,
    /// SHA-256: `x-amz-checksum-sha256`.
    Sha256,
}

impl ChecksumAlgorithm {
    /// All supported algorithms.
    pub const ALL: [Self; 5] = [
        Self::Crc32,
        Self::Crc32c,
        Self::Crc64Nvme,
        Self::Sha1,
        Self::Sha256,
    ];

    /// The algorithm of a header or trailer name such as `x-amz-checksum-crc32` (any case).
    pub fn from_header_name(name: &str) -> Option<Self> {
        const PREFIX: &str = "x-amz-checksum-";
        let alg = name
            .get(PREFIX.len()..)
            .filter(|_| name.as_bytes()[..PREFIX.len()].eq_ignore_ascii_case(PREFIX.as_bytes()))?;
        Self::ALL.into_iter().find(|a| a.name().eq_ignore_ascii_case(alg))
    }

    /// The lower-case algorithm name as it appears in header names (`crc32`, `crc64nvme`, ...).
    pub fn name(self) -> &'static str {
        match self {
            Self::Crc32 => "crc32",
            Self::Crc32c => "crc32c",
            Self::Crc64Nvme => "crc64nvme",
            Self::Sha1 => "sha1",
            Self::Sha256 => "sha256",
        }
    }

    /// The header name, e.g. `x-amz-checksum-crc32`.
    pub fn header_name(self) -> &'static str {
        match self {
            Self::Crc32 => "x-amz-checksum-crc32",
            Self::Crc32c => "x-amz-checksum-crc32c",
            Self::Crc64Nvme => "x-amz-checksum-crc64nvme",
            Self::Sha1 => "x-amz-checksum-sha1",
            Self::Sha256 => "x-amz-checksum-sha256",
        }
    }

    /// The name AWS uses in messages (`CRC32`, `CRC64NVME`, `SHA256`, ...).
    pub fn display_name(self) -> &'static str {
        match self {
            Self::Crc32 => "CRC32",
            Self::Crc32c => "CRC32C",
            Self::Crc64Nvme => "CRC64NVME",
            Self::Sha1 => "SHA1",
            Self::Sha256 => "SHA256",
        }
    }

    /// The base64 checksum of `data`, as a client would send it.
    pub fn compute(self, data: &[u8]) -> String {
        let mut h = Checksummer::new(self);
        h.update(data);
        h.finish()
    }
}

impl fmt::Display for ChecksumAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.display_name())
    }
}

/// An incremental checksum computation.
#[derive(Clone)]
pub struct Checksummer {
    state: State,
}

#[derive(Clone)]
enum State {
    Crc32(crc32fast::Hasher),
    Crc32c(u32),
    Crc64(u64),
    Sha1(Sha1),
    Sha256(Sha256),
}

impl fmt::Debug for Checksummer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Checksummer")
            .field("algorithm", &self.algorithm())
            .finish()
    }
}

impl Checksummer {
    /// Starts a checksum of `algorithm`.
    pub fn new(algorithm: ChecksumAlgorithm) -> Self {
        let state = match algorithm {
            ChecksumAlgorithm::Crc32 => State::Crc32(crc32fast::Hasher::new()),
            ChecksumAlgorithm::Crc32c => State::Crc32c(!0),
            ChecksumAlgorithm::Crc64Nvme => State::Crc64(!0),
            ChecksumAlgorithm::Sha1 => State::Sha1(Sha1::new()),
            ChecksumAlgorithm::Sha256 => State::Sha256(Sha256::new()),
        };
        Self { state }
    }

    /// The algorithm being computed.
    pub fn algorithm(&self) -> ChecksumAlgorithm {
        match self.state {
            State::Crc32(_) => ChecksumAlgorithm::Crc32,
            State::Crc32c(_) => ChecksumAlgorithm::Crc32c,
            State::Crc64(_) => ChecksumAlgorithm::Crc64Nvme,
            State::Sha1(_) => ChecksumAlgorithm::Sha1,
            State::Sha256(_) => ChecksumAlgorithm::Sha256,
        }
    }

    /// Feeds `data`.
    pub fn update(&mut self, data: &[u8]) {
        match &mut self.state {
            State::Crc32(h) => h.update(data),
            State::Crc32c(c) => *c = crc32c_update(*c, data),
            State::Crc64(c) => *c = crc64_update(*c, data),
            State::Sha1(h) => h.update(data),
            State::Sha256(h) => h.update(data),
        }
    }

    /// The base64 of the big-endian digest.
    pub fn finish(self) -> String {
        match self.state {
            State::Crc32(h) => base64(&h.finalize().to_be_bytes()),
            State::Crc32c(c) => base64(&(!c).to_be_bytes()),
            State::Crc64(c) => base64(&(!c).to_be_bytes()),
            State::Sha1(h) => base64(&h.finalize()),
            State::Sha256(h) => base64(&h.finalize()),
        }
    }
}

const CRC32C_POLY: u32 = 0x82F6_3B78;
const CRC64NVME_POLY: u64 = 0x9A6C_9329_AC4B_C9B5;

const fn crc32_tables(poly: u32) -> [[u32; 256]; 8] {
    let mut t = [[0u32; 256]; 8];
    let mut i = 0;
    while i < 256 {
        let mut c = i as u32;
        let mut k = 0;
        while k < 8 {
            c = if c & 1 != 0 { (c >> 1) ^ poly } else { c >> 1 };
            k += 1;
        }
        t[0][i] = c;
        i += 1;
    }
    let mut s = 1;
    while s < 8 {
        let mut i = 0;
        while i < 256 {
            let prev = t[s - 1][i];
            t[s][i] = (prev >> 8) ^ t[0][(prev & 0xff) as usize];
            i += 1;
        }
        s += 1;
    }
    t
}

const fn crc64_tables(poly: u64) -> [[u64; 256]; 8] {
    let mut t = [[0u64; 256]; 8];
    let mut i = 0;
    while i < 256 {
        let mut c = i as u64;
        let mut k = 0;
        while k < 8 {
            c = if c & 1 != 0 { (c >> 1) ^ poly } else { c >> 1 };
            k += 1;
        }
        t[0][i] = c;
        i += 1;
    }
    let mut s = 1;
    while s < 8 {
        let mut i = 0;
        while i < 256 {
            let prev = t[s - 1][i];
            t[s][i] = (prev >> 8) ^ t[0][(prev & 0xff) as usize];
            i += 1;
        }
        s += 1;
    }
    t
}

static CRC32C_TABLES: [[u32; 256]; 8] = crc32_tables(CRC32C_POLY);
static CRC64_TABLES: [[u64; 256]; 8] = crc64_tables(CRC64NVME_POLY);

/// Slice-by-8 reflected CRC-32C update on the raw (pre-inverted) register.
fn crc32c_update(mut crc: u32, data: &[u8]) -> u32 {
    let t = &CRC32C_TABLES;
    let mut chunks = data.chunks_exact(8);
    for b in &mut chunks {
        let lo = crc ^ u32::from_le_bytes([b[0], b[1], b[2], b[3]]);
        let hi = u32::from_le_bytes([b[4], b[5], b[6], b[7]]);
        crc = t[7][(lo & 0xff) as usize]
            ^ t[6][((lo >> 8) & 0xff) as usize]
            ^ t[5][((lo >> 16) & 0xff) as usize]
            ^ t[4][(lo >> 24) as usize]
            ^ t[3][(hi & 0xff) as usize]
            ^ t[2][((hi >> 8) & 0xff) as usize]
            ^ t[1][((hi >> 16) & 0xff) as usize]
            ^ t[0][(hi >> 24) as usize];
    }
    for &b in chunks.remainder() {
        crc = (crc >> 8) ^ t[0][((crc ^ u32::from(b)) & 0xff) as usize];
    }
    crc
}

/// Slice-by-8 reflected CRC-64/NVME update on the raw (pre-inverted) register.
fn crc64_update(mut crc: u64, data: &[u8]) -> u64 {
    let t = &CRC64_TABLES;
    let mut chunks = data.chunks_exact(8);
    for b in &mut chunks {
        let v = crc ^ u64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]);
        crc = t[7][(v & 0xff) as usize]
            ^ t[6][((v >> 8) & 0xff) as usize]
            ^ t[5][((v >> 16) & 0xff) as usize]
            ^ t[4][((v >> 24) & 0xff) as usize]
            ^ t[3][((v >> 32) & 0xff) as usize]
            ^ t[2][((v >> 40) & 0xff) as usize]
            ^ t[1][((v >> 48) & 0xff) as usize]
            ^ t[0][(v >> 56) as usize];
    }
    for &b in chunks.remainder() {
        crc = (crc >> 8) ^ t[0][((crc ^ u64::from(b)) & 0xff) as usize];
    }
    crc
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn check_values() {
        // The catalogue "check" value of each CRC is its checksum of "123456789".
        let check = b"123456789";
        let crc = |a: ChecksumAlgorithm| a.compute(check);
        assert_eq!(
            crc(ChecksumAlgorithm::Crc32),
            base64(&0xCBF4_3926u32.to_be_bytes())
        );
        assert_eq!(
            crc(ChecksumAlgorithm::Crc32c),
            base64(&0xE306_9283u32.to_be_bytes())
        );
        assert_eq!(
            crc(ChecksumAlgorithm::Crc64Nvme),
            base64(&0xAE8B_1486_0A79_9888u64.to_be_bytes())
        );
        // Captured from awscli (research notes §2.6): crc32 of "hello world".
        assert_eq!(ChecksumAlgorithm::Crc32.compute(b"hello world"), "DUoRhQ==");
        assert_eq!(
            ChecksumAlgorithm::Sha256.compute(b""),
            "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="
        );
        assert_eq!(
            ChecksumAlgorithm::Sha1.compute(b""),
            "2jmj7l5rSw0yVb/vlWAYkK/YBwk="
        );
    }

    #[test]
    fn slicing_matches_bytewise() {
        let data: Vec<u8> = (0..1000u32).map(|i| (i * 31 + 7) as u8).collect();
        for split in [0, 1, 7, 8, 9, 500, 999, 1000] {
            let mut a = Checksummer::new(ChecksumAlgorithm::Crc32c);
            a.update(&data[..split]);
            a.update(&data[split..]);
            assert_eq!(a.finish(), ChecksumAlgorithm::Crc32c.compute(&data));
            let mut b = Checksummer::new(ChecksumAlgorithm::Crc64Nvme);
            b.update(&data[..split]);
            b.update(&data[split..]);
            assert_eq!(b.finish(), ChecksumAlgorithm::Crc64Nvme.compute(&data));
        }
        let mut c = !0u32;
        for &b in &data {
            c = (c >> 8) ^ CRC32C_TABLES[0][((c ^ u32::from(b)) & 0xff) as usize];
        }
        assert_eq!(
            base64(&(!c).to_be_bytes()),
            ChecksumAlgorithm::Crc32c.compute(&data)
        );
    }

    #[test]
    fn names() {
        assert_eq!(
            ChecksumAlgorithm::from_header_name("X-Amz-Checksum-CRC32"),
            Some(ChecksumAlgorithm::Crc32)
        );
        assert_eq!(
            ChecksumAlgorithm::from_header_name("x-amz-checksum-crc64nvme"),
            Some(ChecksumAlgorithm::Crc64Nvme)
        );
        assert_eq!(ChecksumAlgorithm::from_header_name("x-amz-checksum-md5"), None);
        assert_eq!(ChecksumAlgorithm::from_header_name("x-amz-checksum"), None);
        assert_eq!(ChecksumAlgorithm::from_header_name("x-amz-checksum-é"), None);
        for a in ChecksumAlgorithm::ALL {
            assert_eq!(ChecksumAlgorithm::from_header_name(a.header_name()), Some(a));
        }
    }
}
