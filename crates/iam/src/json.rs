//! Minimal JSON parser that keeps byte offsets, for precise error locations.
//!
//! The parser is strict RFC 8259: no comments, no trailing commas, no
//! single quotes, no leading `+` or `.` in numbers, no leading zeros, no
//! unescaped control characters in strings, no lone surrogates. On top of the
//! RFC it rejects duplicate object keys (reported at the second key) and
//! nesting deeper than [`MAX_DEPTH`] arrays/objects. A leading UTF-8 byte order
//! mark is skipped.
//!
//! All offsets are byte offsets into the text given to [`parse`] (the BOM, if
//! any, included). Use [`line_col`] to turn an offset into a human position.

use std::cell::Cell;
use std::collections::HashSet;

use bumpalo::Bump;
use bumpalo::collections::Vec as BumpVec;
use std::fmt::Write as _;

/// Maximum nesting of arrays and objects. A document whose top value is an
/// array has depth 1.
const MAX_DEPTH: usize = 128;

/// Objects with at least this many members switch from a linear scan to a
/// hash set for duplicate-key detection.
const DUP_HASH_THRESHOLD: usize = 24;

/// A JSON value with the byte span it occupies in the source text. Strings, keys and
/// numbers borrow from the text; arrays, objects and the decoded content of strings with
/// escapes live in the [`Bump`] arena given to [`parse`], so a tree owns nothing: parsing
/// makes no allocation per array, object or string, and dropping a tree costs nothing.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Node<'a> {
    pub(crate) value: Json<'a>,
    /// Byte offset of the first byte of the value.
    pub(crate) start: usize,
    /// Byte offset just past the last byte of the value.
    pub(crate) end: usize,
}

/// A JSON value. Object members keep their source order.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Json<'a> {
    Null,
    Bool(bool),
    /// The raw number text as written, e.g. `-1.5e3`.
    Number(&'a str),
    String(&'a str),
    Array(&'a [Node<'a>]),
    Object(&'a [Member<'a>]),
}

/// One `"key": value` member of an object.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Member<'a> {
    pub(crate) key: &'a str,
    /// Byte offset of the opening quote of the key.
    pub(crate) key_start: usize,
    pub(crate) value: Node<'a>,
}

/// A parse error: where it happened (byte offset) and what went wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct JsonError {
    pub(crate) offset: usize,
    pub(crate) message: String,
}

impl Json<'_> {
    /// The JSON type name of the value, for error messages.
    pub(crate) fn type_name(&self) -> &'static str {
        match self {
            Json::Null => "null",
            Json::Bool(_) => "boolean",
            Json::Number(_) => "number",
            Json::String(_) => "string",
            Json::Array(_) => "array",
            Json::Object(_) => "object",
        }
    }
}

impl<'a> Node<'a> {
    /// The string content, if this node is a JSON string.
    pub(crate) fn as_str(&self) -> Option<&'a str> {
        match self.value {
            Json::String(s) => Some(s),
            _ => None,
        }
    }

    /// The value of the object member with exactly this key, if this node is
    /// an object that has one.
    pub(crate) fn get(&self, key: &str) -> Option<&'a Node<'a>> {
        match self.value {
            Json::Object(members) => members.iter().find(|m| m.key == key).map(|m| &m.value),
            _ => None,
        }
    }
}

/// The largest arena kept for reuse by a thread between parses; a bigger one (left by a
/// very large document) is freed.
const MAX_KEPT_ARENA: usize = 256 * 1024;

/// The arena of the first parse on a thread (documents are rarely bigger).
const FIRST_ARENA: usize = 32 * 1024;

thread_local! {
    /// An emptied arena kept between parses, so that parsing a policy allocates nothing.
    static SPARE_ARENA: Cell<Option<Bump>> = const { Cell::new(None) };
}

/// Runs `f` with an empty arena for [`parse`]: this thread's spare one when it has one (a
/// nested call gets a fresh arena). Afterwards the arena is emptied and kept for the next
/// call, unless it has grown past [`MAX_KEPT_ARENA`].
pub(crate) fn with_arena<R>(f: impl FnOnce(&Bump) -> R) -> R {
    let mut arena = SPARE_ARENA
        .with(Cell::take)
        .unwrap_or_else(|| Bump::with_capacity(FIRST_ARENA));
    let result = f(&arena);
    arena.reset();
    if arena.allocated_bytes() <= MAX_KEPT_ARENA {
        SPARE_ARENA.with(|spare| spare.set(Some(arena)));
    }
    result
}

/// Parses a complete JSON document; arrays, objects and decoded strings go to `arena`.
pub(crate) fn parse<'a>(text: &'a str, arena: &'a Bump) -> Result<Node<'a>, JsonError> {
    let mut p = Parser {
        text,
        arena,
        bytes: text.as_bytes(),
        pos: 0,
        depth: 0,
        // Scratch stacks in the arena, sized for the text (a policy has about one array item
        // per 100 bytes and one open object member per 250), so they rarely grow.
        items: BumpVec::with_capacity_in((text.len() / 96).clamp(16, 1024), arena),
        members: BumpVec::with_capacity_in((text.len() / 256).clamp(8, 256), arena),
    };
    if p.bytes.starts_with(b"\xEF\xBB\xBF") {
        p.pos = 3;
    }
    p.skip_ws();
    let node = p.parse_value()?;
    p.skip_ws();
    if p.pos < p.bytes.len() {
        return Err(p.trailing_content(p.pos));
    }
    Ok(node)
}

/// Converts a byte offset into a 1-based (line, column) pair. Lines are
/// separated by `\n`; the column counts characters, not bytes. A leading byte
/// order mark is not counted. Offsets past the end are clamped to the end.
pub(crate) fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let bytes = text.as_bytes();
    let offset = offset.min(bytes.len());
    let before = &bytes[..offset];
    let (line, line_start) = match before.iter().rposition(|&b| b == b'\n') {
        Some(nl) => (before.iter().filter(|&&b| b == b'\n').count() + 1, nl + 1),
        None => {
            let bom = if before.starts_with(b"\xEF\xBB\xBF") { 3 } else { 0 };
            (1, bom)
        }
    };
    let chars = before[line_start.min(offset)..]
        .iter()
        .filter(|&&b| b & 0xC0 != 0x80)
        .count();
    (line, chars + 1)
}

struct Parser<'a> {
    text: &'a str,
    arena: &'a Bump,
    bytes: &'a [u8],
    pos: usize,
    depth: usize,
    /// Scratch stack of array elements under construction, shared by all
    /// open arrays so each finished array is allocated once at its exact size.
    items: BumpVec<'a, Node<'a>>,
    /// Scratch stack of object members under construction, likewise.
    members: BumpVec<'a, Member<'a>>,
}

/// Bytes that end the fast scan of a string: `"`, `\` and control characters.
static STRING_STOP: [bool; 256] = {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 0x20 {
        table[b] = true;
        b += 1;
    }
    table[b'"' as usize] = true;
    table[b'\\' as usize] = true;
    table
};

