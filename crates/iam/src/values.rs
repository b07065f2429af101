//! Value parsers for IAM condition operators: numbers, dates, base64 and
//! IP address ranges (CIDR).
//!
//! All parsers are strict and return `None` for anything they do not
//! understand; the caller decides what a failed parse means for the condition.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

// ---------------------------------------------------------------------------
// Numbers
// ---------------------------------------------------------------------------

/// Parses a decimal number: optional `-` or `+`, one or more digits, an
/// optional fraction (`.` followed by one or more digits) and an optional
/// exponent (`e`/`E`, optional sign, one or more digits). No surrounding
/// whitespace, no `inf`/`NaN`, no hex. Values that overflow to infinity are
/// rejected.
pub(crate) fn parse_number(s: &str) -> Option<f64> {
    let b = s.as_bytes();
    let mut i = 0;
    if matches!(b.first(), Some(b'+' | b'-')) {
        i = 1;
    }
    let int_digits = count_digits(&b[i..]);
    if int_digits == 0 {
        return None;
    }
    i += int_digits;
    if b.get(i) == Some(&b'.') {
        i += 1;
        let frac_digits = count_digits(&b[i..]);
        if frac_digits == 0 {
            return None;
        }
        i += frac_digits;
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(b.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        let exp_digits = count_digits(&b[i..]);
        if exp_digits == 0 {
            return None;
        }
        i += exp_digits;
    }
    if i != b.len() {
        return None;
    }
    s.parse::<f64>().ok().filter(|v| v.is_finite())
}

fn count_digits(b: &[u8]) -> usize {
    b.iter().take_while(|c| c.is_ascii_digit()).count()
}

// ---------------------------------------------------------------------------
// Dates
// ---------------------------------------------------------------------------

const MS_PER_SECOND: i64 = 1000;
const MS_PER_MINUTE: i64 = 60 * MS_PER_SECOND;
const MS_PER_HOUR: i64 = 60 * MS_PER_MINUTE;
const MS_PER_DAY: i64 = 24 * MS_PER_HOUR;

/// Parses a date as accepted by the IAM `Date*` condition operators and
/// returns milliseconds since the Unix epoch (UTC).
///
/// Accepted forms:
/// - ISO 8601 extended: `YYYY-MM-DD`, `YYYY-MM-DDThh:mm`, `YYYY-MM-DDThh:mm:ss`,
///   the latter with optional fractional seconds (`.` or `,`, any number of
///   digits, truncated to milliseconds); the time forms take an optional zone
///   `Z`, `z`, `±hh:mm`, `±hhmm` or `±hh` (no zone means UTC). `t` is accepted
///   for `T`.
/// - ISO 8601 basic: `YYYYMMDDThhmmss`, with the same optional fraction and zone
///   (typically `Z`, as in `20240101T120000Z`).
/// - Epoch seconds: an optionally negative integer or decimal (`1700000000`,
///   `1700000000.5`, `-5`), fraction truncated to milliseconds.
///
/// Ranges are validated: month 1-12, day valid for the month (leap years
/// included), hour 0-23 (`24:00[:00[.000]]` is accepted as the end of the
/// day), minute 0-59, second 0-60 (a leap second rolls over into the next
/// minute).
pub(crate) fn parse_date(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() >= 5 && b[4] == b'-' && count_digits(&b[..4]) == 4 {
        return parse_iso_extended(b);
    }
    if b.len() >= 9 && count_digits(&b[..8]) == 8 && matches!(b[8], b'T' | b't') {
        return parse_iso_basic(b);
    }
    parse_epoch_seconds(b)
}

/// A tiny cursor over ASCII bytes.
struct Cursor<'a> {
    b: &'a [u8],
    i: usize,
}

impl Cursor<'_> {
    fn at_end(&self) -> bool {
        self.i >= self.b.len()
    }

    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }

    fn eat(&mut self, c: u8) -> bool {
        if self.peek() == Some(c) {
            self.i += 1;
            true
        } else {
            false
        }
    }

    /// Reads exactly `n` ASCII digits as a number.
    fn digits(&mut self, n: usize) -> Option<u32> {
        let chunk = self.b.get(self.i..self.i + n)?;
        let mut v = 0u32;
        for &c in chunk {
            if !c.is_ascii_digit() {
                return None;
            }
            v = v * 10 + u32::from(c - b'0');
        }
        self.i += n;
        Some(v)
    }

    /// Reads one or more digits of a fraction and returns them truncated to
    /// milliseconds, plus whether any digit was non-zero.
    fn fraction_ms(&mut self) -> Option<(i64, bool)> {
        let rest = &self.b[self.i..];
        let n = count_digits(rest);
        if n == 0 {
            return None;
        }
        let mut ms = 0i64;
        for k in 0..3 {
            ms *= 10;
            if let Some(&c) = rest[..n].get(k) {
                ms += i64::from(c - b'0');
            }
        }
        let nonzero = rest[..n].iter().any(|&c| c != b'0');
        self.i += n;
        Some((ms, nonzero))
    }
}

/// Wall-clock time of day read from a date string.
struct TimeOfDay {
    hour: u32,
    minute: u32,
    second: u32,
    ms: i64,
    frac_nonzero: bool,
}

