//! Wildcard patterns (`*`, `?`) with policy variables, as used by Action, Resource and the
//! `...Like` / `Arn...` condition operators.
//!
//! <https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_resource.html>
//! <https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_variables.html>

use std::borrow::Cow;

/// One element of a compiled pattern, as written in the policy.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Piece {
    /// Literal text (escapes such as `${*}` are already folded into it).
    Lit(String),
    /// A policy variable, resolved from the request context at evaluation time.
    Var(Var),
    /// `*`. `free` is false when it may not cross a `:` (inside an ARN segment).
    Star { free: bool },
    /// `?`. `free` is false when it may not match a `:`.
    One { free: bool },
}

/// A policy variable `${key}` or `${key, 'default'}`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Var {
    /// The context key, lower-cased (key names are case-insensitive).
    pub(crate) key: String,
    /// The default used when the key is missing.
    pub(crate) default: Option<String>,
}

/// A flattened pattern element: one character or a wildcard.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Atom {
    Ch(char),
    Star { free: bool },
    One { free: bool },
}

/// How variables of a template are looked up.
pub(crate) trait Resolver {
    /// The single value of a context key (lower-case name), or `None` when the key is missing
    /// or multivalued.
    fn single(&self, key: &str) -> Option<&str>;
}

/// A compiled pattern or template with a fast path chosen at compile time.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Pattern {
    /// `*` alone: matches everything.
    Any,
    /// No wildcard and no variable: plain equality.
    Exact(String),
    /// Literal text followed by one free `*`.
    Prefix(String),
    /// Wildcards but no variables: precomputed atoms.
    Atoms(Vec<Atom>),
    /// Contains variables: resolved for every request.
    Template(Vec<Piece>),
}

impl Pattern {
    /// Builds the pattern from its pieces, choosing the fastest matcher.
    pub(crate) fn from_pieces(mut pieces: Vec<Piece>) -> Pattern {
        if pieces.iter().any(|p| matches!(p, Piece::Var(_))) {
            return Pattern::Template(pieces);
        }
        match pieces.as_mut_slice() {
            [] => Pattern::Exact(String::new()),
            [Piece::Star { free: true }] => Pattern::Any,
            [Piece::Lit(s)] => Pattern::Exact(std::mem::take(s)),
            [Piece::Lit(s), Piece::Star { free: true }] => Pattern::Prefix(std::mem::take(s)),
            _ => Pattern::Atoms(flatten_static(&pieces)),
        }
    }

    /// Matches `text` as a whole. An unresolvable variable makes the pattern match nothing.
    pub(crate) fn matches(&self, text: &str, resolver: &dyn Resolver) -> bool {
        match self {
            Pattern::Any => true,
            Pattern::Exact(s) => s == text,
            Pattern::Prefix(p) => text.starts_with(p.as_str()),
            Pattern::Atoms(atoms) => glob(atoms, text),
            Pattern::Template(pieces) => match resolve_atoms(pieces, resolver) {
                Some(atoms) => glob(&atoms, text),
                None => false,
            },
        }
    }

    /// The pattern's atoms after variable substitution, or `None` when a variable cannot be
    /// resolved.
    pub(crate) fn atoms<'a>(&'a self, resolver: &dyn Resolver) -> Option<Cow<'a, [Atom]>> {
        match self {
            Pattern::Any => Some(Cow::Owned(vec![Atom::Star { free: true }])),
            Pattern::Exact(s) => Some(Cow::Owned(s.chars().map(Atom::Ch).collect())),
            Pattern::Prefix(s) => {
                let mut atoms: Vec<Atom> = s.chars().map(Atom::Ch).collect();
                atoms.push(Atom::Star { free: true });
                Some(Cow::Owned(atoms))
            }
            Pattern::Atoms(atoms) => Some(Cow::Borrowed(atoms.as_slice())),
            Pattern::Template(pieces) => resolve_atoms(pieces, resolver).map(Cow::Owned),
        }
    }
}