/// Returns the index of the first byte at or after `i` that is `"`, `\` or a
/// control character, or `b.len()` if there is none. Scans eight bytes at a
/// time (SWAR) and finishes byte by byte.
#[inline]
fn scan_string(b: &[u8], mut i: usize) -> usize {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    while let Some(chunk) = b.get(i..).and_then(<[u8]>::first_chunk::<8>) {
        let w = u64::from_le_bytes(*chunk);
        let quote = w ^ (ONES * u64::from(b'"'));
        let backslash = w ^ (ONES * u64::from(b'\\'));
        // Each term is non-zero iff some byte is zero / below 0x20.
        let found = ((quote.wrapping_sub(ONES) & !quote)
            | (backslash.wrapping_sub(ONES) & !backslash)
            | (w.wrapping_sub(ONES * 0x20) & !w))
            & HIGHS;
        if found != 0 {
            // The lowest flagged byte is exact (borrows only run upwards), so it is the
            // first stop byte of the chunk.
            return i + (found.trailing_zeros() / 8) as usize;
        }
        i += 8;
    }
    while i < b.len() && !STRING_STOP[usize::from(b[i])] {
        i += 1;
    }
    i
}

impl<'a> Parser<'a> {
    #[inline]
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    #[inline]
    fn skip_ws(&mut self) {
        while let Some(&b) = self.bytes.get(self.pos) {
            if matches!(b, b' ' | b'\t' | b'\n' | b'\r') {
                self.pos += 1;
            } else {
                break;
            }
        }
    }

    // ---- error construction (cold) -------------------------------------

    #[cold]
    #[inline(never)]
    fn fail(&self, offset: usize, message: &str) -> JsonError {
        JsonError {
            offset,
            message: message.to_owned(),
        }
    }

    #[cold]
    #[inline(never)]
    fn eof_inside(&self, what: &str) -> JsonError {
        JsonError {
            offset: self.bytes.len(),
            message: format!("unexpected end of input inside {what}"),
        }
    }

    /// "`expected`, found X" for the character at `at`, or "unexpected end of
    /// input inside `context`" when `at` is the end of the text.
    #[cold]
    #[inline(never)]
    fn expected(&self, at: usize, expected: &str, context: &str) -> JsonError {
        if at >= self.bytes.len() {
            return self.eof_inside(context);
        }
        JsonError {
            offset: at,
            message: format!("{expected}, found {}", self.found(at)),
        }
    }

    /// Describes the character at `pos` for "found ..." messages.
    fn found(&self, pos: usize) -> String {
        match self.text.get(pos..).and_then(|rest| rest.chars().next()) {
            None if pos >= self.bytes.len() => "end of input".to_owned(),
            None => "an invalid character".to_owned(),
            Some(c) => describe_char(c),
        }
    }

    #[cold]
    #[inline(never)]
    fn trailing_content(&self, at: usize) -> JsonError {
        JsonError {
            offset: at,
            message: format!("unexpected {} after the JSON value", self.found(at)),
        }
    }

    #[cold]
    #[inline(never)]
    fn bad_literal(&self, start: usize) -> JsonError {
        let end = start
            + self.bytes[start..]
                .iter()
                .take_while(|b| b.is_ascii_alphanumeric() || **b == b'_')
                .count();
        let word = &self.text[start..end];
        let hint = match word.to_ascii_lowercase().as_str() {
            "null" | "true" | "false" => " (literals are lowercase)",
            _ => "",
        };
        // `word` is ASCII, so any byte index is a char boundary.
        let shown = if word.len() > 32 {
            format!("{}…", &word[..32])
        } else {
            word.to_owned()
        };
        JsonError {
            offset: start,
            message: format!("expected a JSON value, found `{shown}`{hint}"),
        }
    }

    #[cold]
    #[inline(never)]
    fn leading_zero(&self, start: usize) -> JsonError {
        let rest = &self.text[start..];
        let end = rest
            .bytes()
            .position(|b| !(b.is_ascii_digit() || matches!(b, b'-' | b'+' | b'.' | b'e' | b'E')))
            .unwrap_or(rest.len())
            .min(32);
        JsonError {
            offset: start,
            message: format!("invalid number `{}`: leading zeros are not allowed", &rest[..end]),
        }
    }

    #[cold]
    #[inline(never)]
    fn control_char(&self, at: usize, c: u8) -> JsonError {
        let hint = match c {
            b'\n' => " (use `\\n`)",
            b'\r' => " (use `\\r`)",
            b'\t' => " (use `\\t`)",
            _ => " (use a `\\u` escape)",
        };
        JsonError {
            offset: at,
            message: format!(
                "unescaped control character U+{:04X} in string{hint}",
                u32::from(c)
            ),
        }
    }

    #[cold]
    #[inline(never)]
    fn invalid_escape(&self, backslash: usize) -> JsonError {
        let shown = self
            .text
            .get(backslash + 1..)
            .and_then(|r| r.chars().next())
            .map(|c| {
                if c.is_control() {
                    c.escape_debug().to_string()
                } else {
                    c.to_string()
                }
            })
            .unwrap_or_default();
        JsonError {
            offset: backslash,
            message: format!("invalid escape `\\{shown}` in string"),
        }
    }

    #[cold]
    #[inline(never)]
    fn unpaired_surrogate(&self, backslash: usize, high: bool) -> JsonError {
        let digits = self.text.get(backslash + 2..backslash + 6).unwrap_or("");
        let expected = if high {
            "expected a low surrogate `\\uDC00`-`\\uDFFF` to follow"
        } else {
            "expected a high surrogate `\\uD800`-`\\uDBFF` before it"
        };
        JsonError {
            offset: backslash,
            message: format!("unpaired surrogate `\\u{digits}` in string, {expected}"),
        }
    }

    #[cold]
    #[inline(never)]
    fn too_deep(&self) -> JsonError {
        JsonError {
            offset: self.pos,
            message: format!("nesting too deep: more than {MAX_DEPTH} levels of arrays and objects"),
        }
    }

    #[cold]
    #[inline(never)]
    fn duplicate_key(&self, key_start: usize, key: &str) -> JsonError {
        JsonError {
            offset: key_start,
            message: format!("duplicate key `{}`", escape_for_message(key)),
        }
    }

    // ---- values ----------------------------------------------------------