fn parse_iso_extended(b: &[u8]) -> Option<i64> {
    let mut c = Cursor { b, i: 0 };
    let year = c.digits(4)?;
    if !c.eat(b'-') {
        return None;
    }
    let month = c.digits(2)?;
    if !c.eat(b'-') {
        return None;
    }
    let day = c.digits(2)?;
    if c.at_end() {
        return to_epoch_ms(year, month, day, &TimeOfDay::MIDNIGHT, 0);
    }
    if !(c.eat(b'T') || c.eat(b't')) {
        return None;
    }
    let hour = c.digits(2)?;
    if !c.eat(b':') {
        return None;
    }
    let minute = c.digits(2)?;
    let mut time = TimeOfDay {
        hour,
        minute,
        second: 0,
        ms: 0,
        frac_nonzero: false,
    };
    if c.eat(b':') {
        time.second = c.digits(2)?;
        if c.eat(b'.') || c.eat(b',') {
            (time.ms, time.frac_nonzero) = c.fraction_ms()?;
        }
    }
    let offset = parse_zone(&mut c)?;
    if !c.at_end() {
        return None;
    }
    to_epoch_ms(year, month, day, &time, offset)
}

fn parse_iso_basic(b: &[u8]) -> Option<i64> {
    let mut c = Cursor { b, i: 0 };
    let year = c.digits(4)?;
    let month = c.digits(2)?;
    let day = c.digits(2)?;
    if !(c.eat(b'T') || c.eat(b't')) {
        return None;
    }
    let mut time = TimeOfDay {
        hour: c.digits(2)?,
        minute: c.digits(2)?,
        second: c.digits(2)?,
        ms: 0,
        frac_nonzero: false,
    };
    if c.eat(b'.') || c.eat(b',') {
        (time.ms, time.frac_nonzero) = c.fraction_ms()?;
    }
    let offset = parse_zone(&mut c)?;
    if !c.at_end() {
        return None;
    }
    to_epoch_ms(year, month, day, &time, offset)
}

/// Parses an optional zone designator and returns its offset from UTC in
/// minutes (east positive). No designator means UTC.
fn parse_zone(c: &mut Cursor<'_>) -> Option<i64> {
    match c.peek() {
        None => Some(0),
        Some(b'Z' | b'z') => {
            c.i += 1;
            Some(0)
        }
        Some(sign @ (b'+' | b'-')) => {
            c.i += 1;
            let hours = c.digits(2)?;
            let minutes = if c.eat(b':') {
                c.digits(2)?
            } else if c.at_end() {
                0
            } else {
                c.digits(2)?
            };
            if hours > 23 || minutes > 59 {
                return None;
            }
            let total = i64::from(hours * 60 + minutes);
            Some(if sign == b'-' { -total } else { total })
        }
        Some(_) => None,
    }
}

impl TimeOfDay {
    const MIDNIGHT: TimeOfDay = TimeOfDay {
        hour: 0,
        minute: 0,
        second: 0,
        ms: 0,
        frac_nonzero: false,
    };
}

fn to_epoch_ms(year: u32, month: u32, day: u32, t: &TimeOfDay, offset_minutes: i64) -> Option<i64> {
    if !(1..=12).contains(&month) || day == 0 || day > days_in_month(year, month) {
        return None;
    }
    if t.hour == 24 {
        if t.minute != 0 || t.second != 0 || t.frac_nonzero {
            return None;
        }
    } else if t.hour > 23 {
        return None;
    }
    if t.minute > 59 || t.second > 60 {
        return None;
    }
    let days = days_from_civil(i64::from(year), month, day);
    let ms = days * MS_PER_DAY
        + i64::from(t.hour) * MS_PER_HOUR
        + i64::from(t.minute) * MS_PER_MINUTE
        + i64::from(t.second) * MS_PER_SECOND
        + t.ms
        - offset_minutes * MS_PER_MINUTE;
    Some(ms)
}

fn is_leap_year(year: u32) -> bool {
    (year.is_multiple_of(4) && !year.is_multiple_of(100)) || year.is_multiple_of(400)
}

fn days_in_month(year: u32, month: u32) -> u32 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if is_leap_year(year) => 29,
        2 => 28,
        _ => 0,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's
/// `days_from_civil`). `month` is 1-12, `day` 1-31.
fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400; // [0, 399]
    let mp = i64::from((month + 9) % 12); // March = 0
    let doy = (153 * mp + 2) / 5 + i64::from(day) - 1; // [0, 365]
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy; // [0, 146096]
    era * 146_097 + doe - 719_468
}

/// `[-]digits[.digits]` seconds since the epoch, in milliseconds.
fn parse_epoch_seconds(b: &[u8]) -> Option<i64> {
    let mut c = Cursor { b, i: 0 };
    let negative = c.eat(b'-');
    let n = count_digits(&b[c.i..]);
    if n == 0 {
        return None;
    }
    let mut secs: i64 = 0;
    for &d in &b[c.i..c.i + n] {
        secs = secs.checked_mul(10)?.checked_add(i64::from(d - b'0'))?;
    }
    c.i += n;
    let mut ms = 0;
    if c.eat(b'.') {
        (ms, _) = c.fraction_ms()?;
    }
    if !c.at_end() {
        return None;
    }
    let total = secs.checked_mul(MS_PER_SECOND)?.checked_add(ms)?;
    Some(if negative { -total } else { total })
}

// ---------------------------------------------------------------------------
// Base64
// ---------------------------------------------------------------------------