/// Resolves a template to the literal string it stands for (for `StringEquals` and friends,
/// whose policy values have no wildcards). `None` when a variable cannot be resolved.
pub(crate) fn resolve_string<'a>(pieces: &'a [Piece], resolver: &'a dyn Resolver) -> Option<Cow<'a, str>> {
    if let [Piece::Lit(s)] = pieces {
        return Some(Cow::Borrowed(s.as_str()));
    }
    let mut out = String::new();
    for piece in pieces {
        match piece {
            Piece::Lit(s) => out.push_str(s),
            Piece::Var(var) => out.push_str(resolve_var(var, resolver)?),
            Piece::Star { .. } => out.push('*'),
            Piece::One { .. } => out.push('?'),
        }
    }
    Some(Cow::Owned(out))
}

fn resolve_var<'a>(var: &'a Var, resolver: &'a dyn Resolver) -> Option<&'a str> {
    resolver.single(&var.key).or(var.default.as_deref())
}

fn flatten_static(pieces: &[Piece]) -> Vec<Atom> {
    let len = pieces
        .iter()
        .map(|p| match p {
            Piece::Lit(s) => s.len(),
            _ => 1,
        })
        .sum();
    let mut atoms = Vec::with_capacity(len);
    for piece in pieces {
        match piece {
            Piece::Lit(s) => atoms.extend(s.chars().map(Atom::Ch)),
            Piece::Var(_) => {}
            Piece::Star { free } => atoms.push(Atom::Star { free: *free }),
            Piece::One { free } => atoms.push(Atom::One { free: *free }),
        }
    }
    atoms
}

fn resolve_atoms(pieces: &[Piece], resolver: &dyn Resolver) -> Option<Vec<Atom>> {
    let mut atoms = Vec::new();
    for piece in pieces {
        match piece {
            Piece::Lit(s) => atoms.extend(s.chars().map(Atom::Ch)),
            // SECURITY: substituted text is literal, never a wildcard.
            Piece::Var(var) => atoms.extend(resolve_var(var, resolver)?.chars().map(Atom::Ch)),
            Piece::Star { free } => atoms.push(Atom::Star { free: *free }),
            Piece::One { free } => atoms.push(Atom::One { free: *free }),
        }
    }
    Some(atoms)
}

/// Matches `text` against wildcard atoms. Restricted wildcards (`free: false`) never match `:`.
pub(crate) fn glob(atoms: &[Atom], text: &str) -> bool {
    let restricted = atoms
        .iter()
        .any(|a| matches!(a, Atom::Star { free: false } | Atom::One { free: false }));
    if restricted {
        glob_nfa(atoms, text)
    } else {
        glob_greedy(atoms, text)
    }
}

/// The classic linear-time wildcard matcher; correct when every `*` matches anything.
fn glob_greedy(atoms: &[Atom], text: &str) -> bool {
    let bytes = text.as_bytes();
    let mut p = 0usize;
    let mut s = 0usize;
    // (atom index after the last star, text offset the star has consumed up to)
    let mut star: Option<(usize, usize)> = None;
    while let Some(&byte) = bytes.get(s) {
        // ASCII (the common case) needs no decoding.
        let (c, len) = if byte.is_ascii() {
            (char::from(byte), 1)
        } else {
            char_at(text, s)
        };
        match atoms.get(p) {
            Some(Atom::Ch(pc)) if *pc == c => {
                p += 1;
                s += len;
                continue;
            }
            Some(Atom::One { .. }) => {
                p += 1;
                s += len;
                continue;
            }
            Some(Atom::Star { .. }) => {
                star = Some((p + 1, s));
                p += 1;
                continue;
            }
            _ => {}
        }
        match star {
            Some((after, consumed)) => {
                let len = match bytes.get(consumed) {
                    Some(b) if b.is_ascii() => 1,
                    _ => char_at(text, consumed).1,
                };
                let next = consumed + len;
                star = Some((after, next));
                p = after;
                s = next;
            }
            None => return false,
        }
    }
    atoms
        .get(p..)
        .is_some_and(|rest| rest.iter().all(|a| matches!(a, Atom::Star { .. })))
}

