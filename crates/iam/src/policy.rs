//! Policy documents: parsing with precise errors, compiling to an evaluation-friendly form.
//!
//! <https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_grammar.html>

use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt;

use crate::condition::{self, Base, Condition, SetOp};
use crate::json::{self, Json, Node};
use crate::pattern::{self, Pattern};

/// Where a policy is attached; decides which elements it may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PolicyKind {
    /// An identity-based policy (user, group or role; inline or managed).
    Identity,
    /// A resource-based policy (bucket policy, key policy, queue policy, ...).
    Resource,
    /// A role trust policy (the resource policy of `sts:AssumeRole*`).
    Trust,
    /// A permissions boundary.
    PermissionsBoundary,
    /// A session policy.
    Session,
    /// A service control policy.
    Scp,
    /// A resource control policy.
    Rcp,
}

impl PolicyKind {
    /// The name used in explanations and scenario files.
    pub fn name(self) -> &'static str {
        match self {
            PolicyKind::Identity => "identity",
            PolicyKind::Resource => "resource",
            PolicyKind::Trust => "trust",
            PolicyKind::PermissionsBoundary => "permissionsBoundary",
            PolicyKind::Session => "session",
            PolicyKind::Scp => "scp",
            PolicyKind::Rcp => "rcp",
        }
    }

    /// The kind a standalone document most likely has: resource-based when a statement names
    /// a principal, identity-based otherwise.
    pub fn guess(text: &str) -> PolicyKind {
        let names_principal = |n: &Node<'_>| n.get("Principal").is_some() || n.get("NotPrincipal").is_some();
        let names_any_principal = |arena: &bumpalo::Bump| {
            let Ok(outer) = json::parse(text, arena) else {
                return false;
            };
            let root = match outer.value {
                Json::String(s) => match json::parse(s, arena) {
                    Ok(n) => n,
                    Err(_) => return false,
                },
                _ => outer,
            };
            match root.get("Statement").map(|s| &s.value) {
                Some(Json::Array(items)) => items.iter().any(names_principal),
                Some(Json::Object(_)) => root.get("Statement").is_some_and(names_principal),
                _ => false,
            }
        };
        if json::with_arena(names_any_principal) {
            PolicyKind::Resource
        } else {
            PolicyKind::Identity
        }
    }

    /// Parses a kind name (`identity`, `resource`, `trust`, `permissionsBoundary` or
    /// `boundary`, `session`, `scp`, `rcp`).
    pub fn from_name(name: &str) -> Option<PolicyKind> {
        Some(match name {
            "identity" => PolicyKind::Identity,
            "resource" => PolicyKind::Resource,
            "trust" => PolicyKind::Trust,
            "permissionsBoundary" | "boundary" => PolicyKind::PermissionsBoundary,
            "session" => PolicyKind::Session,
            "scp" => PolicyKind::Scp,
            "rcp" => PolicyKind::Rcp,
            _ => return None,
        })
    }

    fn takes_principal(self) -> bool {
        matches!(self, PolicyKind::Resource | PolicyKind::Trust | PolicyKind::Rcp)
    }
}

/// A document that is not a valid policy: where and what.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path} (line {line}, column {column}): {message}")]
pub struct PolicyError {
    /// JSON path of the offending element, such as `$.Statement[0].Effect`.
    pub path: String,
    /// 1-based line.
    pub line: usize,
    /// 1-based column (characters).
    pub column: usize,
    /// What is wrong and how to fix it.
    pub message: String,
}

/// A likely mistake in a valid policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyWarning {
    /// JSON path of the element.
    pub path: String,
    /// 1-based line.
    pub line: usize,
    /// 1-based column.
    pub column: usize,
    /// What looks wrong.
    pub message: String,
}

impl fmt::Display for PolicyWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} (line {}, column {}): {}",
            self.path, self.line, self.column, self.message
        )
    }
}

/// `Allow` or `Deny`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    /// Grants.
    Allow,
    /// Denies, and wins over every Allow.
    Deny,
}

impl Effect {
    /// `Allow` / `Deny`.
    pub fn as_str(self) -> &'static str {
        match self {
            Effect::Allow => "Allow",
            Effect::Deny => "Deny",
        }
    }
}

/// One entry of a Principal element.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum PrincipalEntry {
    /// `"*"` or `{"AWS": "*"}`: everyone, anonymous included.
    Everyone,
    /// An account id or `arn:...:iam::ACCOUNT:root`.
    Account(String),
    /// A user, role, session or federated-user ARN.
    Arn(String),
    /// A service principal.
    Service(String),
    /// A web-identity / SAML provider.
    Federated(String),
    /// A canonical user id (S3); never matches an IAM principal.
    CanonicalUser(String),
}

/// The Principal / NotPrincipal element of a statement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum PrincipalRule {
    /// No Principal element (identity-based policies).
    None,
    Principal(Vec<PrincipalEntry>),
    NotPrincipal(Vec<PrincipalEntry>),
}

/// The Action / NotAction element.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum ActionRule {
    Action(PatternSet),
    NotAction(PatternSet),
}

/// The patterns of an Action / NotAction or Resource / NotResource element. The simple ones
/// (literal text, literal text then `*`, and `*` alone: nearly all of them) are packed in one
/// buffer; the others are [`Pattern`]s. Compiling an element thus allocates once or twice,
/// whatever its number of values.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct PatternSet {
    /// Each simple pattern as a kind byte ([`EXACT`], [`PREFIX`] or [`ANY`]), its length
    /// (2 bytes, little-endian) and its bytes.
    packed: Vec<u8>,
    /// The other patterns (and the rare simple one too long for a 2-byte length).
    others: Vec<Pattern>,
}

const EXACT: u8 = 0;
const PREFIX: u8 = 1;
const ANY: u8 = 2;

/// A simple pattern of a [`PatternSet`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Simple<'a> {
    /// Equal to these bytes.
    Exact(&'a [u8]),
    /// Starts with these bytes.
    Prefix(&'a [u8]),
    /// Anything.
    Any,
}

/// The simple patterns of a [`PatternSet`] buffer.
struct Packed<'a>(&'a [u8]);

impl<'a> Iterator for Packed<'a> {
    type Item = Simple<'a>;

    fn next(&mut self) -> Option<Simple<'a>> {
        let ([kind, l0, l1], rest) = self.0.split_first_chunk::<3>().map(|(h, r)| (*h, r))?;
        let (bytes, rest) = rest.split_at_checked(usize::from(u16::from_le_bytes([l0, l1])))?;
        self.0 = rest;
        Some(match kind {
            EXACT => Simple::Exact(bytes),
            PREFIX => Simple::Prefix(bytes),
            _ => Simple::Any,
        })
    }
}

impl PatternSet {
    /// An empty set with room for `bytes` bytes of simple patterns.
    fn with_capacity(bytes: usize) -> PatternSet {
        PatternSet {
            packed: Vec::with_capacity(bytes),
            others: Vec::new(),
        }
    }