/// Decodes standard base64 (alphabet `A-Z a-z 0-9 + /`). Padding is
/// optional, but if present it must be exactly right (`=` or `==` making the
/// length a multiple of four). No whitespace or other characters are allowed,
/// and the unused bits of the last character must be zero (canonical
/// encoding), so every byte string has exactly one accepted spelling with and
/// one without padding.
pub(crate) fn decode_base64(s: &str) -> Option<Vec<u8>> {
    let b = s.as_bytes();
    let pad = b.iter().rev().take_while(|&&c| c == b'=').count();
    if pad > 2 {
        return None;
    }
    let data = &b[..b.len() - pad];
    let rem = data.len() % 4;
    if rem == 1 {
        return None;
    }
    if pad > 0 && (!b.len().is_multiple_of(4) || rem + pad != 4) {
        return None;
    }
    let mut out = Vec::with_capacity(data.len() / 4 * 3 + 2);
    let mut chunks = data.chunks_exact(4);
    for chunk in &mut chunks {
        let n = (u32::from(sextet(chunk[0])?) << 18)
            | (u32::from(sextet(chunk[1])?) << 12)
            | (u32::from(sextet(chunk[2])?) << 6)
            | u32::from(sextet(chunk[3])?);
        out.extend_from_slice(&n.to_be_bytes()[1..]);
    }
    match *chunks.remainder() {
        [] => {}
        [a, b2] => {
            let (a, b2) = (sextet(a)?, sextet(b2)?);
            if b2 & 0x0F != 0 {
                return None;
            }
            out.push((a << 2) | (b2 >> 4));
        }
        [a, b2, c] => {
            let (a, b2, c) = (sextet(a)?, sextet(b2)?, sextet(c)?);
            if c & 0x03 != 0 {
                return None;
            }
            out.push((a << 2) | (b2 >> 4));
            out.push((b2 << 4) | (c >> 2));
        }
        _ => return None,
    }
    Some(out)
}

fn sextet(c: u8) -> Option<u8> {
    match c {
        b'A'..=b'Z' => Some(c - b'A'),
        b'a'..=b'z' => Some(c - b'a' + 26),
        b'0'..=b'9' => Some(c - b'0' + 52),
        b'+' => Some(62),
        b'/' => Some(63),
        _ => None,
    }
}

// ---------------------------------------------------------------------------
// CIDR
// ---------------------------------------------------------------------------

/// An IPv4 or IPv6 address range, with host bits masked off.
///
/// An IPv4-mapped IPv6 range (`::ffff:a.b.c.d/n` with `n >= 96`) is stored as
/// the equivalent IPv4 range, consistent with [`Cidr::contains`] treating
/// IPv4-mapped addresses as IPv4.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Cidr {
    /// The network address; IPv4 addresses use the low 32 bits.
    addr: u128,
    /// Prefix length: 0-32 for IPv4, 0-128 for IPv6.
    prefix: u8,
    is_v4: bool,
}

impl Cidr {
    /// Parses `address/prefix` or a bare address (a single host: `/32` for
    /// IPv4, `/128` for IPv6). The prefix is decimal digits only. Returns
    /// `None` for anything malformed or a prefix longer than the address.
    pub(crate) fn parse(s: &str) -> Option<Cidr> {
        let (addr_text, prefix_text) = match s.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s, None),
        };
        let prefix = match prefix_text {
            None => None,
            Some(p) => {
                if p.is_empty() || p.len() > 3 || !p.bytes().all(|c| c.is_ascii_digit()) {
                    return None;
                }
                Some(p.parse::<u8>().ok()?)
            }
        };
        match addr_text.parse::<IpAddr>().ok()? {
            IpAddr::V4(v4) => Cidr::new_v4(v4, prefix.unwrap_or(32)),
            IpAddr::V6(v6) => {
                let prefix = prefix.unwrap_or(128);
                match v6.to_ipv4_mapped() {
                    Some(v4) if prefix >= 96 => Cidr::new_v4(v4, prefix - 96),
                    _ => Cidr::new_v6(v6, prefix),
                }
            }
        }
    }

    fn new_v4(addr: Ipv4Addr, prefix: u8) -> Option<Cidr> {
        if prefix > 32 {
            return None;
        }
        Some(Cidr {
            addr: u128::from(u32::from(addr)) & mask(32, prefix),
            prefix,
            is_v4: true,
        })
    }

    fn new_v6(addr: Ipv6Addr, prefix: u8) -> Option<Cidr> {
        if prefix > 128 {
            return None;
        }
        Some(Cidr {
            addr: u128::from(addr) & mask(128, prefix),
            prefix,
            is_v4: false,
        })
    }

    /// Whether the bare IPv4 or IPv6 address `ip` is in this range. An
    /// IPv4-mapped IPv6 address (`::ffff:a.b.c.d`) is treated as the IPv4
    /// address. Unparsable input never matches, and IPv4 addresses never
    /// match IPv6 ranges or vice versa.
    pub(crate) fn contains(&self, ip: &str) -> bool {
        let (value, is_v4) = match ip.parse::<IpAddr>() {
            Ok(IpAddr::V4(v4)) => (u128::from(u32::from(v4)), true),
            Ok(IpAddr::V6(v6)) => match v6.to_ipv4_mapped() {
                Some(v4) => (u128::from(u32::from(v4)), true),
                None => (u128::from(v6), false),
            },
            Err(_) => return false,
        };
        if is_v4 != self.is_v4 {
            return false;
        }
        let width = if self.is_v4 { 32 } else { 128 };
        value & mask(width, self.prefix) == self.addr
    }
}