/// Wildcard matching by NFA simulation, used when some wildcards may not cross `:`.
fn glob_nfa(atoms: &[Atom], text: &str) -> bool {
    // Two state sets; on the stack for patterns of up to 127 atoms (no allocation).
    const STACK: usize = 128;
    let n = atoms.len();
    let (mut heap_a, mut heap_b) = (Vec::new(), Vec::new());
    let (mut stack_a, mut stack_b) = ([false; STACK], [false; STACK]);
    let (mut cur, mut next): (&mut [bool], &mut [bool]) = if n < STACK {
        (&mut stack_a[..=n], &mut stack_b[..=n])
    } else {
        heap_a.resize(n + 1, false);
        heap_b.resize(n + 1, false);
        (&mut heap_a[..], &mut heap_b[..])
    };
    cur[0] = true;
    close(atoms, cur);
    for c in text.chars() {
        next.iter_mut().for_each(|b| *b = false);
        let mut any = false;
        for (i, atom) in atoms.iter().enumerate() {
            if !cur[i] {
                continue;
            }
            match *atom {
                Atom::Ch(pc) => {
                    if pc == c {
                        next[i + 1] = true;
                        any = true;
                    }
                }
                Atom::One { free } => {
                    if free || c != ':' {
                        next[i + 1] = true;
                        any = true;
                    }
                }
                Atom::Star { free } => {
                    if free || c != ':' {
                        next[i] = true;
                        any = true;
                    }
                }
            }
        }
        if !any {
            return false;
        }
        close(atoms, next);
        std::mem::swap(&mut cur, &mut next);
    }
    cur[n]
}

/// Adds the states reachable by letting stars match the empty string.
fn close(atoms: &[Atom], states: &mut [bool]) {
    for (i, atom) in atoms.iter().enumerate() {
        if states[i] && matches!(atom, Atom::Star { .. }) {
            states[i + 1] = true;
        }
    }
}

fn char_at(text: &str, offset: usize) -> (char, usize) {
    match text.get(offset..).and_then(|rest| rest.chars().next()) {
        Some(c) => (c, c.len_utf8()),
        None => ('\0', 1),
    }
}

/// Splits an atom list at its first five `:` characters into the six ARN components.
/// Returns `None` when there are fewer than five colons.
pub(crate) fn split_arn_atoms(atoms: &[Atom]) -> Option<[&[Atom]; 6]> {
    let mut parts: [&[Atom]; 6] = [&[]; 6];
    let mut start = 0usize;
    let mut found = 0usize;
    for (i, atom) in atoms.iter().enumerate() {
        if found == 5 {
            break;
        }
        if *atom == Atom::Ch(':') {
            parts[found] = atoms.get(start..i)?;
            start = i + 1;
            found += 1;
        }
    }
    if found < 5 {
        return None;
    }
    parts[5] = atoms.get(start..)?;
    Some(parts)
}

/// Splits an ARN string at its first five `:` into six components.
pub(crate) fn split_arn(text: &str) -> Option<[&str; 6]> {
    // Tight byte scans for the five colons (`:` is ASCII, so every cut is on a character
    // boundary).
    let b = text.as_bytes();
    let mut cuts = [0usize; 5];
    let mut from = 0usize;
    for cut in &mut cuts {
        let at = from + b.get(from..)?.iter().position(|&c| c == b':')?;
        *cut = at;
        from = at + 1;
    }
    let [c0, c1, c2, c3, c4] = cuts;
    Some([
        text.get(..c0)?,
        text.get(c0 + 1..c1)?,
        text.get(c1 + 1..c2)?,
        text.get(c2 + 1..c3)?,
        text.get(c3 + 1..c4)?,
        text.get(c4 + 1..)?,
    ])
}