    /// Parses a value starting at `self.pos` (which must not be whitespace).
    fn parse_value(&mut self) -> Result<Node<'a>, JsonError> {
        let start = self.pos;
        let value = match self.peek() {
            Some(b'"') => Json::String(self.parse_string("a string")?),
            Some(b'{') => return self.parse_object(),
            Some(b'[') => return self.parse_array(),
            Some(b'-' | b'0'..=b'9') => self.parse_number()?,
            Some(b'n') if self.bytes[start..].starts_with(b"null") => self.literal(4, Json::Null)?,
            Some(b't') if self.bytes[start..].starts_with(b"true") => self.literal(4, Json::Bool(true))?,
            Some(b'f') if self.bytes[start..].starts_with(b"false") => self.literal(5, Json::Bool(false))?,
            Some(b) if b.is_ascii_alphabetic() => return Err(self.bad_literal(start)),
            None => {
                return Err(self.fail(start, "unexpected end of input, expected a JSON value"));
            }
            Some(_) => {
                return Err(self.expected(start, "expected a JSON value", "a JSON value"));
            }
        };
        Ok(Node {
            value,
            start,
            end: self.pos,
        })
    }

    /// Parses an array element or object member value: a string (most of a policy's values)
    /// directly, anything else through [`Parser::parse_value`].
    #[inline(always)]
    fn parse_member_value(&mut self) -> Result<Node<'a>, JsonError> {
        if self.peek() != Some(b'"') {
            return self.parse_value();
        }
        let start = self.pos;
        let value = Json::String(self.parse_string("a string")?);
        Ok(Node {
            value,
            start,
            end: self.pos,
        })
    }

    /// Accepts a literal of `len` bytes at `self.pos`, unless it runs on into
    /// more letters or digits (`truex`).
    #[inline]
    fn literal(&mut self, len: usize, value: Json<'a>) -> Result<Json<'a>, JsonError> {
        let end = self.pos + len;
        if self
            .bytes
            .get(end)
            .is_some_and(|b| b.is_ascii_alphanumeric() || *b == b'_')
        {
            return Err(self.bad_literal(self.pos));
        }
        self.pos = end;
        Ok(value)
    }

    fn parse_number(&mut self) -> Result<Json<'a>, JsonError> {
        let b = self.bytes;
        let start = self.pos;
        let mut i = start;
        if b[i] == b'-' {
            i += 1;
        }
        match b.get(i) {
            Some(b'0') => {
                i += 1;
                if b.get(i).is_some_and(u8::is_ascii_digit) {
                    return Err(self.leading_zero(start));
                }
            }
            Some(b'1'..=b'9') => {
                i += 1;
                while b.get(i).is_some_and(u8::is_ascii_digit) {
                    i += 1;
                }
            }
            _ => return Err(self.expected(i, "expected a digit after `-`", "a number")),
        }
        if b.get(i) == Some(&b'.') {
            i += 1;
            if !b.get(i).is_some_and(u8::is_ascii_digit) {
                return Err(self.expected(i, "expected a digit after `.` in a number", "a number"));
            }
            while b.get(i).is_some_and(u8::is_ascii_digit) {
                i += 1;
            }
        }
        if matches!(b.get(i), Some(b'e' | b'E')) {
            i += 1;
            if matches!(b.get(i), Some(b'+' | b'-')) {
                i += 1;
            }
            if !b.get(i).is_some_and(u8::is_ascii_digit) {
                return Err(self.expected(i, "expected a digit in the exponent of a number", "a number"));
            }
            while b.get(i).is_some_and(u8::is_ascii_digit) {
                i += 1;
            }
        }
        self.pos = i;
        Ok(Json::Number(&self.text[start..i]))
    }

    /// Parses a string starting at the opening quote at `self.pos`.
    /// `what` names the construct for end-of-input messages.
    #[inline(always)]
    fn parse_string(&mut self, what: &str) -> Result<&'a str, JsonError> {
        let b = self.bytes;
        let open = self.pos;
        // Fast path (inline): no escapes.
        let i = scan_string(b, open + 1);
        if b.get(i) == Some(&b'"') {
            self.pos = i + 1;
            return Ok(self.text.get(open + 1..i).unwrap_or_default());
        }
        self.parse_string_slow(open, i, what)
    }

    /// The rest of [`Parser::parse_string`] once the scan from the opening quote at `open`
    /// stopped at `i` on something other than the closing quote.
    #[inline(never)]
    fn parse_string_slow(&mut self, open: usize, mut i: usize, what: &str) -> Result<&'a str, JsonError> {
        let b = self.bytes;
        match b.get(i) {
            Some(b'\\') => {}
            Some(&c) => return Err(self.control_char(i, c)),
            None => return Err(self.eof_inside(what)),
        }
        // Slow path: at least one escape. `i` is at a backslash.
        let mut out = String::with_capacity(i - open + 16);
        out.push_str(&self.text[open + 1..i]);
        loop {
            // `i` is at a stop byte.
            match b.get(i) {
                Some(b'"') => {
                    self.pos = i + 1;
                    return Ok(self.arena.alloc_str(&out));
                }
                Some(b'\\') => i = self.parse_escape(i, &mut out, what)?,
                Some(&c) => return Err(self.control_char(i, c)),
                None => return Err(self.eof_inside(what)),
            }
            let run_start = i;
            i = scan_string(b, i);
            out.push_str(&self.text[run_start..i]);
        }
    }

    /// Decodes the escape whose backslash is at `bs`, appends it to `out` and
    /// returns the offset just past it.
    fn parse_escape(&self, bs: usize, out: &mut String, what: &str) -> Result<usize, JsonError> {
        let b = self.bytes;
        let Some(&e) = b.get(bs + 1) else {
            return Err(self.eof_inside(what));
        };
        let simple = match e {
            b'"' => '"',
            b'\\' => '\\',
            b'/' => '/',
            b'b' => '\u{8}',
            b'f' => '\u{c}',
            b'n' => '\n',
            b'r' => '\r',
            b't' => '\t',
            b'u' => return self.parse_unicode_escape(bs, out, what),
            _ => return Err(self.invalid_escape(bs)),
        };
        out.push(simple);
        Ok(bs + 2)
    }

    /// Decodes a `\uXXXX` escape (or surrogate pair) whose backslash is at `bs`.
    fn parse_unicode_escape(&self, bs: usize, out: &mut String, what: &str) -> Result<usize, JsonError> {
        let b = self.bytes;
        let hi = self.hex4(bs, what)?;
        let mut next = bs + 6;
        let cp = if (0xD800..0xDC00).contains(&hi) {
            // High surrogate: a `\uDC00`-`\uDFFF` escape must follow.
            let lo = match (b.get(next), b.get(next + 1)) {
                (Some(b'\\'), Some(b'u')) => self.hex4(next, what)?,
                (None, _) | (Some(b'\\'), None) => return Err(self.eof_inside(what)),
                _ => return Err(self.unpaired_surrogate(bs, true)),
            };
            if !(0xDC00..0xE000).contains(&lo) {
                return Err(self.unpaired_surrogate(bs, true));
            }
            next += 6;
            0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00)
        } else if (0xDC00..0xE000).contains(&hi) {
            return Err(self.unpaired_surrogate(bs, false));
        } else {
            hi
        };
        // Surrogates were handled above, so this is always a scalar value.
        out.push(char::from_u32(cp).unwrap_or(char::REPLACEMENT_CHARACTER));
        Ok(next)
    }

    /// Reads the four hex digits of the `\u` escape whose backslash is at `bs`.
    fn hex4(&self, bs: usize, what: &str) -> Result<u32, JsonError> {
        let mut v = 0u32;
        for at in bs + 2..bs + 6 {
            let d = match self.bytes.get(at) {
                Some(&h @ b'0'..=b'9') => h - b'0',
                Some(&h @ b'a'..=b'f') => h - b'a' + 10,
                Some(&h @ b'A'..=b'F') => h - b'A' + 10,
                _ => {
                    return Err(self.expected(
                        at,
                        "invalid `\\u` escape in string, expected 4 hex digits",
                        what,
                    ));
                }
            };
            v = (v << 4) | u32::from(d);
        }
        Ok(v)
    }

    fn enter(&mut self) -> Result<(), JsonError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(self.too_deep());
        }
        Ok(())
    }

    #[inline(never)]
    fn parse_array(&mut self) -> Result<Node<'a>, JsonError> {
        let start = self.pos;
        self.enter()?;
        self.pos += 1;
        self.skip_ws();
        let base = self.items.len();
        if self.peek() == Some(b']') {
            self.pos += 1;
        } else {
            loop {
                if self.pos >= self.bytes.len() {
                    return Err(self.eof_inside("an array"));
                }
                let item = self.parse_member_value()?;
                self.items.push(item);
                self.skip_ws();
                match self.peek() {
                    Some(b',') => {
                        self.pos += 1;
                        self.skip_ws();
                        if self.peek() == Some(b']') {
                            return Err(self.fail(
                                self.pos,
                                "expected a JSON value after `,` in an array, found `]` (trailing commas are not allowed)",
                            ));
                        }
                    }
                    Some(b']') => {
                        self.pos += 1;
                        break;
                    }
                    _ => {
                        return Err(self.expected(
                            self.pos,
                            "expected `,` or `]` after an array element",
                            "an array",
                        ));
                    }
                }
            }
        }
        self.depth -= 1;
        // One copy of the finished array's elements (no per-element drain).
        let items = self
            .arena
            .alloc_slice_copy(self.items.get(base..).unwrap_or_default());
        self.items.truncate(base);
        Ok(Node {
            value: Json::Array(items),
            start,
            end: self.pos,
        })
    }

    #[inline(never)]
    fn parse_object(&mut self) -> Result<Node<'a>, JsonError> {
        let start = self.pos;
        self.enter()?;
        self.pos += 1;
        self.skip_ws();
        let base = self.members.len();
        let mut seen: Option<HashSet<String>> = None;
        match self.peek() {
            Some(b'}') => self.pos += 1,
            Some(b'"') => loop {
                // `self.pos` is at the opening quote of a key.
                let key_start = self.pos;
                let key = self.parse_string("an object key")?;
                if self.is_duplicate(base, &mut seen, key) {
                    return Err(self.duplicate_key(key_start, key));
                }
                self.skip_ws();
                if self.peek() != Some(b':') {
                    return Err(self.expected(self.pos, "expected `:` after an object key", "an object"));
                }
                self.pos += 1;
                self.skip_ws();
                if self.pos >= self.bytes.len() {
                    return Err(self.eof_inside("an object"));
                }
                let value = self.parse_member_value()?;
                self.members.push(Member {
                    key,
                    key_start,
                    value,
                });
                self.skip_ws();
                match self.peek() {
                    Some(b',') => {
                        self.pos += 1;
                        self.skip_ws();
                        match self.peek() {
                            Some(b'"') => {}
                            Some(b'}') => {
                                return Err(self.fail(
                                    self.pos,
                                    "expected a string key after `,` in an object, found `}` (trailing commas are not allowed)",
                                ));
                            }
                            _ => {
                                return Err(self.expected(
                                    self.pos,
                                    "expected a string key after `,` in an object",
                                    "an object",
                                ));
                            }
                        }
                    }
                    Some(b'}') => {
                        self.pos += 1;
                        break;
                    }
                    _ => {
                        return Err(self.expected(
                            self.pos,
                            "expected `,` or `}` after an object member",
                            "an object",
                        ));
                    }
                }
            },
            _ => {
                return Err(self.expected(
                    self.pos,
                    "expected a string key or `}` in an object",
                    "an object",
                ));
            }
        }
        self.depth -= 1;
        let members = self
            .arena
            .alloc_slice_copy(self.members.get(base..).unwrap_or_default());
        self.members.truncate(base);
        Ok(Node {
            value: Json::Object(members),
            start,
            end: self.pos,
        })
    }

    /// Whether `key` is already a key of the object whose members start at
    /// `base` on the scratch stack. Small objects are scanned linearly; large
    /// ones switch to a hash set so that huge objects stay linear time.
    fn is_duplicate(&self, base: usize, seen: &mut Option<HashSet<String>>, key: &str) -> bool {
        if let Some(set) = seen {
            return !set.insert(key.to_owned());
        }
        let existing = &self.members[base..];
        if existing.iter().any(|m| m.key == key) {
            return true;
        }
        if existing.len() + 1 >= DUP_HASH_THRESHOLD {
            let mut set: HashSet<String> = existing.iter().map(|m| m.key.to_owned()).collect();
            set.insert(key.to_owned());
            *seen = Some(set);
        }
        false
    }
}