/// The network mask of a `prefix`-bit prefix in a `width`-bit address
/// (`width` is 32 or 128, `prefix <= width`).
fn mask(width: u8, prefix: u8) -> u128 {
    if prefix == 0 {
        return 0;
    }
    let all = if width >= 128 {
        u128::MAX
    } else {
        (1u128 << width) - 1
    };
    (u128::MAX << (width - prefix)) & all
}

#[cfg(test)]
mod tests {
    use super::*;

    // ---- parse_number ----------------------------------------------------

    #[test]
    fn numbers_valid() {
        assert_eq!(parse_number("0"), Some(0.0));
        assert_eq!(parse_number("1"), Some(1.0));
        assert_eq!(parse_number("1"), parse_number("1.0"));
        assert_eq!(parse_number("1.000"), Some(1.0));
        assert_eq!(parse_number("-1"), Some(-1.0));
        assert_eq!(parse_number("+1"), Some(1.0));
        assert_eq!(parse_number("-1.5"), Some(-1.5));
        assert_eq!(parse_number("007"), Some(7.0));
        assert_eq!(parse_number("1e3"), Some(1000.0));
        assert_eq!(parse_number("1E3"), Some(1000.0));
        assert_eq!(parse_number("1.5e+3"), Some(1500.0));
        assert_eq!(parse_number("-1.5e-3"), Some(-0.0015));
        assert_eq!(parse_number("+2.5E0"), Some(2.5));
        assert_eq!(
            parse_number("12345678901234567890"),
            Some(12_345_678_901_234_567_890.0)
        );
        assert_eq!(parse_number("0.1"), Some(0.1));
        assert_eq!(parse_number("1e-400"), Some(0.0)); // underflow is fine
        // -0 compares equal to 0.
        assert_eq!(parse_number("-0"), Some(0.0));
    }

    #[test]
    fn numbers_invalid() {
        for s in [
            "", " ", "abc", "1.2.3", "inf", "-inf", "infinity", "Infinity", "NaN", "nan", "+", "-", "+-1",
            "--1", " 1", "1 ", "1.", ".5", "-.5", "1e", "1e+", "e5", "1e5.0", "0x10", "1_000", "1,5", "١",
            "1e999", "-1e999", "1f", "1.0d",
        ] {
            assert_eq!(parse_number(s), None, "{s:?}");
        }
    }

    // ---- parse_date ------------------------------------------------------

    const JAN_1_2024: i64 = 1_704_067_200_000;

    #[test]
    fn dates_extended() {
        assert_eq!(parse_date("1970-01-01"), Some(0));
        assert_eq!(parse_date("2024-01-01"), Some(JAN_1_2024));
        assert_eq!(parse_date("2024-01-01T00:00"), Some(JAN_1_2024));
        assert_eq!(parse_date("2024-01-01T00:00:00"), Some(JAN_1_2024));
        assert_eq!(parse_date("2024-01-01T00:00:00Z"), Some(JAN_1_2024));
        assert_eq!(parse_date("2024-01-01t00:00:00z"), Some(JAN_1_2024));
        assert_eq!(parse_date("2024-01-01T12:34"), Some(JAN_1_2024 + 45_240_000));
        assert_eq!(parse_date("2024-01-01T12:34Z"), Some(JAN_1_2024 + 45_240_000));
        assert_eq!(parse_date("2024-01-01T12:34:56Z"), Some(JAN_1_2024 + 45_296_000));
        assert_eq!(parse_date("2023-11-14T22:13:20Z"), Some(1_700_000_000_000));
        assert_eq!(parse_date("2000-02-29T23:59:59Z"), Some(951_868_799_000));
        assert_eq!(parse_date("1969-12-31T23:59:59Z"), Some(-1000));
        assert_eq!(parse_date("1900-01-01"), Some(-2_208_988_800_000));
        assert_eq!(parse_date("0000-01-01"), Some(-62_167_219_200_000));
        assert_eq!(parse_date("9999-12-31T23:59:59.999Z"), Some(253_402_300_799_999));
    }

    #[test]
    fn dates_fractional_seconds() {
        assert_eq!(parse_date("2024-01-01T00:00:00.5Z"), Some(JAN_1_2024 + 500));
        assert_eq!(parse_date("2024-01-01T00:00:00.05Z"), Some(JAN_1_2024 + 50));
        assert_eq!(parse_date("2024-01-01T00:00:00.123Z"), Some(JAN_1_2024 + 123));
        assert_eq!(
            parse_date("2024-01-01T00:00:00.123999999Z"),
            Some(JAN_1_2024 + 123)
        );
        assert_eq!(parse_date("2024-01-01T00:00:00.0009"), Some(JAN_1_2024));
        assert_eq!(parse_date("2024-01-01T00:00:00,25Z"), Some(JAN_1_2024 + 250));
        assert_eq!(
            parse_date("2024-01-01T00:00:00.123+01:00"),
            Some(JAN_1_2024 + 123 - 3_600_000)
        );
        // A fraction needs digits, and only follows seconds.
        assert_eq!(parse_date("2024-01-01T00:00:00.Z"), None);
        assert_eq!(parse_date("2024-01-01T00:00:00."), None);
        assert_eq!(parse_date("2024-01-01T00:00.5"), None);
    }