/// Parses and compiles a pattern (see [`parse_pieces`]); a literal becomes
/// [`Pattern::Exact`] with a single allocation.
pub(crate) fn compile(
    text: &str,
    variables: bool,
    wildcards: bool,
    arn_segments: bool,
) -> Result<Pattern, String> {
    let special = |b: u8| (wildcards && (b == b'*' || b == b'?')) || (variables && b == b'$');
    if !text.bytes().any(special) {
        return Ok(Pattern::Exact(text.to_string()));
    }
    if wildcards && !(variables && text.contains('$')) {
        // Wildcards and no variable: straight to the matcher, no pieces in between.
        return Ok(compile_static(text, arn_segments && text.starts_with("arn:")));
    }
    parse_pieces(text, variables, wildcards, arn_segments).map(Pattern::from_pieces)
}

/// Compiles a pattern whose only special characters are `*` and `?`, exactly as
/// `Pattern::from_pieces(parse_pieces(text, false, true, arn))` would.
fn compile_static(text: &str, arn: bool) -> Pattern {
    let b = text.as_bytes();
    let wildcards = b.iter().filter(|&&c| c == b'*' || c == b'?').count();
    if wildcards == 1 && b.last() == Some(&b'*') {
        // A star that ends the text is free (it ends its ARN segment).
        let lit = text.get(..text.len() - 1).unwrap_or_default();
        return if lit.is_empty() {
            Pattern::Any
        } else {
            Pattern::Prefix(lit.to_string())
        };
    }
    // Inside the first five ARN segments a wildcard may not cross `:`, unless a star ends
    // its segment (the rule of `restrict_arn_wildcards`).
    let mut colons = 0usize;
    let mut atom = |i: usize, c: char| match c {
        '*' => Atom::Star {
            free: !arn || colons >= 5 || matches!(b.get(i + 1), None | Some(b':')),
        },
        '?' => Atom::One {
            free: !arn || colons >= 5,
        },
        c => {
            colons += usize::from(c == ':');
            Atom::Ch(c)
        }
    };
    let atoms = if text.is_ascii() {
        // One atom per byte: the vector is allocated at its exact size and filled without
        // capacity checks.
        b.iter()
            .enumerate()
            .map(|(i, &c)| atom(i, char::from(c)))
            .collect()
    } else {
        let mut atoms = Vec::with_capacity(text.len());
        atoms.extend(text.char_indices().map(|(i, c)| atom(i, c)));
        atoms
    };
    Pattern::Atoms(atoms)
}

/// Parses a pattern string into pieces.
///
/// `variables`: whether `${...}` is a policy variable (Version 2012-10-17) or literal text.
/// `wildcards`: whether `*` and `?` are wildcards. `arn_segments`: whether wildcards inside the
/// first five ARN segments stay inside their segment (the Resource rule).
pub(crate) fn parse_pieces(
    text: &str,
    variables: bool,
    wildcards: bool,
    arn_segments: bool,
) -> Result<Vec<Piece>, String> {
    // Every special character (`$`, `{`, `}`, `*`, `?`) is ASCII, so scanning bytes keeps
    // every slice on a character boundary.
    let bytes = text.as_bytes();
    let special = |b: u8| (wildcards && (b == b'*' || b == b'?')) || (variables && b == b'$');
    if !bytes.iter().any(|&b| special(b)) {
        // The common case: a plain literal, one allocation.
        let mut pieces = Vec::with_capacity(1);
        if !text.is_empty() {
            pieces.push(Piece::Lit(text.to_string()));
        }
        if arn_segments && text.starts_with("arn:") {
            restrict_arn_wildcards(&mut pieces);
        }
        return Ok(pieces);
    }
    let mut pieces: Vec<Piece> = Vec::with_capacity(4);
    let mut lit = String::new();
    let mut i = 0usize;
    while let Some(&b) = bytes.get(i) {
        if variables && b == b'$' && bytes.get(i + 1) == Some(&b'{') {
            let close = bytes
                .get(i + 2..)
                .and_then(|rest| rest.iter().position(|&c| c == b'}'))
                .map(|p| p + i + 2)
                .ok_or_else(|| format!("unterminated policy variable in `{text}`: add the closing `}}`"))?;
            let inner = text.get(i + 2..close).unwrap_or_default();
            match inner {
                "*" => lit.push('*'),
                "?" => lit.push('?'),
                "$" => lit.push('$'),
                _ => {
                    if !lit.is_empty() {
                        pieces.push(Piece::Lit(std::mem::take(&mut lit)));
                    }
                    pieces.push(Piece::Var(parse_var(inner, text)?));
                }
            }
            i = close + 1;
            continue;
        }
        if wildcards && (b == b'*' || b == b'?') {
            if !lit.is_empty() {
                pieces.push(Piece::Lit(std::mem::take(&mut lit)));
            }
            pieces.push(if b == b'*' {
                Piece::Star { free: true }
            } else {
                Piece::One { free: true }
            });
            i += 1;
            continue;
        }
        // A run of literal text up to the next special character.
        let run_start = i;
        i += 1;
        while bytes.get(i).is_some_and(|&c| !special(c)) {
            i += 1;
        }
        if lit.capacity() == 0 {
            // One allocation for this literal (and any escapes that follow it).
            lit.reserve(text.len() - run_start);
        }
        lit.push_str(text.get(run_start..i).unwrap_or_default());
    }
    if !lit.is_empty() {
        pieces.push(Piece::Lit(lit));
    }
    if arn_segments && text.starts_with("arn:") {
        restrict_arn_wildcards(&mut pieces);
    }
    Ok(pieces)
}