    fn packed(&self) -> Packed<'_> {
        Packed(&self.packed)
    }

    /// Appends a simple pattern; returns where its bytes start in `packed`, or `None` when it
    /// is too long to pack.
    fn push_simple(&mut self, kind: u8, bytes: &[u8]) -> Option<usize> {
        let [l0, l1] = u16::try_from(bytes.len()).ok()?.to_le_bytes();
        self.packed.extend_from_slice(&[kind, l0, l1]);
        let at = self.packed.len();
        self.packed.extend_from_slice(bytes);
        Some(at)
    }

    /// Appends a compiled pattern, packed when it is simple.
    fn push(&mut self, p: Pattern) {
        let packed = match &p {
            Pattern::Any => self.push_simple(ANY, b""),
            Pattern::Exact(s) => self.push_simple(EXACT, s.as_bytes()),
            Pattern::Prefix(s) => self.push_simple(PREFIX, s.as_bytes()),
            _ => None,
        };
        if packed.is_none() {
            self.others.push(p);
        }
    }

    /// Appends the pattern `text` (see [`pattern::compile`], with wildcards); simple patterns
    /// are packed without compiling them.
    fn add(&mut self, text: &str, variables: bool, arn_segments: bool) -> Result<(), String> {
        let (mut wildcards, mut dollar) = (0usize, false);
        for &c in text.as_bytes() {
            match c {
                b'*' | b'?' => wildcards += 1,
                b'$' => dollar = true,
                _ => {}
            }
        }
        self.add_scanned(text, wildcards, dollar, variables, arn_segments)
    }

    /// [`PatternSet::add`] for a text whose `*` and `?` are counted (`wildcards`) and whose
    /// `$` are known (`dollar`) already.
    fn add_scanned(
        &mut self,
        text: &str,
        wildcards: usize,
        dollar: bool,
        variables: bool,
        arn_segments: bool,
    ) -> Result<(), String> {
        let b = text.as_bytes();
        if !(variables && dollar) {
            let packed = match (wildcards, b.split_last()) {
                (0, _) => self.push_simple(EXACT, b),
                // A star that ends the text is free (it ends its ARN segment).
                (1, Some((b'*', []))) => self.push_simple(ANY, b""),
                (1, Some((b'*', lit))) => self.push_simple(PREFIX, lit),
                _ => None,
            };
            if packed.is_some() {
                return Ok(());
            }
        }
        self.push(pattern::compile(text, variables, true, arn_segments)?);
        Ok(())
    }

    /// Whether `text` matches one of the patterns.
    #[inline]
    pub(crate) fn matches(&self, text: &str, resolver: &dyn pattern::Resolver) -> bool {
        self.matches_packed(text.as_bytes())
            || (!self.others.is_empty() && self.matches_others(text, resolver))
    }

    /// Whether `t` matches one of the simple patterns: a tight walk over the buffer
    /// (evaluation's hot path).
    #[inline(always)]
    fn matches_packed(&self, t: &[u8]) -> bool {
        let mut rest = self.packed.as_slice();
        while let Some((&[kind, l0, l1], tail)) = rest.split_first_chunk::<3>() {
            let Some((bytes, tail)) = tail.split_at_checked(usize::from(u16::from_le_bytes([l0, l1]))) else {
                break;
            };
            let hit = match kind {
                EXACT => same_bytes(bytes, t),
                PREFIX => t.get(..bytes.len()).is_some_and(|head| same_bytes(bytes, head)),
                _ => true,
            };
            if hit {
                return true;
            }
            rest = tail;
        }
        false
    }

    #[inline(never)]
    fn matches_others(&self, text: &str, resolver: &dyn pattern::Resolver) -> bool {
        self.others.iter().any(|p| p.matches(text, resolver))
    }
}

/// `a == b`, inline and eight bytes at a time: the values compared while evaluating are
/// short, where a call to `memcmp` costs more than the comparison.
#[inline]
fn same_bytes(a: &[u8], b: &[u8]) -> bool {
    let n = a.len();
    if n != b.len() {
        return false;
    }
    if n < 8 {
        return a.iter().zip(b).all(|(x, y)| x == y);
    }
    let word = |s: &[u8], i: usize| {
        s.get(i..)
            .and_then(<[u8]>::first_chunk::<8>)
            .map(|w| u64::from_ne_bytes(*w))
    };
    let mut i = 0;
    while i + 8 < n {
        if word(a, i) != word(b, i) {
            return false;
        }
        i += 8;
    }
    // The last eight bytes (overlapping the words already compared).
    word(a, n - 8) == word(b, n - 8)
}

/// Byte classes for classifying an action in one pass (bit flags, or-ed over its bytes).
const ACTION_ODD: u8 = 1; // comma or ASCII whitespace: never a valid action
const ACTION_COLON: u8 = 2;
const ACTION_UPPER: u8 = 4;
const ACTION_WILD: u8 = 8;
const ACTION_NON_ASCII: u8 = 16;

static ACTION_CLASS: [u8; 256] = {
    let mut table = [0u8; 256];
    let mut b = 0usize;
    while b < 256 {
        table[b] = match b as u8 {
            b',' | b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c => ACTION_ODD,
            b':' => ACTION_COLON,
            b'A'..=b'Z' => ACTION_UPPER,
            b'*' | b'?' => ACTION_WILD,
            0x80.. => ACTION_NON_ASCII,
            _ => 0,
        };
        b += 1;
    }
    table
};

/// The bytes [`ResourceScan`] looks at: `:`, `*`, `?` and `$`.
static RESOURCE_SPECIAL: [bool; 256] = {
    let mut table = [false; 256];
    table[b':' as usize] = true;
    table[b'*' as usize] = true;
    table[b'?' as usize] = true;
    table[b'$' as usize] = true;
    table
};

/// The index of the first byte at or after `i` that is `:`, `*`, `?` or `$`, or `b.len()`.
/// Eight bytes at a time (SWAR, as `json::scan_string`), then byte by byte.
#[inline]
fn next_resource_special(b: &[u8], mut i: usize) -> usize {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    let zero_byte = |x: u64| x.wrapping_sub(ONES) & !x;
    while let Some(chunk) = b.get(i..).and_then(<[u8]>::first_chunk::<8>) {
        let w = u64::from_le_bytes(*chunk);
        let found = (zero_byte(w ^ (ONES * u64::from(b':')))
            | zero_byte(w ^ (ONES * u64::from(b'*')))
            | zero_byte(w ^ (ONES * u64::from(b'?')))
            | zero_byte(w ^ (ONES * u64::from(b'$'))))
            & HIGHS;
        if found != 0 {
            // The lowest flagged byte is exact (borrows only run upwards).
            return i + (found.trailing_zeros() / 8) as usize;
        }
        i += 8;
    }
    while b.get(i).is_some_and(|&c| !RESOURCE_SPECIAL[usize::from(c)]) {
        i += 1;
    }
    i
}

/// What one pass over a resource's bytes finds (instead of a scan per question).
struct ResourceScan {
    /// The number of `*` and `?`.
    wildcards: usize,
    /// Whether there is a `$`.
    dollar: bool,
    /// The number of `:`.
    colons: usize,
    /// Whether a `*` or `?` comes after the second `:` and before the third.
    wild_in_service: bool,
    /// The number of `:` before the first `${`, if there is one.
    variable_colons: Option<usize>,
}

impl ResourceScan {
    fn of(b: &[u8]) -> ResourceScan {
        let mut scan = ResourceScan {
            wildcards: 0,
            dollar: false,
            colons: 0,
            wild_in_service: false,
            variable_colons: None,
        };
        let mut i = 0usize;
        loop {
            // Most bytes are none of the four: skip to the next one that is.
            i = next_resource_special(b, i);
            let Some(&c) = b.get(i) else {
                break;
            };
            match c {
                b':' => scan.colons += 1,
                b'*' | b'?' => {
                    scan.wildcards += 1;
                    scan.wild_in_service |= scan.colons == 2;
                }
                b'$' => {
                    scan.dollar = true;
                    if scan.variable_colons.is_none() && b.get(i + 1) == Some(&b'{') {
                        scan.variable_colons = Some(scan.colons);
                    }
                }
                _ => {}
            }
            i += 1;
        }
        scan
    }
}

/// The Resource / NotResource element.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum ResourceRule {
    /// No Resource element (trust policies): every resource.
    Any,
    Resource(PatternSet),
    NotResource(PatternSet),
}

/// A compiled statement.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Statement {
    /// The Sid: its byte range in the policy's `sids`.
    pub(crate) sid: Option<[u32; 2]>,
    pub(crate) effect: Effect,
    pub(crate) principal: PrincipalRule,
    pub(crate) action: ActionRule,
    pub(crate) resource: ResourceRule,
    pub(crate) conditions: Vec<Condition>,
}

/// Statements grouped by the actions they can match, so that evaluation never looks at a
/// statement whose actions cannot match the request.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct ActionIndex {
    /// Lower-case literal action → statements naming it (and no wildcard of that service).
    exact: KeyedIds,
    /// Lower-case service prefix → statements with a wildcard action in that service.
    service: KeyedIds,
    /// Statements that can match any service (`*`, wildcard services, NotAction).
    always: Vec<u32>,
}

/// A map from strings to lists of statement indexes in four allocations: the distinct keys
/// concatenated, one entry per distinct key (its byte range and its range of statements), the
/// statement indexes grouped by key, and an open-addressing hash table of entry numbers.
/// A lookup hashes the key once and compares it with the few entries on its probe sequence,
/// whatever the number of statements.
///
/// The hash is fixed (not keyed): crafted keys that collide can only make lookups in their own
/// policy degrade towards a scan of that policy's actions, which is bounded by the policy's size.
#[derive(Debug, Clone, Default, PartialEq)]
struct KeyedIds {
    text: Vec<u8>,
    /// Per distinct key: `[text start, text end, ids start, ids end]`.
    entries: Vec<[u32; 4]>,
    ids: Vec<u32>,
    /// `0` for an empty slot, otherwise an entry number plus one. Empty or a power of two long,
    /// and at most half full.
    slots: Vec<u32>,
}