    #[test]
    fn dates_zones() {
        let noon = JAN_1_2024 + 12 * 3_600_000;
        assert_eq!(parse_date("2024-01-01T12:00:00+00:00"), Some(noon));
        assert_eq!(parse_date("2024-01-01T12:00:00-00:00"), Some(noon));
        assert_eq!(
            parse_date("2024-01-01T12:00:00+02:00"),
            Some(noon - 2 * 3_600_000)
        );
        assert_eq!(
            parse_date("2024-01-01T12:00:00-05:30"),
            Some(noon + 5 * 3_600_000 + 30 * 60_000)
        );
        assert_eq!(
            parse_date("2024-01-01T12:00:00+0530"),
            Some(noon - 5 * 3_600_000 - 30 * 60_000)
        );
        assert_eq!(parse_date("2024-01-01T12:00:00-08"), Some(noon + 8 * 3_600_000));
        assert_eq!(parse_date("2024-01-01T12:00+01:00"), Some(noon - 3_600_000));
        assert_eq!(parse_date("2024-01-01T12:00-0100"), Some(noon + 3_600_000));
        // Crossing the day boundary.
        assert_eq!(
            parse_date("2024-01-01T00:30:00+01:00"),
            Some(JAN_1_2024 - 30 * 60_000)
        );
        // Bad zones.
        for s in [
            "2024-01-01T12:00:00+24:00",
            "2024-01-01T12:00:00+01:60",
            "2024-01-01T12:00:00+1",
            "2024-01-01T12:00:00+1:00",
            "2024-01-01T12:00:00+01:0",
            "2024-01-01T12:00:00+010",
            "2024-01-01T12:00:00+01000",
            "2024-01-01T12:00:00+",
            "2024-01-01T12:00:00ZZ",
            "2024-01-01T12:00:00 Z",
            "2024-01-01T12:00:00UTC",
            "2024-01-01T12:00:00GMT",
            "2024-01-01Z",
            "2024-01-01+01:00",
        ] {
            assert_eq!(parse_date(s), None, "{s:?}");
        }
    }

    #[test]
    fn dates_basic_format() {
        assert_eq!(parse_date("20240101T000000Z"), Some(JAN_1_2024));
        assert_eq!(parse_date("20231114T221320Z"), Some(1_700_000_000_000));
        assert_eq!(parse_date("20231114T221320"), Some(1_700_000_000_000));
        assert_eq!(parse_date("20231114t221320z"), Some(1_700_000_000_000));
        assert_eq!(parse_date("20231114T221320.250Z"), Some(1_700_000_000_250));
        assert_eq!(parse_date("20231114T231320+0100"), Some(1_700_000_000_000));
        for s in [
            "20231114T2213Z",
            "20231114T22132Z",
            "20231114T2213200Z",
            "20231114 221320Z",
            "20231314T221320Z",
            "20230229T000000Z",
            "20231114T251320Z",
            "20231114T",
        ] {
            assert_eq!(parse_date(s), None, "{s:?}");
        }
    }

    #[test]
    fn dates_epoch_seconds() {
        assert_eq!(parse_date("0"), Some(0));
        assert_eq!(parse_date("1700000000"), Some(1_700_000_000_000));
        assert_eq!(parse_date("1700000000.5"), Some(1_700_000_000_500));
        assert_eq!(parse_date("1700000000.123456"), Some(1_700_000_000_123));
        assert_eq!(parse_date("1700000000.000"), Some(1_700_000_000_000));
        assert_eq!(parse_date("-5"), Some(-5000));
        assert_eq!(parse_date("-5.25"), Some(-5250));
        assert_eq!(parse_date("-0"), Some(0));
        // Not to be mistaken for a year or a basic-format date.
        assert_eq!(parse_date("2024"), Some(2_024_000));
        assert_eq!(parse_date("20240101"), Some(20_240_101_000));
        for s in [
            "",
            "-",
            "+5",
            "1.",
            ".5",
            "1e9",
            "1,5",
            " 1",
            "1 ",
            "0x10",
            "1.2.3",
            "--1",
            "abc",
            "99999999999999999999",
            "9223372036854775807",
        ] {
            assert_eq!(parse_date(s), None, "{s:?}");
        }
    }

    #[test]
    fn dates_range_validation() {
        // Months.
        assert_eq!(parse_date("2024-00-01"), None);
        assert_eq!(parse_date("2024-13-01"), None);
        assert!(parse_date("2024-12-31").is_some());
        // Days per month.
        let month_lengths = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
        for (m, &len) in month_lengths.iter().enumerate() {
            let m = m + 1;
            assert!(
                parse_date(&format!("2023-{m:02}-{len:02}")).is_some(),
                "2023-{m}-{len}"
            );
            assert_eq!(
                parse_date(&format!("2023-{m:02}-{:02}", len + 1)),
                None,
                "2023-{m}-{}",
                len + 1
            );
            assert_eq!(parse_date(&format!("2023-{m:02}-00")), None);
        }
        // Leap years.
        assert!(parse_date("2024-02-29").is_some());
        assert!(parse_date("2000-02-29").is_some());
        assert!(parse_date("2400-02-29").is_some());
        assert_eq!(parse_date("2023-02-29"), None);
        assert_eq!(parse_date("1900-02-29"), None);
        assert_eq!(parse_date("2100-02-29"), None);
        assert_eq!(parse_date("2024-02-30"), None);
        // Time of day.
        assert!(parse_date("2024-01-01T23:59:59").is_some());
        assert_eq!(parse_date("2024-01-01T25:00"), None);
        assert_eq!(parse_date("2024-01-01T12:60"), None);
        assert_eq!(parse_date("2024-01-01T12:00:61"), None);
        assert_eq!(parse_date("2024-01-01T99:99:99"), None);
    }