fn parse_var(inner: &str, text: &str) -> Result<Var, String> {
    let (key, default) = match inner.split_once(',') {
        Some((key, rest)) => {
            let rest = rest.trim();
            let default = rest
                .strip_prefix('\'')
                .and_then(|r| r.strip_suffix('\''))
                .ok_or_else(|| {
                    format!(
                        "invalid default in policy variable `${{{inner}}}` in `{text}`: write it as `${{key, 'default'}}`"
                    )
                })?;
            (key.trim(), Some(default.to_string()))
        }
        None => (inner.trim(), None),
    };
    if key.is_empty() {
        return Err(format!("empty policy variable `${{{inner}}}` in `{text}`"));
    }
    Ok(Var {
        key: if key.is_ascii() {
            key.to_ascii_lowercase()
        } else {
            key.to_lowercase()
        },
        default,
    })
}

/// Marks wildcards inside the first five ARN segments as restricted unless they end their segment.
fn restrict_arn_wildcards(pieces: &mut [Piece]) {
    // Walk the static text, counting colons; variables count as opaque text.
    let mut colons = 0usize;
    let n = pieces.len();
    for idx in 0..n {
        let next_is_colon_or_end = match pieces.get(idx + 1) {
            None => true,
            Some(Piece::Lit(s)) => s.starts_with(':'),
            Some(_) => false,
        };
        match pieces.get_mut(idx) {
            Some(Piece::Lit(s)) => colons += s.bytes().filter(|&b| b == b':').count(),
            Some(Piece::Star { free }) => *free = colons >= 5 || next_is_colon_or_end,
            Some(Piece::One { free }) => *free = colons >= 5,
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compile_matches_pieces() {
        let parts = [
            "arn:", "aws", ":", "*", "?", "s3", "::", "b/", "x:y", "é", ":*", "*:", "**", "?*",
        ];
        // Every string of up to four parts.
        let mut texts = vec![String::new()];
        for _ in 0..4 {
            let mut next = Vec::new();
            for t in &texts {
                for p in parts {
                    next.push(format!("{t}{p}"));
                }
            }
            texts.extend(next);
        }
        texts.sort();
        texts.dedup();
        for t in &texts {
            for arn in [false, true] {
                let want = Pattern::from_pieces(parse_pieces(t, false, true, arn).unwrap());
                assert_eq!(compile(t, false, true, arn).unwrap(), want, "{t} arn={arn}");
                let want = Pattern::from_pieces(parse_pieces(t, true, true, arn).unwrap());
                assert_eq!(
                    compile(t, true, true, arn).unwrap(),
                    want,
                    "{t} arn={arn} (variables)"
                );
            }
        }
    }

    #[test]
    fn split_arn_matches_splitn() {
        for text in [
            "",
            ":",
            "arn",
            "arn:aws",
            "a:b:c:d:e",
            "a:b:c:d:e:",
            "arn:aws:s3:::b/k",
            "a:b:c:d:e:f:g:h",
            "arn:aws:iam::111122223333:role/x:y",
            "é:ü::::ß",
            ":::::",
        ] {
            let mut it = text.splitn(6, ':');
            let naive = (|| {
                Some([
                    it.next()?,
                    it.next()?,
                    it.next()?,
                    it.next()?,
                    it.next()?,
                    it.next()?,
                ])
            })();
            assert_eq!(split_arn(text), naive, "{text}");
        }
    }

    struct Ctx(Vec<(&'static str, &'static str)>);
    impl Resolver for Ctx {
        fn single(&self, key: &str) -> Option<&str> {
            self.0.iter().find(|(k, _)| *k == key).map(|(_, v)| *v)
        }
    }

    fn res(p: &str, text: &str) -> bool {
        let pattern = Pattern::from_pieces(parse_pieces(p, true, true, true).unwrap());
        pattern.matches(text, &Ctx(vec![("aws:username", "bob*")]))
    }

    #[test]
    fn basic_wildcards() {
        assert!(res("*", "anything:at/all"));
        assert!(res("arn:aws:s3:::bucket/*", "arn:aws:s3:::bucket/a/b/c"));
        assert!(!res("arn:aws:s3:::bucket/*", "arn:aws:s3:::bucket2/a"));
        assert!(res("arn:aws:s3:::a?c", "arn:aws:s3:::abc"));
        assert!(!res("arn:aws:s3:::a?c", "arn:aws:s3:::abbc"));
        assert!(res("arn:aws:s3:::a*b*c", "arn:aws:s3:::aXXbYYc"));
        assert!(!res("arn:aws:s3:::a.txt", "arn:aws:s3:::aXtxt"));
    }

    #[test]
    fn arn_segment_rules() {
        // A star that is not the end of its segment stays inside the segment.
        assert!(res(
            "arn:aws:ec2:us-*-1:*:instance/*",
            "arn:aws:ec2:us-east-1:123:instance/i-1"
        ));
        assert!(!res(
            "arn:aws:ec2:us-*-1:*:instance/*",
            "arn:aws:ec2:us-east:x-1:123:instance/i-1"
        ));
        // A star ending a segment may cross colons.
        assert!(res("arn:aws:*", "arn:aws:s3:::bucket"));
        // In the resource segment everything goes.
        assert!(res(
            "arn:aws:logs:*:*:log-group:*",
            "arn:aws:logs:us-east-1:1:log-group:a:log-stream:b"
        ));
    }

    #[test]
    fn variables_are_literal() {
        assert!(res("arn:aws:s3:::b/${aws:username}/x", "arn:aws:s3:::b/bob*/x"));
        assert!(!res("arn:aws:s3:::b/${aws:username}/x", "arn:aws:s3:::b/bobby/x"));
        assert!(!res("arn:aws:s3:::b/${aws:missing}", "arn:aws:s3:::b/"));
        assert!(res(
            "arn:aws:s3:::b/${aws:missing, 'dflt'}",
            "arn:aws:s3:::b/dflt"
        ));
        assert!(res("arn:aws:s3:::b/${*}", "arn:aws:s3:::b/*"));
        assert!(!res("arn:aws:s3:::b/${*}", "arn:aws:s3:::b/x"));
    }

    #[test]
    fn greedy_and_nfa_agree() {
        let cases = [
            ("a*b?c*", "aXbYcZZ"),
            ("*a*a*a*b", "aaaaaaaaaaaaaaaa"),
            ("*", ""),
            ("a*", "b"),
        ];
        for (p, t) in cases {
            let atoms = flatten_static(&parse_pieces(p, false, true, false).unwrap());
            let restricted: Vec<Atom> = atoms.clone();
            assert_eq!(glob_greedy(&atoms, t), glob_nfa(&restricted, t), "{p} {t}");
        }
    }
}