/// Formats a found character as `` `c` ``, escaping control and other
/// invisible characters so the message stays on one line.
fn describe_char(c: char) -> String {
    let mut s = String::from("`");
    if !c.is_control() {
        s.push(c);
    } else {
        let _ = write!(s, "{}", c.escape_debug());
    }
    s.push('`');
    s
}

/// Escapes control characters in a key for display in a message and caps its
/// length.
fn escape_for_message(s: &str) -> String {
    let mut out = String::with_capacity(s.len().min(80));
    for (n, c) in s.chars().enumerate() {
        if n >= 64 {
            out.push('…');
            break;
        }
        if c.is_control() {
            let _ = write!(out, "{}", c.escape_debug());
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An arena that lives as long as the test (leaked: tests are short).
    fn arena() -> &'static Bump {
        Box::leak(Box::new(Bump::new()))
    }

    fn parse(text: &str) -> Result<Node<'_>, JsonError> {
        super::parse(text, arena())
    }

    fn ok(text: &str) -> Node<'_> {
        match parse(text) {
            Ok(n) => n,
            Err(e) => panic!("expected {text:?} to parse, got {e:?}"),
        }
    }

    fn err(text: &str) -> JsonError {
        match parse(text) {
            Ok(n) => panic!("expected {text:?} to fail, got {n:?}"),
            Err(e) => e,
        }
    }

    fn assert_err(text: &str, offset: usize, message: &str) {
        let e = err(text);
        assert_eq!(
            e,
            JsonError {
                offset,
                message: message.to_owned()
            },
            "for input {text:?}"
        );
    }

    fn num(s: &str) -> Json<'_> {
        Json::Number(s)
    }

    fn string(s: &str) -> Json<'_> {
        Json::String(s)
    }

    // ---- scalars -------------------------------------------------------

    #[test]
    fn literals() {
        assert_eq!(
            ok("null"),
            Node {
                value: Json::Null,
                start: 0,
                end: 4
            }
        );
        assert_eq!(ok("true").value, Json::Bool(true));
        assert_eq!(ok("false").value, Json::Bool(false));
        assert_eq!(
            ok("  true \n"),
            Node {
                value: Json::Bool(true),
                start: 2,
                end: 6
            }
        );
    }

    #[test]
    fn bad_literals() {
        assert_err("tru", 0, "expected a JSON value, found `tru`");
        assert_err("nul", 0, "expected a JSON value, found `nul`");
        assert_err(
            "True",
            0,
            "expected a JSON value, found `True` (literals are lowercase)",
        );
        assert_err(
            "NULL",
            0,
            "expected a JSON value, found `NULL` (literals are lowercase)",
        );
        assert_err("truex", 0, "expected a JSON value, found `truex`");
        assert_err("[1, nope]", 4, "expected a JSON value, found `nope`");
        assert_err("undefined", 0, "expected a JSON value, found `undefined`");
        assert_err("NaN", 0, "expected a JSON value, found `NaN`");
        assert_err("Infinity", 0, "expected a JSON value, found `Infinity`");
        let long = "a".repeat(100);
        let e = err(&long);
        assert_eq!(
            e.message,
            format!("expected a JSON value, found `{}…`", "a".repeat(32))
        );
    }

    #[test]
    fn numbers_valid() {
        for s in [
            "0",
            "-0",
            "1",
            "-1",
            "123",
            "0.5",
            "-0.5",
            "1.25",
            "1e5",
            "1E5",
            "1e+5",
            "1e-5",
            "-1.5e3",
            "0e0",
            "0.0E-0",
            "12345678901234567890123",
            "1.000000000000000000001",
        ] {
            let n = ok(s);
            assert_eq!(n.value, num(s), "{s}");
            assert_eq!((n.start, n.end), (0, s.len()), "{s}");
        }
        let n = ok("[ -12.5e+3 ]");
        let Json::Array(items) = n.value else {
            panic!("not an array")
        };
        assert_eq!(
            items[0],
            Node {
                value: num("-12.5e+3"),
                start: 2,
                end: 10
            }
        );
    }

    #[test]
    fn numbers_invalid() {
        assert_err("01", 0, "invalid number `01`: leading zeros are not allowed");
        assert_err(
            "-01.5",
            0,
            "invalid number `-01.5`: leading zeros are not allowed",
        );
        assert_err("[00]", 1, "invalid number `00`: leading zeros are not allowed");
        assert_err("+1", 0, "expected a JSON value, found `+`");
        assert_err(".5", 0, "expected a JSON value, found `.`");
        assert_err("-", 1, "unexpected end of input inside a number");
        assert_err("-a", 1, "expected a digit after `-`, found `a`");
        assert_err("- 1", 1, "expected a digit after `-`, found ` `");
        assert_err("1.", 2, "unexpected end of input inside a number");
        assert_err("1.x", 2, "expected a digit after `.` in a number, found `x`");
        assert_err("[1.]", 3, "expected a digit after `.` in a number, found `]`");
        assert_err("1e", 2, "unexpected end of input inside a number");
        assert_err("1e+", 3, "unexpected end of input inside a number");
        assert_err(
            "1e+x",
            3,
            "expected a digit in the exponent of a number, found `x`",
        );
        assert_err(
            "1E}",
            2,
            "expected a digit in the exponent of a number, found `}`",
        );
        assert_err("1.2.3", 3, "unexpected `.` after the JSON value");
        assert_err("0x10", 1, "unexpected `x` after the JSON value");
        assert_err("1 2", 2, "unexpected `2` after the JSON value");
        assert_err("-Infinity", 1, "expected a digit after `-`, found `I`");
    }

    // ---- strings ---------------------------------------------------------

    #[test]
    fn strings_plain() {
        assert_eq!(
            ok(r#""""#),
            Node {
                value: string(""),
                start: 0,
                end: 2
            }
        );
        assert_eq!(ok(r#""abc""#).value, string("abc"));
        assert_eq!(ok("\"héllo wörld ✓ 😀\"").value, string("héllo wörld ✓ 😀"));
        let n = ok("  \"é\"  ");
        assert_eq!((n.start, n.end), (2, 6));
        // DEL and other non-control characters are allowed raw.
        assert_eq!(ok("\"a\u{7f}b\"").value, string("a\u{7f}b"));
        assert_eq!(ok("\"\u{2028}\"").value, string("\u{2028}"));
    }

    #[test]
    fn strings_escapes() {
        assert_eq!(
            ok(r#""\" \\ \/ \b \f \n \r \t""#).value,
            string("\" \\ / \u{8} \u{c} \n \r \t")
        );
        assert_eq!(ok(r#""a\u0041b""#).value, string("aAb"));
        assert_eq!(ok(r#""\u00e9\u00E9""#).value, string("éé"));
        assert_eq!(ok(r#""\u0000""#).value, string("\0"));
        assert_eq!(ok(r#""\u20AC""#).value, string("€"));
        assert_eq!(ok(r#""\uFFFF""#).value, string("\u{FFFF}"));
        assert_eq!(ok(r#""\uD83D\uDE00""#).value, string("😀"));
        assert_eq!(ok(r#""\ud83d\ude00""#).value, string("😀"));
        assert_eq!(ok(r#""\uDBFF\uDFFF""#).value, string("\u{10FFFF}"));
        assert_eq!(ok(r#""\uD800\uDC00""#).value, string("\u{10000}"));
        assert_eq!(ok(r#""x\u00e9y\nz😀""#).value, string("xéy\nz😀"));
        let n = ok(r#" "a\nb" "#);
        assert_eq!((n.start, n.end), (1, 7));
    }

    #[test]
    fn strings_invalid_escapes() {
        assert_err(r#""a\qb""#, 2, "invalid escape `\\q` in string");
        let e = err(r#""\x41""#);
        assert_eq!(e.offset, 1);
        assert!(
            e.message.starts_with("invalid escape `\\x` in string"),
            "{}",
            e.message
        );
        let e = err("\"\\é\"");
        assert!(
            e.message.starts_with("invalid escape `\\é` in string"),
            "{}",
            e.message
        );
        let e = err("\"\\\n\"");
        assert!(
            e.message.starts_with("invalid escape `\\\\n` in string"),
            "{}",
            e.message
        );
        let e = err(r#""\'""#);
        assert!(
            e.message.starts_with("invalid escape `\\'` in string"),
            "{}",
            e.message
        );
        assert_err(
            r#""\u12G4""#,
            5,
            "invalid `\\u` escape in string, expected 4 hex digits, found `G`",
        );
        assert_err(r#""\u12"#, 5, "unexpected end of input inside a string");
        assert_err(
            r#""\u12""#,
            5,
            "invalid `\\u` escape in string, expected 4 hex digits, found `\"`",
        );
        assert_err(r#""abc\"#, 5, "unexpected end of input inside a string");
    }

    #[test]
    fn strings_surrogates() {
        assert_err(
            r#""\uD83D""#,
            1,
            "unpaired surrogate `\\uD83D` in string, expected a low surrogate `\\uDC00`-`\\uDFFF` to follow",
        );
        assert_err(
            r#""x\uD83Dabc""#,
            2,
            "unpaired surrogate `\\uD83D` in string, expected a low surrogate `\\uDC00`-`\\uDFFF` to follow",
        );
        assert_err(
            r#""\uD83D\u0041""#,
            1,
            "unpaired surrogate `\\uD83D` in string, expected a low surrogate `\\uDC00`-`\\uDFFF` to follow",
        );
        assert_err(
            r#""\uD83D\uD83D""#,
            1,
            "unpaired surrogate `\\uD83D` in string, expected a low surrogate `\\uDC00`-`\\uDFFF` to follow",
        );
        assert_err(
            r#""\uDE00""#,
            1,
            "unpaired surrogate `\\uDE00` in string, expected a high surrogate `\\uD800`-`\\uDBFF` before it",
        );
        assert_err(
            r#""\ude00\ud83d""#,
            1,
            "unpaired surrogate `\\ude00` in string, expected a high surrogate `\\uD800`-`\\uDBFF` before it",
        );
        // Input ends in the middle of the pair.
        assert_err(r#""\uD83D"#, 7, "unexpected end of input inside a string");
        assert_err(r#""\uD83D\"#, 8, "unexpected end of input inside a string");
        assert_err(r#""\uD83D\uDE"#, 11, "unexpected end of input inside a string");
        // An invalid escape after a high surrogate.
        assert_err(
            r#""\uD83D\n""#,
            1,
            "unpaired surrogate `\\uD83D` in string, expected a low surrogate `\\uDC00`-`\\uDFFF` to follow",
        );
        assert_err(
            r#""\uD83D\uDEzz""#,
            11,
            "invalid `\\u` escape in string, expected 4 hex digits, found `z`",
        );
    }

    #[test]
    fn scan_string_matches_naive_scan() {
        let naive = |b: &[u8], i: usize| {
            (i..b.len())
                .find(|&k| b[k] == b'"' || b[k] == b'\\' || b[k] < 0x20)
                .unwrap_or(b.len())
        };
        // Every stop byte at every position relative to the 8-byte chunks,
        // surrounded by ASCII and by bytes with the high bit set.
        for fill in [b'a', 0x80, 0xFF, 0x7F, 0x21, 0x1F + 1] {
            for stop in [b'"', b'\\', 0x00, 0x0A, 0x1F] {
                for len in 0..40 {
                    for at in 0..=len {
                        let mut v = vec![fill; len];
                        if at < len {
                            v[at] = stop;
                        }
                        for start in 0..=len.min(9) {
                            assert_eq!(scan_string(&v, start), naive(&v, start), "{v:?} from {start}");
                        }
                    }
                }
            }
        }
        // Pseudo-random bytes.
        let mut x: u32 = 12345;
        let mut v = Vec::new();
        for _ in 0..4096 {
            x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
            let r = (x >> 16) as u8;
            // Keep stop bytes rare so that long runs occur.
            v.push(if r < 0x30 { r.wrapping_add(0x40) } else { r });
            if x.is_multiple_of(97) {
                v.push(b'"');
            }
        }
        let mut i = 0;
        while i < v.len() {
            let j = scan_string(&v, i);
            assert_eq!(j, naive(&v, i));
            i = j + 1;
        }
    }

    #[test]
    fn strings_of_every_length_and_content() {
        for len in 0..40 {
            for c in ["a", "é", "€", "😀", "\\n", "\\u00e9"] {
                let body = c.repeat(len);
                let text = format!("[\"{body}\", 1]");
                let n = ok(&text);
                let Json::Array(items) = &n.value else {
                    panic!("not an array")
                };
                let expected = match c {
                    "\\n" => "\n".repeat(len),
                    "\\u00e9" => "é".repeat(len),
                    _ => body.clone(),
                };
                assert_eq!(items[0].as_str(), Some(expected.as_str()), "{text}");
                assert_eq!(items[0].end, 3 + body.len());
                assert_eq!(items[1].start, 5 + body.len());
                // A control character at the end of the run is still found.
                let bad = format!("\"{body}\u{1}\"");
                assert_eq!(err(&bad).offset, 1 + body.len(), "{bad:?}");
            }
        }
    }

    #[test]
    fn strings_control_characters() {
        assert_err(
            "\"a\nb\"",
            2,
            "unescaped control character U+000A in string (use `\\n`)",
        );
        assert_err(
            "\"\tb\"",
            1,
            "unescaped control character U+0009 in string (use `\\t`)",
        );
        assert_err(
            "\"\r\"",
            1,
            "unescaped control character U+000D in string (use `\\r`)",
        );
        assert_err(
            "\"\u{0}\"",
            1,
            "unescaped control character U+0000 in string (use a `\\u` escape)",
        );
        assert_err(
            "\"\u{1f}\"",
            1,
            "unescaped control character U+001F in string (use a `\\u` escape)",
        );
        // After an escape (slow path).
        assert_err(
            "\"\\n\n\"",
            3,
            "unescaped control character U+000A in string (use `\\n`)",
        );
    }

    #[test]
    fn strings_unterminated() {
        assert_err("\"abc", 4, "unexpected end of input inside a string");
        assert_err("\"a\\nbc", 6, "unexpected end of input inside a string");
        assert_err("\"", 1, "unexpected end of input inside a string");
        assert_err("{\"key", 5, "unexpected end of input inside an object key");
        assert_err("{\"k\\n", 5, "unexpected end of input inside an object key");
        assert_err("[\"é", 4, "unexpected end of input inside a string");
    }

    // ---- arrays ----------------------------------------------------------

    #[test]
    fn arrays() {
        assert_eq!(
            ok("[]"),
            Node {
                value: Json::Array(&[]),
                start: 0,
                end: 2
            }
        );
        assert_eq!(
            ok("[ \n ]"),
            Node {
                value: Json::Array(&[]),
                start: 0,
                end: 5
            }
        );
        let n = ok(r#" [1, "a", [true, null], {}] "#);
        assert_eq!((n.start, n.end), (1, 27));
        let Json::Array(items) = &n.value else {
            panic!("not an array")
        };
        assert_eq!(items.len(), 4);
        assert_eq!(
            items[0],
            Node {
                value: num("1"),
                start: 2,
                end: 3
            }
        );
        assert_eq!(
            items[1],
            Node {
                value: string("a"),
                start: 5,
                end: 8
            }
        );
        assert_eq!((items[2].start, items[2].end), (10, 22));
        assert_eq!(
            items[2].value,
            Json::Array(&[
                Node {
                    value: Json::Bool(true),
                    start: 11,
                    end: 15
                },
                Node {
                    value: Json::Null,
                    start: 17,
                    end: 21
                },
            ])
        );
        assert_eq!(
            items[3],
            Node {
                value: Json::Object(&[]),
                start: 24,
                end: 26
            }
        );
    }

    #[test]
    fn array_errors() {
        assert_err("[", 1, "unexpected end of input inside an array");
        assert_err("[1", 2, "unexpected end of input inside an array");
        assert_err("[1,", 3, "unexpected end of input inside an array");
        assert_err("[1, ", 4, "unexpected end of input inside an array");
        assert_err(
            "[1,]",
            3,
            "expected a JSON value after `,` in an array, found `]` (trailing commas are not allowed)",
        );
        assert_err(
            "[1 2]",
            3,
            "expected `,` or `]` after an array element, found `2`",
        );
        assert_err("[1}", 2, "expected `,` or `]` after an array element, found `}`");
        assert_err(
            "[1;2]",
            2,
            "expected `,` or `]` after an array element, found `;`",
        );
        assert_err("[,1]", 1, "expected a JSON value, found `,`");
        assert_err("[1,,2]", 3, "expected a JSON value, found `,`");
        assert_err("[1]]", 3, "unexpected `]` after the JSON value");
        assert_err("['a']", 1, "expected a JSON value, found `'`");
    }

    // ---- objects ---------------------------------------------------------

    #[test]
    fn objects() {
        assert_eq!(
            ok("{}"),
            Node {
                value: Json::Object(&[]),
                start: 0,
                end: 2
            }
        );
        let text = r#"{"Effect": "Allow", "n": 1, "x": {"y": []}}"#;
        let n = ok(text);
        assert_eq!((n.start, n.end), (0, text.len()));
        let Json::Object(members) = &n.value else {
            panic!("not an object")
        };
        assert_eq!(members.len(), 3);
        assert_eq!(members[0].key, "Effect");
        assert_eq!(members[0].key_start, 1);
        assert_eq!(
            members[0].value,
            Node {
                value: string("Allow"),
                start: 11,
                end: 18
            }
        );
        assert_eq!(members[1].key, "n");
        assert_eq!(members[1].key_start, 20);
        assert_eq!(
            members[1].value,
            Node {
                value: num("1"),
                start: 25,
                end: 26
            }
        );
        assert_eq!(members[2].key_start, 28);
        assert_eq!(n.get("Effect").and_then(Node::as_str), Some("Allow"));
        assert_eq!(n.get("effect"), None);
        assert_eq!(
            n.get("x").and_then(|x| x.get("y")).map(|y| y.value.type_name()),
            Some("array")
        );
        // Member order is preserved.
        let keys: Vec<&str> = members.iter().map(|m| m.key).collect();
        assert_eq!(keys, ["Effect", "n", "x"]);
    }

    #[test]
    fn object_keys_with_escapes() {
        let n = ok(r#"{"a\u0062c": 1, "\u00e9": 2}"#);
        assert!(n.get("abc").is_some());
        assert!(n.get("é").is_some());
        // Escaped and unescaped spellings of the same key are duplicates.
        assert_err(r#"{"abc": 1, "a\u0062c": 2}"#, 11, "duplicate key `abc`");
    }

    #[test]
    fn object_errors() {
        assert_err("{", 1, "unexpected end of input inside an object");
        assert_err("{\"a\"", 4, "unexpected end of input inside an object");
        assert_err("{\"a\":", 5, "unexpected end of input inside an object");
        assert_err("{\"a\": ", 6, "unexpected end of input inside an object");
        assert_err("{\"a\":1", 6, "unexpected end of input inside an object");
        assert_err("{\"a\":1,", 7, "unexpected end of input inside an object");
        assert_err("{\"a\" 1}", 5, "expected `:` after an object key, found `1`");
        assert_err("{\"a\"=1}", 4, "expected `:` after an object key, found `=`");
        assert_err(
            "{\"a\":1]",
            6,
            "expected `,` or `}` after an object member, found `]`",
        );
        assert_err(
            "{\"a\":1 \"b\":2}",
            7,
            "expected `,` or `}` after an object member, found `\"`",
        );
        assert_err(
            "{\"a\":1,}",
            7,
            "expected a string key after `,` in an object, found `}` (trailing commas are not allowed)",
        );
        assert_err(
            "{\"a\":1, b:2}",
            8,
            "expected a string key after `,` in an object, found `b`",
        );
        assert_err("{a:1}", 1, "expected a string key or `}` in an object, found `a`");
        assert_err(
            "{'a':1}",
            1,
            "expected a string key or `}` in an object, found `'`",
        );
        assert_err("{1:1}", 1, "expected a string key or `}` in an object, found `1`");
        assert_err("{\"a\":}", 5, "expected a JSON value, found `}`");
        assert_err("{\"a\":1}}", 7, "unexpected `}` after the JSON value");
    }

    #[test]
    fn duplicate_keys() {
        let text = r#"{"Effect": "Allow", "Effect": "Deny"}"#;
        assert_err(text, 20, "duplicate key `Effect`");
        // Keys are case-sensitive.
        ok(r#"{"Effect": 1, "effect": 2}"#);
        // Nested objects have their own key sets.
        ok(r#"{"a": {"a": {"a": 1}}, "b": {"a": 2}}"#);
        assert_err(r#"{"a": {"b": 1, "b": 2}}"#, 15, "duplicate key `b`");
        // Control characters in a key are escaped in the message.
        assert_err(r#"{"a\n": 1, "a\n": 2}"#, 11, "duplicate key `a\\n`");
    }

    #[test]
    fn duplicate_keys_in_large_objects() {
        // Exercise the hash-set path, with the duplicate both before and after the switch.
        let mut text = String::from("{");
        let mut offsets = Vec::new();
        for i in 0..100 {
            if i > 0 {
                text.push(',');
            }
            offsets.push(text.len());
            text.push_str(&format!("\"k{i}\":{i}"));
        }
        let valid = format!("{text}}}");
        let n = ok(&valid);
        let Json::Object(members) = &n.value else {
            panic!("not an object")
        };
        assert_eq!(members.len(), 100);
        for (m, off) in members.iter().zip(&offsets) {
            assert_eq!(m.key_start, *off);
        }
        assert_eq!(n.get("k57").map(|v| v.value), Some(num("57")));

        for dup in ["k0", "k5", "k22", "k23", "k24", "k99"] {
            let bad = format!("{text},\"{dup}\":0}}");
            assert_err(&bad, text.len() + 1, &format!("duplicate key `{dup}`"));
        }
        // Duplicate right at the threshold.
        let mut t = String::from("{");
        for i in 0..(DUP_HASH_THRESHOLD - 1) {
            t.push_str(&format!("\"k{i}\":0,"));
        }
        let at = t.len();
        t.push_str("\"k3\":0}");
        assert_err(&t, at, "duplicate key `k3`");
    }

    // ---- whole documents -------------------------------------------------

    #[test]
    fn empty_and_whitespace() {
        assert_err("", 0, "unexpected end of input, expected a JSON value");
        assert_err("   \n\t ", 6, "unexpected end of input, expected a JSON value");
        assert_err("\u{feff}", 3, "unexpected end of input, expected a JSON value");
        // Non-JSON whitespace is not skipped.
        assert_err("\u{a0}1", 0, "expected a JSON value, found `\u{a0}`");
        assert_err("\u{c}1", 0, "expected a JSON value, found `\\u{c}`");
        assert_err("1\u{b}", 1, "unexpected `\\u{b}` after the JSON value");
    }

    #[test]
    fn bom_is_skipped_and_offsets_include_it() {
        let n = ok("\u{feff}{\"a\": 1}");
        assert_eq!((n.start, n.end), (3, 11));
        let Json::Object(members) = &n.value else {
            panic!("not an object")
        };
        assert_eq!(members[0].key_start, 4);
        assert_eq!(ok("\u{feff} [ ] ").start, 4);
        // A BOM anywhere else is an error.
        assert_err(" \u{feff}1", 1, "expected a JSON value, found `\u{feff}`");
        assert_err("1\u{feff}", 1, "unexpected `\u{feff}` after the JSON value");
    }

    #[test]
    fn trailing_content() {
        assert_err("{} x", 3, "unexpected `x` after the JSON value");
        assert_err("{}{}", 2, "unexpected `{` after the JSON value");
        assert_err("null null", 5, "unexpected `n` after the JSON value");
        assert_err("\"a\" é", 4, "unexpected `é` after the JSON value");
        assert_err("{} // comment", 3, "unexpected `/` after the JSON value");
        ok("{} \r\n\t ");
    }

    #[test]
    fn comments_are_rejected() {
        assert_err("/* c */ {}", 0, "expected a JSON value, found `/`");
        assert_err(
            "{\"a\": 1 /* c */}",
            8,
            "expected `,` or `}` after an object member, found `/`",
        );
    }

    #[test]
    fn scalar_top_level_values() {
        assert_eq!(ok("42").value, num("42"));
        assert_eq!(ok("\"s\"").value, string("s"));
        assert_eq!(ok(" null ").value, Json::Null);
    }

    #[test]
    fn nesting_limit() {
        let deep_ok = format!("{}{}", "[".repeat(MAX_DEPTH), "]".repeat(MAX_DEPTH));
        ok(&deep_ok);
        let too_deep = format!("{}{}", "[".repeat(MAX_DEPTH + 1), "]".repeat(MAX_DEPTH + 1));
        assert_err(
            &too_deep,
            MAX_DEPTH,
            "nesting too deep: more than 128 levels of arrays and objects",
        );
        // Objects count too, and mixing works.
        let mut mixed = String::new();
        for _ in 0..MAX_DEPTH / 2 {
            mixed.push_str("{\"a\":[");
        }
        mixed.push('1');
        for _ in 0..MAX_DEPTH / 2 {
            mixed.push_str("]}");
        }
        ok(&mixed);
        let mut mixed = String::new();
        for _ in 0..MAX_DEPTH / 2 {
            mixed.push_str("{\"a\":[");
        }
        let at = mixed.len();
        mixed.push_str("{}");
        assert_err(
            &mixed,
            at,
            "nesting too deep: more than 128 levels of arrays and objects",
        );
        // Siblings do not accumulate depth.
        let siblings = format!(
            "[{}]",
            vec![format!("{}{}", "[".repeat(100), "]".repeat(100)); 10].join(",")
        );
        ok(&siblings);
        // A huge unbalanced input fails fast without overflowing the stack.
        let e = err(&"[".repeat(100_000));
        assert_eq!(e.offset, MAX_DEPTH);
    }

    #[test]
    fn type_names() {
        assert_eq!(Json::Null.type_name(), "null");
        assert_eq!(Json::Bool(false).type_name(), "boolean");
        assert_eq!(num("1").type_name(), "number");
        assert_eq!(string("").type_name(), "string");
        assert_eq!(Json::Array(&[]).type_name(), "array");
        assert_eq!(Json::Object(&[]).type_name(), "object");
    }

    #[test]
    fn accessors() {
        let n = ok(r#"{"s": "x", "n": 1, "o": {"k": "v"}}"#);
        assert_eq!(n.as_str(), None);
        assert_eq!(n.get("s").and_then(Node::as_str), Some("x"));
        assert_eq!(n.get("n").and_then(Node::as_str), None);
        assert_eq!(n.get("missing"), None);
        assert_eq!(
            n.get("o").and_then(|o| o.get("k")).and_then(Node::as_str),
            Some("v")
        );
        // `get` on a non-object returns None.
        assert_eq!(ok("[1]").get("0"), None);
        assert_eq!(ok("\"s\"").get("s"), None);
        assert_eq!(ok("\"s\"").as_str(), Some("s"));
    }

    // ---- line_col --------------------------------------------------------

    #[test]
    fn line_col_ascii() {
        let t = "ab\ncd\n\nef";
        assert_eq!(line_col(t, 0), (1, 1));
        assert_eq!(line_col(t, 1), (1, 2));
        assert_eq!(line_col(t, 2), (1, 3)); // the newline itself
        assert_eq!(line_col(t, 3), (2, 1));
        assert_eq!(line_col(t, 4), (2, 2));
        assert_eq!(line_col(t, 6), (3, 1));
        assert_eq!(line_col(t, 7), (4, 1));
        assert_eq!(line_col(t, 9), (4, 3)); // end of text
        assert_eq!(line_col(t, 1000), (4, 3)); // clamped
        assert_eq!(line_col("", 0), (1, 1));
    }

    #[test]
    fn line_col_multibyte() {
        // "é" is 2 bytes, "€" 3, "😀" 4.
        let t = "é€😀x\n😀y";
        assert_eq!(line_col(t, 0), (1, 1));
        assert_eq!(line_col(t, 2), (1, 2));
        assert_eq!(line_col(t, 5), (1, 3));
        assert_eq!(line_col(t, 9), (1, 4));
        assert_eq!(line_col(t, 10), (1, 5));
        assert_eq!(line_col(t, 11), (2, 1));
        assert_eq!(line_col(t, 15), (2, 2));
        // An offset inside a character points at that character's column + 1.
        assert_eq!(line_col(t, 1), (1, 2));
    }

    #[test]
    fn line_col_crlf_and_bom() {
        let t = "a\r\nb";
        assert_eq!(line_col(t, 3), (2, 1));
        assert_eq!(line_col(t, 1), (1, 2));
        // The BOM is not counted as a column.
        let t = "\u{feff}{x}";
        assert_eq!(line_col(t, 3), (1, 1));
        assert_eq!(line_col(t, 4), (1, 2));
        let t = "\u{feff}{\n \u{feff}x";
        assert_eq!(line_col(t, 8), (2, 3));
    }

    #[test]
    fn line_col_of_real_errors() {
        let text = "{\n  \"Version\": \"2012-10-17\",\n  \"Statement\": [\n    {\"Effect\": \"Allow\", \"Effect\": \"Deny\"}\n  ]\n}";
        let e = err(text);
        assert_eq!(e.message, "duplicate key `Effect`");
        assert_eq!(line_col(text, e.offset), (4, 25));

        let text = "{\n  \"Sid\": \"ünïcödé\" ]";
        let e = err(text);
        assert_eq!(e.message, "expected `,` or `}` after an object member, found `]`");
        assert_eq!(line_col(text, e.offset), (2, 20));

        let text = "[\n\"😀😀\n\"]";
        let e = err(text);
        assert_eq!(
            e.message,
            "unescaped control character U+000A in string (use `\\n`)"
        );
        assert_eq!(line_col(text, e.offset), (2, 4));
    }

    // ---- realistic document ---------------------------------------------

    fn policy_document() -> String {
        let mut statements = Vec::new();
        for i in 0..24 {
            statements.push(format!(
                r#"    {{
      "Sid": "Statement{i}",
      "Effect": "{}",
      "Action": ["s3:GetObject", "s3:PutObject", "s3:List*"],
      "Resource": ["arn:aws:s3:::bucket-{i}/*", "arn:aws:s3:::bucket-{i}"],
      "Condition": {{"IpAddress": {{"aws:SourceIp": "203.0.113.0/24"}}, "NumericLessThan": {{"s3:max-keys": "10"}}}}
    }}"#,
                if i % 3 == 0 { "Deny" } else { "Allow" }
            ));
        }
        format!(
            "{{\n  \"Version\": \"2012-10-17\",\n  \"Statement\": [\n{}\n  ]\n}}\n",
            statements.join(",\n")
        )
    }

    #[test]
    fn realistic_policy() {
        let text = policy_document();
        let n = ok(&text);
        assert_eq!(n.get("Version").and_then(Node::as_str), Some("2012-10-17"));
        let Some(Json::Array(stmts)) = n.get("Statement").map(|s| &s.value) else {
            panic!("no statements")
        };
        assert_eq!(stmts.len(), 24);
        let s5 = &stmts[5];
        assert_eq!(s5.get("Sid").and_then(Node::as_str), Some("Statement5"));
        assert_eq!(&text[s5.start..s5.start + 1], "{");
        assert_eq!(&text[s5.end - 1..s5.end], "}");
        let cond = s5
            .get("Condition")
            .and_then(|c| c.get("IpAddress"))
            .and_then(|c| c.get("aws:SourceIp"));
        let cond = cond.expect("condition");
        assert_eq!(&text[cond.start..cond.end], "\"203.0.113.0/24\"");
        // Every node's span re-parses to the same value.
        fn check(text: &str, node: &Node<'_>) {
            let sub = parse(&text[node.start..node.end]).expect("span reparses");
            assert_eq!(sub.value.type_name(), node.value.type_name());
            match &node.value {
                Json::Array(items) => items.iter().for_each(|i| check(text, i)),
                Json::Object(members) => members.iter().for_each(|m| {
                    assert_eq!(&text[m.key_start..m.key_start + 1], "\"");
                    check(text, &m.value);
                }),
                _ => assert_eq!(sub.value, node.value),
            }
        }
        check(&text, &n);
    }

    #[test]
    fn truncation_anywhere_is_an_error_not_a_panic() {
        let text = policy_document();
        for cut in 0..text.trim_end().len() {
            if !text.is_char_boundary(cut) {
                continue;
            }
            let prefix = &text[..cut];
            if prefix.trim().is_empty() {
                continue;
            }
            match parse(prefix) {
                Ok(_) => panic!("prefix of length {cut} parsed"),
                Err(e) => assert!(e.offset <= cut, "offset {} > {cut}", e.offset),
            }
        }
    }

    #[test]
    fn every_single_byte_mutation_is_handled() {
        // No panics, and error offsets stay within the text.
        let base = r#"{"a": [1, -2.5e3, "x\u00e9\n", true, null, {"b": false}]}"#;
        let replacements = [
            '"', '\\', '{', '}', '[', ']', ',', ':', '0', 'e', '-', ' ', '\n', 'u', 'é',
        ];
        for i in 0..base.len() {
            for r in replacements {
                let mut t = String::with_capacity(base.len() + 2);
                t.push_str(&base[..i]);
                t.push(r);
                t.push_str(&base[i + 1..]);
                if let Err(e) = parse(&t) {
                    assert!(e.offset <= t.len());
                    assert!(!e.message.is_empty());
                    assert!(
                        e.message.starts_with(|c: char| c.is_ascii_lowercase()),
                        "{}",
                        e.message
                    );
                }
            }
        }
    }
}