    #[test]
    fn dates_end_of_day_and_leap_second() {
        let jan_2 = JAN_1_2024 + 86_400_000;
        assert_eq!(parse_date("2024-01-01T24:00"), Some(jan_2));
        assert_eq!(parse_date("2024-01-01T24:00:00"), Some(jan_2));
        assert_eq!(parse_date("2024-01-01T24:00:00Z"), Some(jan_2));
        assert_eq!(parse_date("2024-01-01T24:00:00.000Z"), Some(jan_2));
        assert_eq!(parse_date("2024-12-31T24:00:00Z"), parse_date("2025-01-01"));
        assert_eq!(parse_date("2024-01-01T24:00:01"), None);
        assert_eq!(parse_date("2024-01-01T24:01"), None);
        assert_eq!(parse_date("2024-01-01T24:00:00.001"), None);
        // A leap second rolls over.
        assert_eq!(
            parse_date("2016-12-31T23:59:60Z"),
            parse_date("2017-01-01T00:00:00Z")
        );
        assert_eq!(
            parse_date("2016-12-31T23:59:60.5Z"),
            parse_date("2017-01-01T00:00:00.5Z")
        );
    }

    #[test]
    fn dates_malformed() {
        for s in [
            "2024-1-01",
            "2024-01-1",
            "24-01-01",
            "2024/01/01",
            "2024-01-01 00:00:00",
            "2024-01-01T",
            "2024-01-01T1",
            "2024-01-01T12",
            "2024-01-01T12:",
            "2024-01-01T12:0",
            "2024-01-01T12:00:",
            "2024-01-01T12:00:0",
            "2024-01-01T12:00:000",
            "2024-01-01T12:00:00x",
            "2024-01-01T1200",
            "2024-01-01x",
            " 2024-01-01",
            "2024-01-01 ",
            "+2024-01-01",
            "-2024-01-01",
            "12024-01-01",
            "2024-01-01T12:00:00+01:00:00",
            "2024-01-01T12:00:00.5.5",
            "２０２４-01-01",
            "2024-01-0１",
        ] {
            assert_eq!(parse_date(s), None, "{s:?}");
        }
        // "2024" alone is epoch seconds, not a year.
        assert_eq!(parse_date("2024"), Some(2_024_000));
    }