/// A fast, fixed hash of a short string (8 bytes per step).
fn key_hash(key: &[u8]) -> u64 {
    const K: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut h = key.len() as u64;
    let mut chunks = key.chunks_exact(8);
    for chunk in &mut chunks {
        let mut w = [0u8; 8];
        w.copy_from_slice(chunk);
        h = (h.rotate_left(23) ^ u64::from_le_bytes(w)).wrapping_mul(K);
    }
    let rest = chunks.remainder();
    if !rest.is_empty() {
        let mut w = [0u8; 8];
        w.get_mut(..rest.len()).unwrap_or_default().copy_from_slice(rest);
        h = (h.rotate_left(23) ^ u64::from_le_bytes(w)).wrapping_mul(K);
    }
    h ^ (h >> 31)
}

impl KeyedIds {
    /// Builds the map from (key, statement) pairs listed in statement order (a statement that
    /// lists a key twice is kept once). No sorting: each pair is hashed into the table once
    /// (its entry found or made), then the statements are laid out by entry, in statement
    /// order.
    fn build<K>(pairs: &[(K, u32)], bytes: impl Fn(&K) -> &[u8]) -> KeyedIds {
        if pairs.is_empty() {
            return KeyedIds::default();
        }
        let to_u32 = |n: usize| u32::try_from(n).unwrap_or(u32::MAX);
        // At most `pairs.len()` distinct keys, so the table stays at most half full.
        let size = (pairs.len() * 2).next_power_of_two();
        let mask = size - 1;
        let mut out = KeyedIds {
            text: Vec::with_capacity(pairs.iter().map(|(k, _)| bytes(k).len()).sum()),
            entries: Vec::with_capacity(pairs.len()),
            ids: Vec::new(),
            slots: vec![0; size],
        };
        // The entry of each pair, for laying out the statements.
        let mut entry_of: Vec<u32> = Vec::with_capacity(pairs.len());
        for (key, id) in pairs {
            let key = bytes(key);
            let mut slot = key_hash(key) as usize & mask;
            let entry = loop {
                match out.slots.get(slot).copied() {
                    Some(0) | None => {
                        let n = out.entries.len();
                        let start = to_u32(out.text.len());
                        out.text.extend_from_slice(key);
                        out.entries.push([start, to_u32(out.text.len()), 0, 0]);
                        if let Some(s) = out.slots.get_mut(slot) {
                            *s = to_u32(n + 1);
                        }
                        break n;
                    }
                    Some(s) => {
                        let n = s as usize - 1;
                        if same_bytes(out.key(n), key) {
                            break n;
                        }
                        slot = (slot + 1) & mask;
                    }
                }
            };
            // Count the pair in `[2]` for now, and keep its statement in `[3]`: the pairs of
            // an entry come in statement order, so a repeat is the entry's last statement.
            let Some(e) = out.entries.get_mut(entry) else {
                continue;
            };
            if e[2] > 0 && e[3] == *id {
                entry_of.push(u32::MAX);
                continue;
            }
            e[2] += 1;
            e[3] = *id;
            entry_of.push(to_u32(entry));
        }
        // Each entry's range of `ids`; `[3]` is the fill cursor, which ends at the range end.
        let mut at = 0u32;
        for e in &mut out.entries {
            let count = e[2];
            e[2] = at;
            e[3] = at;
            at += count;
        }
        out.ids = vec![0; at as usize];
        for ((_, id), entry) in pairs.iter().zip(&entry_of) {
            if let Some(e) = out.entries.get_mut(*entry as usize) {
                if let Some(slot) = out.ids.get_mut(e[3] as usize) {
                    *slot = *id;
                }
                e[3] += 1;
            }
        }
        out
    }

    fn key(&self, n: usize) -> &[u8] {
        let [start, end, ..] = self.entries.get(n).copied().unwrap_or_default();
        self.text.get(start as usize..end as usize).unwrap_or_default()
    }

    /// The statements listed under `key`.
    fn get(&self, key: &str) -> &[u32] {
        if self.slots.is_empty() {
            return &[];
        }
        let key = key.as_bytes();
        let mask = self.slots.len() - 1;
        let mut slot = key_hash(key) as usize & mask;
        // The table is at most half full, so the probe ends at an empty slot.
        while let Some(&s) = self.slots.get(slot) {
            if s == 0 {
                break;
            }
            let n = s as usize - 1;
            if self.key(n) == key {
                let [_, _, from, to] = self.entries.get(n).copied().unwrap_or_default();
                return self.ids.get(from as usize..to as usize).unwrap_or_default();
            }
            slot = (slot + 1) & mask;
        }
        &[]
    }
}

impl ActionIndex {
    /// The statements that can match `action_lower`, each at most once.
    pub(crate) fn candidates<'a>(&'a self, action_lower: &str) -> [&'a [u32]; 3] {
        let service = match action_lower.bytes().position(|b| b == b':') {
            Some(colon) => action_lower.get(..colon).unwrap_or(action_lower),
            None => action_lower,
        };
        [
            self.always.as_slice(),
            self.service.get(service),
            self.exact.get(action_lower),
        ]
    }
}

/// A compiled policy document.
#[derive(Debug, Clone, PartialEq)]
pub struct Policy {
    pub(crate) kind: PolicyKind,
    pub(crate) id: Option<String>,
    /// `2012-10-17` or `2008-10-17`.
    pub(crate) version: Option<&'static str>,
    pub(crate) statements: Vec<Statement>,
    /// The Sids of the statements, one after the other.
    sids: String,
    pub(crate) index: ActionIndex,
    warnings: Vec<PolicyWarning>,
}

impl Policy {
    /// Parses and compiles a policy document given as JSON text: an object, or a JSON string
    /// that contains one.
    pub fn parse(text: &str, kind: PolicyKind) -> Result<Policy, PolicyError> {
        json::with_arena(|arena| {
            let node = json::parse(text, arena).map_err(|e| {
                let (line, column) = json::line_col(text, e.offset);
                PolicyError {
                    path: "$".to_string(),
                    line,
                    column,
                    message: e.message,
                }
            })?;
            Policy::from_node(&node, text, "$", kind)
        })
    }

    /// Compiles a policy from a parsed JSON node of `text`; errors name paths under `base`.
    pub(crate) fn from_node(
        node: &Node<'_>,
        text: &str,
        base: &str,
        kind: PolicyKind,
    ) -> Result<Policy, PolicyError> {
        if let Json::String(inner) = &node.value {
            let inner_base = format!("{base} (inside the policy string)");
            return json::with_arena(|arena| {
                let parsed = json::parse(inner, arena).map_err(|e| {
                    let (line, column) = json::line_col(inner, e.offset);
                    PolicyError {
                        path: inner_base.clone(),
                        line,
                        column,
                        message: e.message,
                    }
                })?;
                Policy::from_node(&parsed, inner, &inner_base, kind)
            });
        }
        let mut c = Compiler {
            text,
            base,
            kind,
            variables: false,
            sids: String::new(),
            warnings: Vec::new(),
        };
        c.policy(node)
    }

    /// Where the policy is attached.
    pub fn kind(&self) -> PolicyKind {
        self.kind
    }

    /// The `Version` element, if any.
    pub fn version(&self) -> Option<&str> {
        self.version
    }

    /// The `Id` element, if any.
    pub fn id(&self) -> Option<&str> {
        self.id.as_deref()
    }

    /// Number of statements.
    pub fn len(&self) -> usize {
        self.statements.len()
    }

    /// True when the policy has no statement.
    pub fn is_empty(&self) -> bool {
        self.statements.is_empty()
    }

    /// The Sid of statement `idx`, if it has one.
    pub fn sid(&self, idx: usize) -> Option<&str> {
        let [start, end] = self.statements.get(idx)?.sid?;
        self.sids.get(start as usize..end as usize)
    }

    /// Likely mistakes found while compiling (`porteiro policy check` prints them).
    pub fn warnings(&self) -> &[PolicyWarning] {
        &self.warnings
    }
}

// ---- compiler ----

/// A JSON path under construction (only formatted on error).
#[derive(Clone, Copy)]
enum Seg<'a> {
    Key(&'a str),
    Index(usize),
}

struct Compiler<'t> {
    text: &'t str,
    base: &'t str,
    kind: PolicyKind,
    variables: bool,
    /// The Sids seen so far, one after the other (see [`Statement::sid`]).
    sids: String,
    warnings: Vec<PolicyWarning>,
}

type Path<'a> = [Seg<'a>];

/// Deepest path an error can name (`Statement[i].Condition.Op.Key[j]` is 6).
const MAX_PATH: usize = 8;

/// A path one segment longer than its parent, on the stack (compiling allocates no paths).
#[derive(Clone, Copy)]
struct SegPath<'a> {
    segs: [Seg<'a>; MAX_PATH],
    len: usize,
}

impl<'a> std::ops::Deref for SegPath<'a> {
    type Target = [Seg<'a>];

    fn deref(&self) -> &[Seg<'a>] {
        self.segs.get(..self.len).unwrap_or(&[])
    }
}

impl<'a> SegPath<'a> {
    /// Replaces the last segment (a loop over the members of one object reuses one path).
    fn set_last(&mut self, seg: Seg<'a>) {
        self.set_from_end(1, seg);
    }

