//! Random identifiers in AWS's shapes: access keys, secrets, unique ids, tokens.

const UPPER_ALNUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
const SECRET_CHARS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

fn random_bytes<const N: usize>() -> [u8; N] {
    let mut buf = [0u8; N];
    // SECURITY: the OS generator; failing to read it is unrecoverable for key generation.
    if getrandom::fill(&mut buf).is_err() {
        std::process::abort();
    }
    buf
}

fn from_alphabet(alphabet: &[u8], n: usize) -> String {
    let mut out = String::with_capacity(n);
    let mut pool = random_bytes::<64>();
    let mut i = 0usize;
    while out.len() < n {
        if i == pool.len() {
            pool = random_bytes::<64>();
            i = 0;
        }
        let b = pool[i] as usize;
        i += 1;
        // Rejection sampling keeps the distribution uniform.
        let limit = 256 - (256 % alphabet.len());
        if b < limit {
            out.push(alphabet[b % alphabet.len()] as char);
        }
    }
    out
}

/// An id with an AWS prefix: `AKIA` (access key), `ASIA` (temporary key), `AIDA` (user),
/// `AROA` (role), `AGPA` (group), `ANPA` (managed policy): 20 characters in all.
pub fn aws_id(prefix: &str) -> String {
    format!(
        "{prefix}{}",
        from_alphabet(UPPER_ALNUM, 20usize.saturating_sub(prefix.len()))
    )
}

/// A 40-character secret access key.
pub fn secret_key() -> String {
    from_alphabet(SECRET_CHARS, 40)
}

/// An opaque session token.
pub fn session_token() -> String {
    format!("PTR{}", from_alphabet(SECRET_CHARS, 253))
}

/// A request id (UUID v4 shape).
pub fn request_id() -> String {
    let b = random_bytes::<16>();
    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-4{}-a{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[13..16],
        &hex[17..20],
        &hex[20..32]
    )
}

/// A 12-digit account id.
pub fn account_id() -> String {
    let digits = from_alphabet(b"0123456789", 12);
    match digits.strip_prefix('0') {
        Some(rest) => format!("1{rest}"),
        None => digits,
    }
}

/// A strong random password that satisfies AWS's default password policy.
pub fn password(len: usize) -> String {
    let body = from_alphabet(
        b"ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789!@#%^*-_=+",
        len.saturating_sub(4),
    );
    format!("{body}Aa9!")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes() {
        let k = aws_id("AKIA");
        assert_eq!(k.len(), 20);
        assert!(k.starts_with("AKIA"));
        assert_eq!(secret_key().len(), 40);
        assert_eq!(account_id().len(), 12);
        assert_eq!(request_id().len(), 36);
        assert_ne!(aws_id("AKIA"), aws_id("AKIA"));
    }
}