    #[test]
    fn days_from_civil_matches_day_by_day_iteration() {
        // Walk every day from 1960 to 2100 and check the count is consecutive.
        let mut expected = days_from_civil(1960, 1, 1);
        assert_eq!(expected, -3653);
        for year in 1960..=2100 {
            for month in 1..=12 {
                for day in 1..=days_in_month(year, month) {
                    assert_eq!(
                        days_from_civil(i64::from(year), month, day),
                        expected,
                        "{year}-{month}-{day}"
                    );
                    expected += 1;
                }
            }
        }
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(2000, 3, 1), 11_017);
        assert_eq!(days_from_civil(-1, 12, 31), -719_529);
    }

    #[test]
    fn dates_all_forms_agree() {
        let ms = Some(1_700_000_000_000);
        for s in [
            "1700000000",
            "1700000000.0",
            "2023-11-14T22:13:20Z",
            "2023-11-14T22:13:20",
            "2023-11-14T22:13:20.000Z",
            "2023-11-14T23:13:20+01:00",
            "2023-11-14T23:13:20+0100",
            "2023-11-14T23:13:20+01",
            "2023-11-14T17:13:20-05:00",
            "20231114T221320Z",
        ] {
            assert_eq!(parse_date(s), ms, "{s}");
        }
        assert_eq!(parse_date("2023-11-14T22:13Z"), Some(1_700_000_000_000 - 20_000));
    }

    // ---- decode_base64 ---------------------------------------------------

    #[test]
    fn base64_rfc4648_vectors() {
        let vectors: [(&str, &str, &str); 7] = [
            ("", "", ""),
            ("f", "Zg==", "Zg"),
            ("fo", "Zm8=", "Zm8"),
            ("foo", "Zm9v", "Zm9v"),
            ("foob", "Zm9vYg==", "Zm9vYg"),
            ("fooba", "Zm9vYmE=", "Zm9vYmE"),
            ("foobar", "Zm9vYmFy", "Zm9vYmFy"),
        ];
        for (plain, padded, unpadded) in vectors {
            assert_eq!(
                decode_base64(padded).as_deref(),
                Some(plain.as_bytes()),
                "{padded}"
            );
            assert_eq!(
                decode_base64(unpadded).as_deref(),
                Some(plain.as_bytes()),
                "{unpadded}"
            );
        }
    }

    #[test]
    fn base64_full_alphabet_and_binary() {
        assert_eq!(decode_base64("+/+/"), Some(vec![0xFB, 0xFF, 0xBF]));
        assert_eq!(decode_base64("AAAA"), Some(vec![0, 0, 0]));
        assert_eq!(decode_base64("////"), Some(vec![0xFF, 0xFF, 0xFF]));
        assert_eq!(decode_base64("AP8="), Some(vec![0x00, 0xFF]));
        // Round trip all byte values against a reference encoder.
        let data: Vec<u8> = (0..=255u8).collect();
        for len in 0..data.len() {
            let enc = encode_reference(&data[..len]);
            assert_eq!(decode_base64(&enc).as_deref(), Some(&data[..len]), "{enc}");
            let unpadded = enc.trim_end_matches('=');
            assert_eq!(
                decode_base64(unpadded).as_deref(),
                Some(&data[..len]),
                "{unpadded}"
            );
        }
    }

    fn encode_reference(data: &[u8]) -> String {
        const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        let mut out = String::new();
        for chunk in data.chunks(3) {
            let b = [chunk[0], *chunk.get(1).unwrap_or(&0), *chunk.get(2).unwrap_or(&0)];
            let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
            for k in 0..4 {
                if k <= chunk.len() {
                    out.push(char::from(ALPHABET[((n >> (18 - 6 * k)) & 63) as usize]));
                } else {
                    out.push('=');
                }
            }
        }
        out
    }

    #[test]
    fn base64_invalid() {
        for s in [
            "=",
            "==",
            "===",
            "====",
            "Z",
            "Z===",
            "Zg=",
            "Zg===",
            "Zm8==",
            "Zm9v=",
            "Zm9v====",
            "Zm9vY",
            "Zm9vYg=",
            "Zg==Zg==",
            "Z=g=",
            "Zm=v",
            "Zm9v YmFy",
            " Zm9v",
            "Zm9v\n",
            "Zm9v\r\nYmFy",
            "Zm9v-_",
            "Zm9v_w",
            "Zm9v!",
            "Zm9vé",
            "Zm9v\0",
        ] {
            assert_eq!(decode_base64(s), None, "{s:?}");
        }
    }

    #[test]
    fn base64_rejects_non_canonical_trailing_bits() {
        assert_eq!(decode_base64("Zg=="), Some(b"f".to_vec()));
        assert_eq!(decode_base64("Zh=="), None);
        assert_eq!(decode_base64("Zh"), None);
        assert_eq!(decode_base64("Zm8="), Some(b"fo".to_vec()));
        assert_eq!(decode_base64("Zm9="), None);
        assert_eq!(decode_base64("Zm9"), None);
    }

    // ---- Cidr --------------------------------------------------------------

    fn cidr(s: &str) -> Cidr {
        match Cidr::parse(s) {
            Some(c) => c,
            None => panic!("expected {s:?} to parse as a CIDR"),
        }
    }

    #[test]
    fn cidr_parse_v4() {
        let c = cidr("203.0.113.0/24");
        assert_eq!(
            c,
            Cidr {
                addr: 0xCB00_7100,
                prefix: 24,
                is_v4: true
            }
        );
        // Host bits are masked off.
        assert_eq!(cidr("203.0.113.77/24"), c);
        assert_eq!(
            cidr("203.0.113.7"),
            Cidr {
                addr: 0xCB00_7107,
                prefix: 32,
                is_v4: true
            }
        );
        assert_eq!(cidr("203.0.113.7/32"), cidr("203.0.113.7"));
        assert_eq!(
            cidr("10.1.2.3/0"),
            Cidr {
                addr: 0,
                prefix: 0,
                is_v4: true
            }
        );
        assert_eq!(
            cidr("10.255.2.3/9"),
            Cidr {
                addr: 0x0A80_0000,
                prefix: 9,
                is_v4: true
            }
        );
        assert_eq!(cidr("10.0.0.0/08"), cidr("10.0.0.0/8"));
    }

    #[test]
    fn cidr_parse_v6() {
        let c = cidr("2001:DB8:1234:5678::/64");
        assert_eq!(
            c,
            Cidr {
                addr: 0x2001_0db8_1234_5678_0000_0000_0000_0000,
                prefix: 64,
                is_v4: false
            }
        );
        assert_eq!(cidr("2001:db8:1234:5678:ffff::1/64"), c);
        assert_eq!(
            cidr("::1"),
            Cidr {
                addr: 1,
                prefix: 128,
                is_v4: false
            }
        );
        assert_eq!(
            cidr("::/0"),
            Cidr {
                addr: 0,
                prefix: 0,
                is_v4: false
            }
        );
        assert_eq!(cidr("2001:db8::/128").prefix, 128);
        assert_eq!(
            cidr("2001:db8::ffff/127").addr,
            0x2001_0db8_0000_0000_0000_0000_0000_fffe
        );
    }

    #[test]
    fn cidr_parse_ipv4_mapped_becomes_v4() {
        assert_eq!(cidr("::ffff:203.0.113.7"), cidr("203.0.113.7"));
        assert_eq!(cidr("::ffff:203.0.113.0/120"), cidr("203.0.113.0/24"));
        assert_eq!(cidr("::ffff:cb00:7100/120"), cidr("203.0.113.0/24"));
        assert_eq!(cidr("::ffff:0:0/96"), cidr("0.0.0.0/0"));
        // Shorter prefixes cover more than the mapped space and stay IPv6.
        assert!(!cidr("::ffff:0:0/95").is_v4);
    }

    #[test]
    fn cidr_parse_invalid() {
        for s in [
            "",
            "/",
            "/24",
            "203.0.113.0/",
            "203.0.113.0/33",
            "203.0.113.0/100",
            "203.0.113.0/256",
            "203.0.113.0/-1",
            "203.0.113.0/+24",
            "203.0.113.0/ 24",
            "203.0.113.0/24 ",
            " 203.0.113.0/24",
            "203.0.113.0/24/24",
            "203.0.113.0/2a",
            "203.0.113.0/0024",
            "203.0.113/24",
            "203.0.113.256/24",
            "203.0.113.0.1/24",
            "203.00.113.0/24",
            "2001:db8::/129",
            "2001:db8::/999",
            "2001:db8:::/64",
            "2001:db8::g/64",
            "fe80::1%eth0",
            "fe80::1%eth0/64",
            "[2001:db8::1]",
            "::ffff:203.0.113.0/129",
            "localhost",
            "abc",
            "1.2.3.4:80",
        ] {
            assert_eq!(Cidr::parse(s), None, "{s:?}");
        }
    }

    #[test]
    fn cidr_contains_v4() {
        let c = cidr("203.0.113.0/24");
        assert!(c.contains("203.0.113.0"));
        assert!(c.contains("203.0.113.7"));
        assert!(c.contains("203.0.113.255"));
        assert!(!c.contains("203.0.112.255"));
        assert!(!c.contains("203.0.114.0"));
        assert!(!c.contains("10.0.0.1"));
        let host = cidr("203.0.113.7");
        assert!(host.contains("203.0.113.7"));
        assert!(!host.contains("203.0.113.8"));
        let all = cidr("0.0.0.0/0");
        assert!(all.contains("0.0.0.0"));
        assert!(all.contains("255.255.255.255"));
        assert!(!all.contains("::1"));
        let odd = cidr("10.0.0.0/9");
        assert!(odd.contains("10.127.255.255"));
        assert!(!odd.contains("10.128.0.0"));
    }

    #[test]
    fn cidr_contains_v6() {
        let c = cidr("2001:DB8:1234:5678::/64");
        assert!(c.contains("2001:db8:1234:5678::1"));
        assert!(c.contains("2001:0db8:1234:5678:ffff:ffff:ffff:ffff"));
        assert!(c.contains("2001:DB8:1234:5678::"));
        assert!(!c.contains("2001:db8:1234:5679::"));
        assert!(!c.contains("2001:db8:1234:5677:ffff:ffff:ffff:ffff"));
        let all = cidr("::/0");
        assert!(all.contains("::"));
        assert!(all.contains("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"));
        assert!(!all.contains("203.0.113.7"));
        assert!(!all.contains("::ffff:203.0.113.7"));
        let host = cidr("2001:db8::1");
        assert!(host.contains("2001:db8::1"));
        assert!(host.contains("2001:db8:0:0:0:0:0:1"));
        assert!(!host.contains("2001:db8::2"));
        let odd = cidr("2001:db8::/33");
        assert!(odd.contains("2001:db8:7fff::"));
        assert!(!odd.contains("2001:db8:8000::"));
    }

    #[test]
    fn cidr_contains_ipv4_mapped() {
        let c = cidr("203.0.113.0/24");
        assert!(c.contains("::ffff:203.0.113.7"));
        assert!(c.contains("::FFFF:203.0.113.7"));
        assert!(c.contains("::ffff:cb00:7107"));
        assert!(!c.contains("::ffff:203.0.114.7"));
        // IPv4-compatible (deprecated) addresses are not mapped.
        assert!(!c.contains("::203.0.113.7"));
        assert!(!cidr("::ffff:0:0/95").contains("::ffff:203.0.113.7"));
        assert!(cidr("::ffff:203.0.113.0/120").contains("203.0.113.9"));
    }

    #[test]
    fn cidr_contains_mixed_families_and_garbage() {
        let v4 = cidr("0.0.0.0/0");
        let v6 = cidr("::/0");
        assert!(!v4.contains("2001:db8::1"));
        assert!(!v6.contains("10.0.0.1"));
        for ip in [
            "",
            " ",
            "abc",
            "203.0.113.7/32",
            "203.0.113.256",
            "203.0.113",
            " 203.0.113.7",
            "203.0.113.7 ",
            "203.0.113.07",
            "2001:db8::1/128",
            "[::1]",
            "fe80::1%eth0",
            "1.2.3.4:80",
        ] {
            assert!(!v4.contains(ip), "{ip:?}");
            assert!(!v6.contains(ip), "{ip:?}");
        }
    }

    #[test]
    fn cidr_masks() {
        assert_eq!(mask(32, 0), 0);
        assert_eq!(mask(32, 1), 0x8000_0000);
        assert_eq!(mask(32, 24), 0xFFFF_FF00);
        assert_eq!(mask(32, 32), 0xFFFF_FFFF);
        assert_eq!(mask(128, 0), 0);
        assert_eq!(mask(128, 1), 1 << 127);
        assert_eq!(mask(128, 64), 0xFFFF_FFFF_FFFF_FFFF_0000_0000_0000_0000);
        assert_eq!(mask(128, 128), u128::MAX);
        // Every prefix contains its own network address and excludes the
        // address just past its end.
        for p in 0..=32u8 {
            let c = cidr(&format!("10.20.30.40/{p}"));
            let net = u32::try_from(c.addr).expect("v4");
            assert!(c.contains(&Ipv4Addr::from(net).to_string()));
            let size = 1u64 << (32 - p);
            let last = u64::from(net) + size - 1;
            assert!(c.contains(&Ipv4Addr::from(u32::try_from(last).expect("fits")).to_string()));
            if let Ok(next) = u32::try_from(last + 1) {
                assert!(!c.contains(&Ipv4Addr::from(next).to_string()), "/{p}");
            }
        }
        for p in 0..=128u8 {
            let c = cidr(&format!("2001:db8:aaaa:bbbb:cccc:dddd:eeee:ffff/{p}"));
            assert!(c.contains(&Ipv6Addr::from(c.addr).to_string()));
            if p > 0 {
                // Flip the last bit of the prefix: outside the range.
                let flipped = c.addr ^ (1u128 << (128 - u32::from(p)));
                assert!(!c.contains(&Ipv6Addr::from(flipped).to_string()), "/{p}");
            }
        }
    }
}