    /// Replaces the `n`th segment from the end (`1` is the last).
    fn set_from_end(&mut self, n: usize, seg: Seg<'a>) {
        if let Some(slot) = self.len.checked_sub(n).and_then(|i| self.segs.get_mut(i)) {
            *slot = seg;
        }
    }
}

/// `path` followed by `seg` (a path deeper than `MAX_PATH` keeps its first segments).
fn child<'a>(path: &Path<'a>, seg: Seg<'a>) -> SegPath<'a> {
    let mut out = SegPath {
        segs: [Seg::Index(0); MAX_PATH],
        len: 0,
    };
    let n = path.len().min(MAX_PATH);
    if let (Some(to), Some(from)) = (out.segs.get_mut(..n), path.get(..n)) {
        to.copy_from_slice(from);
    }
    out.len = n;
    if let Some(slot) = out.segs.get_mut(n) {
        *slot = seg;
        out.len = n + 1;
    }
    out
}

fn format_path(base: &str, path: &Path<'_>) -> String {
    let mut out = base.to_string();
    for seg in path {
        match seg {
            Seg::Key(k) if !k.is_empty() && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') => {
                out.push('.');
                out.push_str(k);
            }
            Seg::Key(k) => {
                out.push_str("[\"");
                out.push_str(k);
                out.push_str("\"]");
            }
            Seg::Index(i) => {
                out.push('[');
                out.push_str(&i.to_string());
                out.push(']');
            }
        }
    }
    out
}

const KNOWN_GLOBAL_KEYS: [&str; 46] = [
    "aws:CalledVia",
    "aws:CalledViaFirst",
    "aws:CalledViaLast",
    "aws:CurrentTime",
    "aws:EpochTime",
    "aws:FederatedProvider",
    "aws:MultiFactorAuthAge",
    "aws:MultiFactorAuthPresent",
    "aws:PrincipalAccount",
    "aws:PrincipalArn",
    "aws:PrincipalIsAWSService",
    "aws:PrincipalOrgID",
    "aws:PrincipalOrgPaths",
    "aws:PrincipalServiceName",
    "aws:PrincipalServiceNamesList",
    "aws:PrincipalType",
    "aws:RequestedRegion",
    "aws:ResourceAccount",
    "aws:ResourceOrgID",
    "aws:ResourceOrgPaths",
    "aws:SecureTransport",
    "aws:SourceAccount",
    "aws:SourceArn",
    "aws:SourceIdentity",
    "aws:SourceIp",
    "aws:SourceOrgID",
    "aws:SourceOrgPaths",
    "aws:SourceVpc",
    "aws:SourceVpce",
    "aws:SourceVpcArn",
    "aws:TagKeys",
    "aws:TokenIssueTime",
    "aws:UserAgent",
    "aws:userid",
    "aws:username",
    "aws:ViaAWSService",
    "aws:VpcSourceIp",
    "aws:Ec2InstanceSourceVpc",
    "aws:Ec2InstanceSourcePrivateIPv4",
    "aws:Referer",
    "aws:RequestTag/",
    "aws:ResourceTag/",
    "aws:PrincipalTag/",
    "aws:ChatbotSourceArn",
    "aws:SourceOwner",
    "aws:AssumedRoot",
];

/// `KNOWN_GLOBAL_KEYS` in lower case, in the same order.
const KNOWN_GLOBAL_KEYS_LOWER: [&str; 46] = [
    "aws:calledvia",
    "aws:calledviafirst",
    "aws:calledvialast",
    "aws:currenttime",
    "aws:epochtime",
    "aws:federatedprovider",
    "aws:multifactorauthage",
    "aws:multifactorauthpresent",
    "aws:principalaccount",
    "aws:principalarn",
    "aws:principalisawsservice",
    "aws:principalorgid",
    "aws:principalorgpaths",
    "aws:principalservicename",
    "aws:principalservicenameslist",
    "aws:principaltype",
    "aws:requestedregion",
    "aws:resourceaccount",
    "aws:resourceorgid",
    "aws:resourceorgpaths",
    "aws:securetransport",
    "aws:sourceaccount",
    "aws:sourcearn",
    "aws:sourceidentity",
    "aws:sourceip",
    "aws:sourceorgid",
    "aws:sourceorgpaths",
    "aws:sourcevpc",
    "aws:sourcevpce",
    "aws:sourcevpcarn",
    "aws:tagkeys",
    "aws:tokenissuetime",
    "aws:useragent",
    "aws:userid",
    "aws:username",
    "aws:viaawsservice",
    "aws:vpcsourceip",
    "aws:ec2instancesourcevpc",
    "aws:ec2instancesourceprivateipv4",
    "aws:referer",
    "aws:requesttag/",
    "aws:resourcetag/",
    "aws:principaltag/",
    "aws:chatbotsourcearn",
    "aws:sourceowner",
    "aws:assumedroot",
];

/// For a key that starts with `aws:` (any case): the index in [`KNOWN_GLOBAL_KEYS`] of the
/// documented key it is (case-insensitively), if it is one, and whether it is a known
/// global key (one of them, or under one of the `…/` prefixes). One pass over the table.
fn global_key_lookup(key: &str) -> (Option<usize>, bool) {
    let mut known = false;
    for (i, k) in KNOWN_GLOBAL_KEYS.iter().enumerate() {
        if k.len() == key.len() {
            if !k.ends_with('/') && k.eq_ignore_ascii_case(key) {
                return (Some(i), true);
            }
        } else if !known
            && k.len() < key.len()
            && k.ends_with('/')
            && key
                .get(..k.len())
                .is_some_and(|prefix| prefix.eq_ignore_ascii_case(k))
        {
            known = true;
        }
    }
    (None, known)
}

impl<'t> Compiler<'t> {
    fn error(&self, node_offset: usize, path: &Path<'_>, message: impl Into<String>) -> PolicyError {
        let (line, column) = json::line_col(self.text, node_offset);
        PolicyError {
            path: format_path(self.base, path),
            line,
            column,
            message: message.into(),
        }
    }

    fn warn(&mut self, node_offset: usize, path: &Path<'_>, message: impl Into<String>) {
        let (line, column) = json::line_col(self.text, node_offset);
        self.warnings.push(PolicyWarning {
            path: format_path(self.base, path),
            line,
            column,
            message: message.into(),
        });
    }

    fn policy(&mut self, node: &Node<'_>) -> Result<Policy, PolicyError> {
        let Json::Object(members) = &node.value else {
            return Err(self.error(
                node.start,
                &[],
                format!(
                    "a policy must be a JSON object with `Version` and `Statement`, found {}",
                    node.value.type_name()
                ),
            ));
        };
        let mut version = None;
        let mut id = None;
        let mut statement_node = None;
        for m in members.iter() {
            match m.key {
                "Version" => {
                    let v = m.value.as_str().ok_or_else(|| {
                        self.error(
                            m.value.start,
                            &[Seg::Key("Version")],
                            "`Version` must be a string: use \"2012-10-17\"",
                        )
                    })?;
                    if v != "2012-10-17" && v != "2008-10-17" {
                        return Err(self.error(
                            m.value.start,
                            &[Seg::Key("Version")],
                            format!(
                                "unsupported Version `{v}`: use \"2012-10-17\" (or the older \"2008-10-17\")"
                            ),
                        ));
                    }
                    version = Some(if v == "2012-10-17" {
                        "2012-10-17"
                    } else {
                        "2008-10-17"
                    });
                }
                "Id" => {
                    id = Some(
                        m.value
                            .as_str()
                            .ok_or_else(|| {
                                self.error(m.value.start, &[Seg::Key("Id")], "`Id` must be a string")
                            })?
                            .to_string(),
                    );
                }
                "Statement" => statement_node = Some(&m.value),
                other => {
                    return Err(self.error(
                        m.key_start,
                        &[Seg::Key(other)],
                        unknown_element(other, &["Version", "Id", "Statement"]),
                    ));
                }
            }
        }
        self.variables = version == Some("2012-10-17");
        let statement_node = statement_node.ok_or_else(|| {
            self.error(
                node.start,
                &[],
                "the policy has no `Statement`: add a statement or an array of statements",
            )
        })?;
        let mut statements = Vec::with_capacity(match &statement_node.value {
            Json::Array(items) => items.len(),
            _ => 1,
        });
        match &statement_node.value {
            Json::Object(_) => statements.push(self.statement(statement_node, &[Seg::Key("Statement")])?),
            Json::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    statements.push(self.statement(item, &[Seg::Key("Statement"), Seg::Index(i)])?);
                }
            }
            other => {
                return Err(self.error(
                    statement_node.start,
                    &[Seg::Key("Statement")],
                    format!(
                        "`Statement` must be an object or an array of objects, found {}",
                        other.type_name()
                    ),
                ));
            }
        }
        if let Some((i, first, sid)) = duplicate_sid(&statements, &self.sids) {
            return Err(self.error(
                statement_node.start,
                &[Seg::Key("Statement"), Seg::Index(i), Seg::Key("Sid")],
                format!(
                    "duplicate Sid `{sid}` (also statement {first}): every Sid in a policy must be unique"
                ),
            ));
        }
        let index = build_index(&statements);
        Ok(Policy {
            kind: self.kind,
            id,
            version,
            statements,
            sids: std::mem::take(&mut self.sids),
            index,
            warnings: std::mem::take(&mut self.warnings),
        })
    }

    fn statement(&mut self, node: &Node<'_>, path: &Path<'_>) -> Result<Statement, PolicyError> {
        let Json::Object(members) = &node.value else {
            return Err(self.error(
                node.start,
                path,
                format!("a statement must be an object, found {}", node.value.type_name()),
            ));
        };
        let mut sid = None;
        let mut effect = None;
        let mut principal = PrincipalRule::None;
        let mut action = None;
        let mut resource = None;
        let mut conditions = Vec::new();
        const ELEMENTS: [&str; 9] = [
            "Sid",
            "Effect",
            "Principal",
            "NotPrincipal",
            "Action",
            "NotAction",
            "Resource",
            "NotResource",
            "Condition",
        ];
        let mut sub = child(path, Seg::Key(""));
        for m in members.iter() {
            let key = m.key;
            sub.set_last(Seg::Key(key));
            match key {
                "Sid" => {
                    let s = m
                        .value
                        .as_str()
                        .ok_or_else(|| self.error(m.value.start, &sub, "`Sid` must be a string"))?;
                    if self.sids.capacity() == 0 {
                        // One allocation for all the Sids of a typical policy.
                        self.sids.reserve(self.text.len() / 16 + 16);
                    }
                    let start = u32::try_from(self.sids.len()).unwrap_or(u32::MAX);
                    self.sids.push_str(s);
                    sid = Some([start, u32::try_from(self.sids.len()).unwrap_or(u32::MAX)]);
                }
                "Effect" => {
                    effect = Some(match m.value.as_str() {
                        Some("Allow") => Effect::Allow,
                        Some("Deny") => Effect::Deny,
                        Some(other) => {
                            return Err(self.error(
                                m.value.start,
                                &sub,
                                format!("`Effect` must be \"Allow\" or \"Deny\" (case-sensitive), found \"{other}\""),
                            ));
                        }
                        None => {
                            return Err(self.error(
                                m.value.start,
                                &sub,
                                format!(
                                    "`Effect` must be \"Allow\" or \"Deny\", found {}",
                                    m.value.value.type_name()
                                ),
                            ));
                        }
                    });
                }
                "Principal" | "NotPrincipal" => {
                    if !matches!(principal, PrincipalRule::None) {
                        return Err(self.error(
                            m.key_start,
                            &sub,
                            "a statement can have `Principal` or `NotPrincipal`, not both",
                        ));
                    }
                    if !self.kind.takes_principal() {
                        return Err(self.error(
                            m.key_start,
                            &sub,
                            format!(
                                "`{key}` is not allowed in {} policy: only resource-based policies (and role trust policies) name principals",
                                article(self.kind)
                            ),
                        ));
                    }
                    let entries = self.principal(&m.value, &sub)?;
                    if key == "Principal" {
                        principal = PrincipalRule::Principal(entries);
                    } else {
                        if self.kind == PolicyKind::Trust {
                            return Err(self.error(
                                m.key_start,
                                &sub,
                                "`NotPrincipal` is not allowed in a role trust policy: name the trusted principals with `Principal`",
                            ));
                        }
                        principal = PrincipalRule::NotPrincipal(entries);
                    }
                }
                "Action" | "NotAction" => {
                    if action.is_some() {
                        return Err(self.error(
                            m.key_start,
                            &sub,
                            "a statement can have `Action` or `NotAction`, not both",
                        ));
                    }
                    let patterns = self.actions(&m.value, &sub)?;
                    action = Some(if key == "Action" {
                        ActionRule::Action(patterns)
                    } else {
                        ActionRule::NotAction(patterns)
                    });
                }
                "Resource" | "NotResource" => {
                    if resource.is_some() {
                        return Err(self.error(
                            m.key_start,
                            &sub,
                            "a statement can have `Resource` or `NotResource`, not both",
                        ));
                    }
                    let patterns = self.resources(&m.value, &sub)?;
                    resource = Some(if key == "Resource" {
                        ResourceRule::Resource(patterns)
                    } else {
                        ResourceRule::NotResource(patterns)
                    });
                }
                "Condition" => conditions = self.conditions(&m.value, &sub)?,
                other => return Err(self.error(m.key_start, &sub, unknown_element(other, &ELEMENTS))),
            }
        }
        let effect = effect.ok_or_else(|| {
            self.error(
                node.start,
                path,
                "the statement has no `Effect`: add \"Effect\": \"Allow\" or \"Deny\"",
            )
        })?;
        let action = action
            .ok_or_else(|| self.error(node.start, path, "the statement has no `Action` or `NotAction`"))?;
        if self.kind.takes_principal() && matches!(principal, PrincipalRule::None) {
            return Err(self.error(
                node.start,
                path,
                format!(
                    "the statement has no `Principal`: {} policy must name who it applies to",
                    article(self.kind)
                ),
            ));
        }
        let resource = match resource {
            Some(r) => r,
            None if matches!(self.kind, PolicyKind::Trust | PolicyKind::Resource) => ResourceRule::Any,
            None => {
                return Err(self.error(
                    node.start,
                    path,
                    "the statement has no `Resource` or `NotResource`: add \"Resource\": \"*\" or the ARNs it applies to",
                ));
            }
        };
        // Likely mistakes.
        if effect == Effect::Allow
            && let PrincipalRule::NotPrincipal(_) = principal
        {
            self.warn(node.start, path, "`NotPrincipal` with `Allow` grants access to every principal not listed, anonymous users included");
        }
        if effect == Effect::Allow {
            for c in &conditions {
                if c.op.set == SetOp::ForAllValues && !c.op.base.negated() {
                    self.warn(
                        node.start,
                        path,
                        format!(
                            "`{}` with `Allow` also matches when `{}` is missing or empty: add a `Null` check or use `ForAnyValue`",
                            c.op.text, c.key_text
                        ),
                    );
                }
            }
        }
        Ok(Statement {
            sid,
            effect,
            principal,
            action,
            resource,
            conditions,
        })
    }

    /// The nodes of a string-or-array-of-strings element, checked to all be strings (a
    /// string is a list of one). Allocates nothing.
    fn strings<'n, 'a>(
        &self,
        node: &'n Node<'a>,
        path: &Path<'_>,
        what: &str,
    ) -> Result<&'n [Node<'a>], PolicyError> {
        match &node.value {
            Json::String(_) => Ok(std::slice::from_ref(node)),
            Json::Array(items) => {
                if items.is_empty() {
                    return Err(self.error(
                        node.start,
                        path,
                        format!("`{what}` is an empty array: give at least one value"),
                    ));
                }
                if let Some((i, item)) = items
                    .iter()
                    .enumerate()
                    .find(|(_, item)| !matches!(item.value, Json::String(_)))
                {
                    let sub = child(path, Seg::Index(i));
                    return Err(self.error(
                        item.start,
                        &sub,
                        format!(
                            "`{what}` values must be strings, found {}",
                            item.value.type_name()
                        ),
                    ));
                }
                Ok(items)
            }
            other => Err(self.error(
                node.start,
                path,
                format!(
                    "`{what}` must be a string or an array of strings, found {}",
                    other.type_name()
                ),
            )),
        }
    }

    fn actions(&mut self, node: &Node<'_>, path: &Path<'_>) -> Result<PatternSet, PolicyError> {
        let what = match path.last() {
            Some(Seg::Key(k)) => *k,
            _ => "Action",
        };
        let items = self.strings(node, path, what)?;
        let mut out =
            PatternSet::with_capacity(items.iter().map(|i| i.as_str().map_or(0, str::len) + 3).sum());
        for item in items {
            let (s, offset) = (item.as_str().unwrap_or_default(), item.start);
            // One pass over the bytes classifies the action.
            let class = s.bytes().fold(0u8, |c, b| c | ACTION_CLASS[usize::from(b)]);
            if class & ACTION_ODD != 0
                || (class & ACTION_NON_ASCII != 0 && s.chars().any(char::is_whitespace))
            {
                // Never matches a request action: not kept.
                self.warn(offset, path, format!("action `{s}` contains a comma or whitespace and never matches: list actions as separate strings"));
                continue;
            }
            if class & ACTION_COLON == 0 && s != "*" {
                return Err(self.error(
                    offset,
                    path,
                    format!("`{s}` is not an action: write `service:Action` (such as `s3:GetObject`) or `*`"),
                ));
            }
            if class & ACTION_NON_ASCII == 0 {
                // ASCII (the common case): a literal, or a literal then one `*`, goes into the
                // buffer and is lower-cased there.
                let b = s.as_bytes();
                let simple = if class & ACTION_WILD == 0 {
                    Some((EXACT, b))
                } else {
                    match b.split_last() {
                        Some((b'*', lit)) if !lit.iter().any(|&c| c == b'*' || c == b'?') => {
                            Some(if lit.is_empty() { (ANY, lit) } else { (PREFIX, lit) })
                        }
                        _ => None,
                    }
                };
                if let Some((kind, bytes)) = simple
                    && let Some(at) = out.push_simple(kind, bytes)
                {
                    if class & ACTION_UPPER != 0
                        && let Some(copy) = out.packed.get_mut(at..)
                    {
                        copy.make_ascii_lowercase();
                    }
                    continue;
                }
            }
            let lower = lower_case(s);
            if class & ACTION_WILD == 0 {
                out.push(Pattern::Exact(lower));
                continue;
            }
            out.add(&lower, false, false)
                .map_err(|e| self.error(offset, path, e))?;
        }
        Ok(out)
    }

    fn resources(&mut self, node: &Node<'_>, path: &Path<'_>) -> Result<PatternSet, PolicyError> {
        let what = match path.last() {
            Some(Seg::Key(k)) => *k,
            _ => "Resource",
        };
        let items = self.strings(node, path, what)?;
        let mut out =
            PatternSet::with_capacity(items.iter().map(|i| i.as_str().map_or(0, str::len) + 3).sum());
        for item in items {
            let (s, offset) = (item.as_str().unwrap_or_default(), item.start);
            if s != "*" && !s.starts_with("arn:") && !s.starts_with('*') {
                return Err(self.error(offset, path, format!("resource `{s}` must be an ARN (`arn:partition:service:region:account:resource`) or `*`")));
            }
            let scan = ResourceScan::of(s.as_bytes());
            // A wildcard between the second and third colons of a text with at least five
            // colons (what `pattern::split_arn` would call its service part).
            if scan.wild_in_service && scan.colons >= 5 {
                self.warn(offset, path, format!("resource `{s}` has a wildcard in its service part, which AWS does not allow: name the service"));
            }
            if !self.variables && scan.variable_colons.is_some() {
                self.check_variables(s, offset, path);
            }
            if self.variables
                && s.starts_with("arn:")
                && scan.variable_colons.is_some_and(|colons| colons < 5)
            {
                self.warn(
                    offset,
                    path,
                    format!("`{s}` uses a policy variable before the resource part of the ARN; AWS allows variables only after the fifth colon"),
                );
            }
            out.add_scanned(s, scan.wildcards, scan.dollar, self.variables, true)
                .map_err(|e| self.error(offset, path, e))?;
        }
        Ok(out)
    }

    fn check_variables(&mut self, s: &str, offset: usize, path: &Path<'_>) {
        if !self.variables && s.contains("${") {
            self.warn(
                offset,
                path,
                format!("`{s}` looks like it uses a policy variable, but variables work only with \"Version\": \"2012-10-17\"; here it is literal text"),
            );
        }
    }

    fn principal(&mut self, node: &Node<'_>, path: &Path<'_>) -> Result<Vec<PrincipalEntry>, PolicyError> {
        match &node.value {
            Json::String(s) if *s == "*" => Ok(vec![PrincipalEntry::Everyone]),
            Json::String(s) => Err(self.error(
                node.start,
                path,
                format!("principal `{s}` must be \"*\" or an object such as {{\"AWS\": \"arn:aws:iam::123456789012:root\"}}"),
            )),
            Json::Object(members) => {
                let mut entries = Vec::new();
                for m in members.iter() {
                    let sub = child(path, Seg::Key(m.key));
                    let values = self.strings(&m.value, &sub, m.key)?;
                    for item in values {
                        let (v, offset) = (item.as_str().unwrap_or_default(), item.start);
                        let entry = match m.key {
                            "AWS" => self.aws_principal(v, offset, &sub)?,
                            "Service" => PrincipalEntry::Service(v.to_string()),
                            "Federated" => PrincipalEntry::Federated(v.to_string()),
                            "CanonicalUser" => PrincipalEntry::CanonicalUser(v.to_string()),
                            other => {
                                return Err(self.error(
                                    m.key_start,
                                    &sub,
                                    unknown_element(other, &["AWS", "Service", "Federated", "CanonicalUser"]),
                                ));
                            }
                        };
                        if v.contains('*') && v != "*" {
                            return Err(self.error(offset, &sub, format!("principal `{v}` has a wildcard: a Principal can be \"*\" but cannot match part of a name or ARN")));
                        }
                        entries.push(entry);
                    }
                }
                if entries.is_empty() {
                    return Err(self.error(node.start, path, "the principal object is empty: name at least one principal"));
                }
                Ok(entries)
            }
            other => Err(self.error(
                node.start,
                path,
                format!("a principal must be \"*\" or an object, found {}", other.type_name()),
            )),
        }
    }

    fn aws_principal(&self, v: &str, offset: usize, path: &Path<'_>) -> Result<PrincipalEntry, PolicyError> {
        if v == "*" {
            return Ok(PrincipalEntry::Everyone);
        }
        if v.len() == 12 && v.bytes().all(|b| b.is_ascii_digit()) {
            return Ok(PrincipalEntry::Account(v.to_string()));
        }
        match pattern::split_arn(v) {
            Some([_, _, "iam", _, account, "root"]) => Ok(PrincipalEntry::Account(account.to_string())),
            Some([_, _, "iam" | "sts", _, account, _]) if account.len() == 12 => Ok(PrincipalEntry::Arn(v.to_string())),
            _ => Err(self.error(
                offset,
                path,
                format!("`{v}` is not an AWS principal: use an account id, an account root ARN, or a user, role, assumed-role or federated-user ARN"),
            )),
        }
    }

    fn conditions(&mut self, node: &Node<'_>, path: &Path<'_>) -> Result<Vec<Condition>, PolicyError> {
        let Json::Object(ops) = &node.value else {
            return Err(self.error(
                node.start,
                path,
                format!("`Condition` must be an object, found {}", node.value.type_name()),
            ));
        };
        let keys = ops
            .iter()
            .map(|m| match &m.value.value {
                Json::Object(keys) => keys.len(),
                _ => 0,
            })
            .sum();
        let mut out = Vec::with_capacity(keys);
        let mut op_path = child(path, Seg::Key(""));
        let mut key_path = child(&op_path, Seg::Key(""));
        for op_member in ops.iter() {
            op_path.set_last(Seg::Key(op_member.key));
            key_path.set_from_end(2, Seg::Key(op_member.key));
            let op = condition::parse_operator(op_member.key)
                .map_err(|e| self.error(op_member.key_start, &op_path, e))?;
            let Json::Object(keys) = &op_member.value.value else {
                return Err(self.error(
                    op_member.value.start,
                    &op_path,
                    format!(
                        "the `{}` block must be an object of condition keys, found {}",
                        op.text,
                        op_member.value.value.type_name()
                    ),
                ));
            };
            for key_member in keys.iter() {
                key_path.set_last(Seg::Key(key_member.key));
                let key = key_member.key;
                let aws = key.get(..4).is_some_and(|p| p.eq_ignore_ascii_case("aws:"));
                let (global, known) = if aws {
                    global_key_lookup(key)
                } else {
                    (None, false)
                };
                if aws && key.len() > 4 && !known {
                    let names = KNOWN_GLOBAL_KEYS.iter().copied().filter(|k| !k.ends_with('/'));
                    let hint = match crate::suggest::closest(key, names) {
                        Some(s) => format!(": did you mean `{s}`?"),
                        None => String::new(),
                    };
                    self.warn(
                        key_member.key_start,
                        &key_path,
                        format!("`{key}` is not a known AWS global condition key{hint}"),
                    );
                }
                let raw = self.condition_values(&key_member.value, &key_path)?;
                if op.base.allows_variables() {
                    for v in raw.iter() {
                        self.check_variables(v, key_member.value.start, &key_path);
                    }
                }
                let values = condition::compile_values(op.base, &raw, self.variables)
                    .map_err(|e| self.error(key_member.value.start, &key_path, e))?;
                if op.base == Base::Null && op.set != SetOp::None {
                    return Err(self.error(
                        op_member.key_start,
                        &op_path,
                        "`Null` cannot be used with `ForAnyValue` or `ForAllValues`",
                    ));
                }
                // A documented global key borrows its names from the tables (no copies).
                let (key_lower, key_text) = match global {
                    Some(i) => {
                        let canonical = KNOWN_GLOBAL_KEYS.get(i).copied().unwrap_or_default();
                        (
                            Cow::Borrowed(KNOWN_GLOBAL_KEYS_LOWER.get(i).copied().unwrap_or_default()),
                            if canonical == key {
                                Cow::Borrowed(canonical)
                            } else {
                                Cow::Owned(key.to_string())
                            },
                        )
                    }
                    None => (Cow::Owned(lower_case(key)), Cow::Owned(key.to_string())),
                };
                out.push(Condition {
                    op: op.clone(),
                    key: key_lower,
                    key_text,
                    values,
                    raw,
                });
            }
        }
        Ok(out)
    }

    fn condition_values(&self, node: &Node<'_>, path: &Path<'_>) -> Result<condition::Strs, PolicyError> {
        // The text of a value (a number as written, a boolean as `true` / `false`).
        fn scalar<'a>(n: &Node<'a>) -> Option<&'a str> {
            match n.value {
                Json::String(s) | Json::Number(s) => Some(s),
                Json::Bool(true) => Some("true"),
                Json::Bool(false) => Some("false"),
                _ => None,
            }
        }
        let not_scalar = |n: &Node<'_>, path: &Path<'_>| {
            self.error(
                n.start,
                path,
                format!(
                    "condition values must be strings, numbers or booleans, found {}",
                    n.value.type_name()
                ),
            )
        };
        match node.value {
            Json::Array(items) => {
                if items.is_empty() {
                    return Err(self.error(
                        node.start,
                        path,
                        "the condition has an empty list of values: give at least one value",
                    ));
                }
                if let Some((i, item)) = items.iter().enumerate().find(|(_, item)| scalar(item).is_none()) {
                    return Err(not_scalar(item, &child(path, Seg::Index(i))));
                }
                Ok(condition::Strs::new(
                    items.iter().map(|item| scalar(item).unwrap_or_default()),
                ))
            }
            _ => match scalar(node) {
                Some(v) => Ok(condition::Strs::new([v].into_iter())),
                None => Err(not_scalar(node, path)),
            },
        }
    }
}

/// The first statement whose Sid an earlier statement already has: (its index, the earlier
/// index, the Sid).
fn duplicate_sid<'s>(statements: &[Statement], sids: &'s str) -> Option<(usize, usize, &'s str)> {
    let sid_of = |s: &Statement| {
        s.sid
            .and_then(|[start, end]| sids.get(start as usize..end as usize))
    };
    if statements.len() <= 64 {
        // Small policies: a quadratic scan allocates nothing and beats hashing.
        for (i, s) in statements.iter().enumerate() {
            let Some(sid) = sid_of(s) else { continue };
            if let Some(first) = statements
                .get(..i)
                .unwrap_or_default()
                .iter()
                .rposition(|t| sid_of(t) == Some(sid))
            {
                return Some((i, first, sid));
            }
        }
        return None;
    }
    let mut seen: HashMap<&str, usize> = HashMap::with_capacity(statements.len());
    for (i, s) in statements.iter().enumerate() {
        if let Some(sid) = sid_of(s)
            && let Some(first) = seen.insert(sid, i)
        {
            return Some((i, first, sid));
        }
    }
    None
}

/// `s` in lower case; a plain copy when it already is (the common case).
pub(crate) fn lower_case(s: &str) -> String {
    if !s.is_ascii() {
        s.to_lowercase()
    } else if s.bytes().any(|b| b.is_ascii_uppercase()) {
        s.to_ascii_lowercase()
    } else {
        s.to_owned()
    }
}

fn article(kind: PolicyKind) -> &'static str {
    match kind {
        PolicyKind::Identity => "an identity-based",
        PolicyKind::Resource => "a resource-based",
        PolicyKind::Trust => "a role trust",
        PolicyKind::PermissionsBoundary => "a permissions boundary",
        PolicyKind::Session => "a session",
        PolicyKind::Scp => "a service control",
        PolicyKind::Rcp => "a resource control",
    }
}

fn unknown_element(name: &str, known: &[&str]) -> String {
    match crate::suggest::closest(name, known.iter().copied()) {
        Some(s) => format!("unknown element `{name}`: did you mean `{s}`?"),
        None => format!("unknown element `{name}`: expected one of {}", known.join(", ")),
    }
}

fn build_index(statements: &[Statement]) -> ActionIndex {
    let mut literals = 0usize;
    let mut always = Vec::new();
    for (i, s) in statements.iter().enumerate() {
        match &s.action {
            ActionRule::Action(a) => literals += a.packed().count() + a.others.len(),
            ActionRule::NotAction(_) => always.push(u32::try_from(i).unwrap_or(u32::MAX)),
        }
    }
    let mut exact: Vec<(&[u8], u32)> = Vec::with_capacity(literals);
    let mut service: Vec<(Cow<'_, [u8]>, u32)> = Vec::with_capacity(literals);
    for (i, s) in statements.iter().enumerate() {
        let i = u32::try_from(i).unwrap_or(u32::MAX);
        let ActionRule::Action(actions) = &s.action else {
            continue;
        };
        // This statement's entries are the tails of `exact` and `service` from here.
        let service_start = service.len();
        // Any pattern whose service part is not literal makes the statement "always".
        let mut is_always = false;
        let packed = actions.packed().map(|p| match p {
            Simple::Exact(_) => None,
            Simple::Prefix(prefix) => Some(
                prefix
                    .split(|&b| b == b':')
                    .next()
                    .filter(|svc| svc.len() < prefix.len())
                    .map(Cow::Borrowed),
            ),
            Simple::Any => Some(None),
        });
        let others = actions.others.iter().map(|p| match p {
            Pattern::Exact(_) => None,
            Pattern::Prefix(prefix) => Some(
                prefix
                    .split_once(':')
                    .map(|(svc, _)| Cow::Borrowed(svc.as_bytes())),
            ),
            // Wildcards: find the literal service part, if any.
            _ => Some(service_of(p).map(|s| Cow::Owned(s.into_bytes()))),
        });
        for svc in packed.chain(others).flatten() {
            match svc {
                Some(svc) => {
                    if !service
                        .get(service_start..)
                        .unwrap_or_default()
                        .iter()
                        .any(|(w, _)| *w == svc)
                    {
                        service.push((svc, i));
                    }
                }
                None => is_always = true,
            }
        }
        if is_always {
            service.truncate(service_start);
            always.push(i);
            continue;
        }
        // Keep the literal actions that no wildcard of their service covers (a repeat within
        // the statement is dropped by `KeyedIds::build`).
        let services = service.get(service_start..).unwrap_or_default();
        let packed = actions.packed().filter_map(|p| match p {
            Simple::Exact(a) => Some(a),
            _ => None,
        });
        let long = actions.others.iter().filter_map(|p| match p {
            Pattern::Exact(a) => Some(a.as_bytes()),
            _ => None,
        });
        for a in packed.chain(long) {
            let svc = a.split(|&b| b == b':').next().unwrap_or(a);
            if services.iter().any(|(w, _)| same_bytes(w, svc)) {
                continue;
            }
            exact.push((a, i));
        }
    }
    always.sort_unstable();
    ActionIndex {
        exact: KeyedIds::build(&exact, |k| k),
        service: KeyedIds::build(&service, |k| k.as_ref()),
        always,
    }
}

/// The literal service prefix of a wildcard action pattern (`s3` for `s3:Get*`).
fn service_of(p: &Pattern) -> Option<String> {
    let Pattern::Atoms(atoms) = p else {
        return None;
    };
    let mut svc = String::new();
    for a in atoms {
        match a {
            pattern::Atom::Ch(':') => return Some(svc),
            pattern::Atom::Ch(c) => svc.push(*c),
            _ => return None,
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(text: &str, kind: PolicyKind) -> PolicyError {
        Policy::parse(text, kind).unwrap_err()
    }

    #[test]
    fn parses_simple_policy() {
        let p = Policy::parse(
            r#"{"Version":"2012-10-17","Statement":{"Sid":"A","Effect":"Allow","Action":"s3:GetObject","Resource":"*"}}"#,
            PolicyKind::Identity,
        )
        .unwrap();
        assert_eq!(p.len(), 1);
        assert_eq!(p.sid(0), Some("A"));
    }

    #[test]
    fn errors_have_path_and_position() {
        let e = err(
            "{\n  \"Version\": \"2012-10-17\",\n  \"Statement\": [{\"Effect\": \"allow\", \"Action\": \"*\", \"Resource\": \"*\"}]\n}",
            PolicyKind::Identity,
        );
        assert_eq!(e.path, "$.Statement[0].Effect");
        assert_eq!((e.line, e.column), (3, 28));
        assert!(e.message.contains("\"Allow\" or \"Deny\""));
        let e = err(
            r#"{"Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*","Condition":{"StringEqual":{"a":"b"}}}]}"#,
            PolicyKind::Identity,
        );
        assert!(e.message.contains("did you mean `StringEquals`"), "{e}");
        let e = err(
            r#"{"Statement":{"Effect":"Allow","Principal":"*","Action":"s3:*","Resource":"*"}}"#,
            PolicyKind::Identity,
        );
        assert!(
            e.message.contains("not allowed in an identity-based policy"),
            "{e}"
        );
        let e = err(
            r#"{"Statement":{"Effect":"Allow","Actoin":"s3:*","Resource":"*"}}"#,
            PolicyKind::Identity,
        );
        assert!(e.message.contains("did you mean `Action`"), "{e}");
    }

    #[test]
    fn warnings() {
        let p = Policy::parse(
            r#"{"Statement":{"Effect":"Allow","Action":"s3:*","Resource":"arn:aws:s3:::b/${aws:username}","Condition":{"StringEquals":{"aws:SourceVPC":"v","aws:SorceIp":"x"}}}}"#,
            PolicyKind::Identity,
        )
        .unwrap();
        let all: Vec<String> = p.warnings().iter().map(|w| w.message.clone()).collect();
        assert!(all.iter().any(|m| m.contains("2012-10-17")), "{all:?}");
        assert!(
            all.iter().any(|m| m.contains("did you mean `aws:SourceIp`")),
            "{all:?}"
        );
        assert_eq!(all.len(), 2, "{all:?}");
    }

    /// The warnings of one statement with this Resource element and Condition block.
    fn statement_warnings(version: &str, resource: &str, condition: &str) -> Vec<String> {
        let text = format!(
            r#"{{{version}"Statement":{{"Effect":"Allow","Action":"s3:*","Resource":{resource},"Condition":{condition}}}}}"#
        );
        let p = Policy::parse(&text, PolicyKind::Identity).unwrap();
        p.warnings()
            .iter()
            .map(|w| format!("{} {}", w.path, w.message))
            .collect()
    }

    #[test]
    fn global_condition_keys_are_looked_up_once() {
        let v = r#""Version":"2012-10-17","#;
        // Service keys, documented global keys in any case and keys under a documented tag
        // prefix: no warning.
        let quiet = statement_warnings(
            v,
            r#""*""#,
            r#"{"StringEquals":{"s3:prefix":"a","kms:ViaService":"b","AWS:SOURCEVPC":"c","aws:PrincipalTag/team":"d","Aws:ResourceTag/x":"e"}}"#,
        );
        assert!(quiet.is_empty(), "{quiet:?}");
        // Unknown keys under `aws:` warn, a bare prefix included; a key that is only a
        // prefix of the table (`aws:PrincipalTag/`) is not a known key.
        let loud = statement_warnings(
            v,
            r#""*""#,
            r#"{"StringEquals":{"aws:SorceIp":"a","aws:PrincipalTag/":"b","aws:":"c"}}"#,
        );
        assert_eq!(loud.len(), 2, "{loud:?}");
        assert!(
            loud[0].contains("Condition.StringEquals") && loud[0].contains("did you mean `aws:SourceIp`"),
            "{loud:?}"
        );
        assert!(
            loud[1].contains("`aws:PrincipalTag/` is not a known AWS global condition key"),
            "{loud:?}"
        );
        // The key as written is kept for messages, the lower-case key for evaluation.
        let p = Policy::parse(
            r#"{"Statement":{"Effect":"Allow","Action":"s3:*","Resource":"*","Condition":{"StringEquals":{"AWS:SourceVpc":"v","s3:Prefix":"p"}}}}"#,
            PolicyKind::Identity,
        )
        .unwrap();
        let keys: Vec<(&str, &str)> = p.statements[0]
            .conditions
            .iter()
            .map(|c| (c.key.as_ref(), c.key_text.as_ref()))
            .collect();
        assert_eq!(
            keys,
            [("aws:sourcevpc", "AWS:SourceVpc"), ("s3:prefix", "s3:Prefix")]
        );
    }

    #[test]
    fn next_resource_special_finds_the_first() {
        let specials = [b':', b'*', b'?', b'$'];
        // Every position of one special byte in texts of 0..20 bytes, from every start.
        for len in 0..20usize {
            for at in 0..=len {
                for &sp in &specials {
                    let mut text = vec![b'a'; len];
                    if let Some(slot) = text.get_mut(at) {
                        *slot = sp;
                    }
                    // High bytes and bytes next to the specials must not be flagged.
                    if let Some(slot) = text.get_mut(0)
                        && *slot == b'a'
                    {
                        *slot = 0xC3;
                    }
                    for from in 0..=len {
                        let want = (from..len).find(|&j| specials.contains(&text[j])).unwrap_or(len);
                        assert_eq!(next_resource_special(&text, from), want, "{text:?} from {from}");
                    }
                }
            }
        }
    }

    #[test]
    fn resource_scan_warnings() {
        let v = r#""Version":"2012-10-17","#;
        let none = r#"{"Bool":{"aws:SecureTransport":"true"}}"#;
        // A wildcard in the service part (between the second and third colons) warns; one
        // in the region or later does not, nor one in a text with fewer than five colons.
        let w = statement_warnings(
            v,
            r#"["arn:aws:s*:::b", "arn:aws:s3:*::b/*", "arn:aws:?3:x"]"#,
            none,
        );
        assert_eq!(w.len(), 1, "{w:?}");
        assert!(
            w[0].contains("`arn:aws:s*:::b` has a wildcard in its service part"),
            "{w:?}"
        );
        // A policy variable before the fifth colon warns (Version 2012-10-17 only); `$`
        // without `{` is literal text.
        let w = statement_warnings(
            v,
            r#"["arn:aws:s3:${aws:username}::b", "arn:aws:s3:::b/${aws:username}", "arn:aws:s3:::$b"]"#,
            none,
        );
        assert_eq!(w.len(), 1, "{w:?}");
        assert!(
            w[0].contains("`arn:aws:s3:${aws:username}::b` uses a policy variable before the resource part"),
            "{w:?}"
        );
        // Without Version 2012-10-17, `${` is literal text and warns as such, once per value.
        let w = statement_warnings(
            "",
            r#"["arn:aws:s3:::b/${aws:username}", "arn:aws:s3:::c/$x"]"#,
            none,
        );
        assert_eq!(w.len(), 1, "{w:?}");
        assert!(
            w[0].contains("variables work only with \"Version\": \"2012-10-17\""),
            "{w:?}"
        );
        // The patterns themselves are unchanged: literal, prefix and wildcard resources.
        let p = Policy::parse(
            r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:*","Resource":["arn:aws:s3:::a","arn:aws:s3:::b/*","arn:aws:s3:*:*:c/*","arn:aws:s3:::d/${aws:username}"]}}"#,
            PolicyKind::Identity,
        )
        .unwrap();
        let ResourceRule::Resource(set) = &p.statements[0].resource else {
            panic!("a Resource element");
        };
        assert_eq!(
            set.packed().collect::<Vec<_>>(),
            [
                Simple::Exact(b"arn:aws:s3:::a"),
                Simple::Prefix(b"arn:aws:s3:::b/")
            ]
        );
        assert_eq!(set.others.len(), 2);
    }

    #[test]
    fn index_groups_statements() {
        let p = Policy::parse(
            r#"{"Version":"2012-10-17","Statement":[
              {"Effect":"Allow","Action":["s3:GetObject","s3:Get*"],"Resource":"*"},
              {"Effect":"Allow","Action":"ec2:RunInstances","Resource":"*"},
              {"Effect":"Allow","NotAction":"iam:*","Resource":"*"},
              {"Effect":"Allow","Action":"*","Resource":"*"}]}"#,
            PolicyKind::Identity,
        )
        .unwrap();
        let c = p.index.candidates("s3:getobject");
        let all: Vec<u32> = c.iter().flat_map(|s| s.iter().copied()).collect();
        assert_eq!(all, vec![2, 3, 0]);
        let c = p.index.candidates("ec2:runinstances");
        let all: Vec<u32> = c.iter().flat_map(|s| s.iter().copied()).collect();
        assert_eq!(all, vec![2, 3, 1]);
    }
}
