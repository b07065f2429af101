//! The Condition element: operators, set qualifiers, `...IfExists`, `Null`.
//!
//! <https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html>
//! <https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-single-vs-multi-valued-context-keys.html>

use std::borrow::Cow;

use crate::pattern::{self, Pattern, Piece, Resolver};
use crate::request::{Context, Value};
use crate::values::{self, Cidr};

/// The operator families and their members, by canonical name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Base {
    StringEquals,
    StringNotEquals,
    StringEqualsIgnoreCase,
    StringNotEqualsIgnoreCase,
    StringLike,
    StringNotLike,
    NumericEquals,
    NumericNotEquals,
    NumericLessThan,
    NumericLessThanEquals,
    NumericGreaterThan,
    NumericGreaterThanEquals,
    DateEquals,
    DateNotEquals,
    DateLessThan,
    DateLessThanEquals,
    DateGreaterThan,
    DateGreaterThanEquals,
    Bool,
    BinaryEquals,
    IpAddress,
    NotIpAddress,
    ArnEquals,
    ArnLike,
    ArnNotEquals,
    ArnNotLike,
    Null,
}

/// Every operator name AWS documents, for parsing and suggestions.
pub(crate) const BASES: [(&str, Base); 27] = [
    ("StringEquals", Base::StringEquals),
    ("StringNotEquals", Base::StringNotEquals),
    ("StringEqualsIgnoreCase", Base::StringEqualsIgnoreCase),
    ("StringNotEqualsIgnoreCase", Base::StringNotEqualsIgnoreCase),
    ("StringLike", Base::StringLike),
    ("StringNotLike", Base::StringNotLike),
    ("NumericEquals", Base::NumericEquals),
    ("NumericNotEquals", Base::NumericNotEquals),
    ("NumericLessThan", Base::NumericLessThan),
    ("NumericLessThanEquals", Base::NumericLessThanEquals),
    ("NumericGreaterThan", Base::NumericGreaterThan),
    ("NumericGreaterThanEquals", Base::NumericGreaterThanEquals),
    ("DateEquals", Base::DateEquals),
    ("DateNotEquals", Base::DateNotEquals),
    ("DateLessThan", Base::DateLessThan),
    ("DateLessThanEquals", Base::DateLessThanEquals),
    ("DateGreaterThan", Base::DateGreaterThan),
    ("DateGreaterThanEquals", Base::DateGreaterThanEquals),
    ("Bool", Base::Bool),
    ("BinaryEquals", Base::BinaryEquals),
    ("IpAddress", Base::IpAddress),
    ("NotIpAddress", Base::NotIpAddress),
    ("ArnEquals", Base::ArnEquals),
    ("ArnLike", Base::ArnLike),
    ("ArnNotEquals", Base::ArnNotEquals),
    ("ArnNotLike", Base::ArnNotLike),
    ("Null", Base::Null),
];

impl Base {
    /// Negated operators: true when the key is missing, and "matches none of the values".
    pub(crate) fn negated(self) -> bool {
        matches!(
            self,
            Base::StringNotEquals
                | Base::StringNotEqualsIgnoreCase
                | Base::StringNotLike
                | Base::NumericNotEquals
                | Base::DateNotEquals
                | Base::NotIpAddress
                | Base::ArnNotEquals
                | Base::ArnNotLike
        )
    }

    /// Whether policy variables may appear in this operator's values.
    pub(crate) fn allows_variables(self) -> bool {
        matches!(
            self,
            Base::StringEquals
                | Base::StringNotEquals
                | Base::StringEqualsIgnoreCase
                | Base::StringNotEqualsIgnoreCase
                | Base::StringLike
                | Base::StringNotLike
                | Base::ArnEquals
                | Base::ArnLike
                | Base::ArnNotEquals
                | Base::ArnNotLike
        )
    }
}

/// `ForAnyValue:` / `ForAllValues:` or neither.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SetOp {
    None,
    ForAnyValue,
    ForAllValues,
}

/// A parsed operator such as `ForAnyValue:StringLikeIfExists`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Operator {
    pub(crate) base: Base,
    pub(crate) set: SetOp,
    pub(crate) if_exists: bool,
    /// As written in the policy (borrowed from the table of operator names when it is
    /// written exactly as one, so compiling and cloning it allocate nothing).
    pub(crate) text: Cow<'static, str>,
}

/// Why an operator name was refused.
pub(crate) fn parse_operator(text: &str) -> Result<Operator, String> {
    // Fast path: an operator written exactly as documented, without qualifiers (most of them).
    if let Some(&(name, base)) = BASES.iter().find(|(n, _)| *n == text) {
        return Ok(Operator {
            base,
            set: SetOp::None,
            if_exists: false,
            text: Cow::Borrowed(name),
        });
    }
    // Case-insensitive prefix and suffix matching without lower-casing a copy.
    let strip_prefix = |s: &'_ str, p: &str| -> Option<usize> {
        s.as_bytes()
            .get(..p.len())
            .is_some_and(|h| h.eq_ignore_ascii_case(p.as_bytes()))
            .then_some(p.len())
    };
    let (set, rest) = if let Some(n) = strip_prefix(text, "foranyvalue:") {
        (SetOp::ForAnyValue, text.get(n..).unwrap_or_default())
    } else if let Some(n) = strip_prefix(text, "forallvalues:") {
        (SetOp::ForAllValues, text.get(n..).unwrap_or_default())
    } else {
        (SetOp::None, text)
    };
    const IF_EXISTS: &str = "ifexists";
    let suffix_at = rest.len().checked_sub(IF_EXISTS.len());
    let (if_exists, name) = match suffix_at.and_then(|at| Some((rest.get(..at)?, rest.get(at..)?))) {
        Some((n, suffix)) if suffix.eq_ignore_ascii_case(IF_EXISTS) => (true, n),
        _ => (false, rest),
    };
    let found = BASES.iter().find(|(n, _)| n.eq_ignore_ascii_case(name));
    let base = found.map(|(_, b)| *b);
    match base {
        Some(Base::Null) if if_exists => {
            Err("`Null` cannot take the `IfExists` suffix: use `Null` alone".to_string())
        }
        Some(base) => Ok(Operator {
            base,
            set,
            if_exists,
            text: match found {
                Some((n, _)) if *n == text => Cow::Borrowed(*n),
                _ => Cow::Owned(text.to_string()),
            },
        }),
        None => {
            let suggestion = crate::suggest::closest(name, BASES.iter().map(|(n, _)| *n));
            Err(match suggestion {
                Some(s) => format!("unknown condition operator `{text}`: did you mean `{s}`?"),
                None => format!(
                    "unknown condition operator `{text}`: use a String, Numeric, Date, Bool, Binary, IpAddress, Arn or Null operator"
                ),
            })
        }
    }
}

/// One or more strings in one buffer (the values of a condition as written).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Strs {
    text: String,
    /// Where each string but the last ends in `text` (the last ends at its end).
    ends: Ends,
}

/// The `ends` of a [`Strs`]: in place for up to four strings (no allocation).
#[derive(Debug, Clone, PartialEq)]
enum Ends {
    Inline { len: u8, ends: [u32; 3] },
    Heap(Vec<u32>),
}

impl Ends {
    fn as_slice(&self) -> &[u32] {
        match self {
            Ends::Inline { len, ends } => ends.get(..usize::from(*len)).unwrap_or_default(),
            Ends::Heap(ends) => ends,
        }
    }
}

impl Strs {
    /// The strings of `items`, which has at least one (an empty iterator gives one empty
    /// string). One allocation, two when there are several strings.
    pub(crate) fn new<'s, I>(items: I) -> Strs
    where
        I: ExactSizeIterator<Item = &'s str> + Clone,
    {
        let n = items.len();
        let mut text = String::with_capacity(items.clone().map(str::len).sum());
        const INLINE: usize = 3;
        let mut inline = [0u32; INLINE];
        let mut heap = Vec::new();
        if n > INLINE + 1 {
            heap.reserve_exact(n - 1);
        }
        for (i, item) in items.enumerate() {
            if i > 0 {
                let end = u32::try_from(text.len()).unwrap_or(u32::MAX);
                match inline.get_mut(i - 1) {
                    Some(slot) if n <= INLINE + 1 => *slot = end,
                    _ => heap.push(end),
                }
            }
            text.push_str(item);
        }
        let ends = if n <= INLINE + 1 {
            Ends::Inline {
                len: u8::try_from(n.saturating_sub(1)).unwrap_or(0),
                ends: inline,
            }
        } else {
            Ends::Heap(heap)
        };
        Strs { text, ends }
    }

    /// The strings, in order.
    pub(crate) fn iter(&self) -> StrsIter<'_> {
        StrsIter {
            text: &self.text,
            ends: self.ends.as_slice().iter(),
            start: 0,
            done: false,
        }
    }

    /// The strings as a vector of their own.
    pub(crate) fn to_vec(&self) -> Vec<String> {
        self.iter().map(str::to_owned).collect()
    }
}

/// The strings of a [`Strs`].
#[derive(Clone)]
pub(crate) struct StrsIter<'a> {
    text: &'a str,
    ends: std::slice::Iter<'a, u32>,
    start: usize,
    done: bool,
}

impl<'a> Iterator for StrsIter<'a> {
    type Item = &'a str;

    #[inline]
    fn next(&mut self) -> Option<&'a str> {
        if self.done {
            return None;
        }
        let start = self.start;
        match self.ends.next() {
            Some(&end) => {
                self.start = end as usize;
                Some(self.text.get(start..end as usize).unwrap_or_default())
            }
            None => {
                self.done = true;
                Some(self.text.get(start..).unwrap_or_default())
            }
        }
    }
}

/// The policy values of one condition, compiled for its operator family.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Values {
    /// Equality operators: templates without wildcards, one per raw value, where a value
    /// without policy variables is an empty template and stands for its raw text (no copy of
    /// it); no templates at all when no value has a variable (the common case).
    Str(Vec<Vec<Piece>>),
    /// `StringLike` / `StringNotLike`.
    Like(Vec<Pattern>),
    Num(Vec<f64>),
    Date(Vec<i64>),
    /// Which of `false` and `true` are listed (indexed by the boolean).
    Bool([bool; 2]),
    Binary(Vec<Vec<u8>>),
    Ip(Vec<Cidr>),
    Arn(Vec<Pattern>),
    /// Which answers to "is the key absent?" are listed (indexed by the boolean).
    Null([bool; 2]),
}

/// One operator applied to one key with its values.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Condition {
    pub(crate) op: Operator,
    /// The key name, lower-cased.
    pub(crate) key: Cow<'static, str>,
    /// The key name as written.
    pub(crate) key_text: Cow<'static, str>,
    pub(crate) values: Values,
    /// The values as written (for explanations).
    pub(crate) raw: Strs,
}

/// Compiles the values of one condition. `variables`: Version 2012-10-17.
pub(crate) fn compile_values(base: Base, raw: &Strs, variables: bool) -> Result<Values, String> {
    let vars = variables && base.allows_variables();
    // Each value parsed once; the first one that does not parse is the error.
    fn each<T>(
        raw: &Strs,
        parse: impl Fn(&str) -> Option<T>,
        error: impl Fn(&str) -> String,
    ) -> Result<Vec<T>, String> {
        raw.iter().map(|v| parse(v).ok_or_else(|| error(v))).collect()
    }
    let no_vars_hint = |v: &str| {
        if v.contains("${") {
            " (policy variables are allowed only with String and Arn operators)"
        } else {
            ""
        }
    };
    Ok(match base {
        Base::StringEquals
        | Base::StringNotEquals
        | Base::StringEqualsIgnoreCase
        | Base::StringNotEqualsIgnoreCase
            if !(vars && raw.iter().any(|v| v.contains('$'))) =>
        {
            // Every value is literal text.
            Values::Str(Vec::new())
        }
        Base::StringEquals
        | Base::StringNotEquals
        | Base::StringEqualsIgnoreCase
        | Base::StringNotEqualsIgnoreCase => Values::Str(
            raw.iter()
                .map(|v| {
                    if vars && v.contains('$') {
                        pattern::parse_pieces(v, vars, false, false)
                    } else {
                        // A literal: its raw text is the value.
                        Ok(Vec::new())
                    }
                })
                .collect::<Result<_, _>>()?,
        ),
        Base::StringLike | Base::StringNotLike => Values::Like(
            raw.iter()
                .map(|v| pattern::compile(v, vars, true, false))
                .collect::<Result<_, _>>()?,
        ),
        Base::ArnEquals | Base::ArnLike | Base::ArnNotEquals | Base::ArnNotLike => Values::Arn(
            raw.iter()
                .map(|v| pattern::compile(v, vars, true, false))
                .collect::<Result<_, _>>()?,
        ),
        Base::NumericEquals
        | Base::NumericNotEquals
        | Base::NumericLessThan
        | Base::NumericLessThanEquals
        | Base::NumericGreaterThan
        | Base::NumericGreaterThanEquals => Values::Num(each(raw, values::parse_number, |v| {
            format!("`{v}` is not a number{}", no_vars_hint(v))
        })?),
        Base::DateEquals
        | Base::DateNotEquals
        | Base::DateLessThan
        | Base::DateLessThanEquals
        | Base::DateGreaterThan
        | Base::DateGreaterThanEquals => Values::Date(each(raw, values::parse_date, |v| {
            format!(
                "`{v}` is not a date: use ISO 8601 such as `2026-01-31T12:00:00Z` or epoch seconds{}",
                no_vars_hint(v)
            )
        })?),
        Base::Bool | Base::Null => {
            // The set of the values: `[false listed, true listed]` (no allocation).
            let mut bools = [false; 2];
            for v in raw.iter() {
                let b = parse_bool(v)
                    .ok_or_else(|| format!("`{v}` is not `true` or `false`{}", no_vars_hint(v)))?;
                bools[usize::from(b)] = true;
            }
            if base == Base::Null {
                Values::Null(bools)
            } else {
                Values::Bool(bools)
            }
        }
        Base::BinaryEquals => Values::Binary(each(raw, values::decode_base64, |v| {
            format!("`{v}` is not base64{}", no_vars_hint(v))
        })?),
        Base::IpAddress | Base::NotIpAddress => Values::Ip(each(raw, Cidr::parse, |v| {
            format!(
                "`{v}` is not an IP address or CIDR such as `203.0.113.0/24` or `2001:db8::/32`{}",
                no_vars_hint(v)
            )
        })?),
    })
}

fn parse_bool(v: &str) -> Option<bool> {
    if v.eq_ignore_ascii_case("true") {
        Some(true)
    } else if v.eq_ignore_ascii_case("false") {
        Some(false)
    } else {
        None
    }
}

/// How a plain operator treats a multivalued request value (an open point in AWS's docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MultiValuedPlain {
    /// The condition is false (iam-simulate's reading of re:Inforce 2025 IAM431). The default.
    #[default]
    NoMatch,
    /// The condition behaves as `ForAnyValue:` (PMapper's and iam-rs's reading).
    AnyValue,
}

impl Condition {
    /// Evaluates the condition against the request context.
    pub(crate) fn eval(&self, ctx: &Context, multi: MultiValuedPlain) -> bool {
        let op = &self.op;
        let value = ctx.get_lower(&self.key);
        if let Values::Null(listed) = &self.values {
            let absent = match value {
                None => true,
                Some(Value::Multi(v)) => v.is_empty(),
                Some(Value::Single(_)) => false,
            };
            return listed[usize::from(absent)];
        }
        let negated = op.base.negated();
        let per_value = |r: &str| -> bool {
            let m = self.positive_match(r, ctx);
            if negated { !m } else { m }
        };
        match op.set {
            SetOp::None => match value {
                None => op.if_exists || negated,
                Some(Value::Single(r)) => per_value(r),
                Some(Value::Multi(list)) => match multi {
                    MultiValuedPlain::NoMatch => false,
                    MultiValuedPlain::AnyValue => list.iter().any(|r| per_value(r)),
                },
            },
            SetOp::ForAnyValue => match value {
                None => op.if_exists,
                Some(Value::Single(r)) => per_value(r),
                Some(Value::Multi(list)) => list.iter().any(|r| per_value(r)),
            },
            SetOp::ForAllValues => match value {
                None => true,
                Some(Value::Single(r)) => per_value(r),
                Some(Value::Multi(list)) => list.iter().all(|r| per_value(r)),
            },
        }
    }

    /// True when `r` matches at least one policy value under the positive form of the operator.
    fn positive_match(&self, r: &str, ctx: &Context) -> bool {
        let resolver: &dyn Resolver = ctx;
        match &self.values {
            Values::Str(templates) => {
                let ignore_case = matches!(
                    self.op.base,
                    Base::StringEqualsIgnoreCase | Base::StringNotEqualsIgnoreCase
                );
                if templates.is_empty() {
                    return if ignore_case {
                        self.raw.iter().any(|p| eq_ignore_case(p, r))
                    } else {
                        self.raw.iter().any(|p| p == r)
                    };
                }
                templates.iter().zip(self.raw.iter()).any(|(t, raw)| {
                    match literal_or_resolve(t, raw, resolver) {
                        Some(p) if ignore_case => eq_ignore_case(&p, r),
                        Some(p) => p == r,
                        None => false,
                    }
                })
            }
            Values::Like(patterns) => patterns.iter().any(|p| p.matches(r, resolver)),
            Values::Arn(patterns) => {
                let Some(request_parts) = pattern::split_arn(r) else {
                    return false;
                };
                patterns.iter().any(|p| {
                    if let Pattern::Exact(s) = p {
                        // No wildcard: the six parts are equal (no atoms to build).
                        return pattern::split_arn(s).is_some_and(|parts| parts == request_parts);
                    }
                    let Some(atoms) = p.atoms(resolver) else {
                        return false;
                    };
                    let Some(parts) = pattern::split_arn_atoms(&atoms) else {
                        return false;
                    };
                    parts
                        .iter()
                        .zip(request_parts.iter())
                        .all(|(pat, text)| pattern::glob(pat, text))
                })
            }
            Values::Num(nums) => match values::parse_number(r) {
                Some(x) => nums.iter().any(|p| match self.op.base {
                    Base::NumericEquals | Base::NumericNotEquals => x == *p,
                    Base::NumericLessThan => x < *p,
                    Base::NumericLessThanEquals => x <= *p,
                    Base::NumericGreaterThan => x > *p,
                    _ => x >= *p,
                }),
                None => false,
            },
            Values::Date(dates) => match values::parse_date(r) {
                Some(x) => dates.iter().any(|p| match self.op.base {
                    Base::DateEquals | Base::DateNotEquals => x == *p,
                    Base::DateLessThan => x < *p,
                    Base::DateLessThanEquals => x <= *p,
                    Base::DateGreaterThan => x > *p,
                    _ => x >= *p,
                }),
                None => false,
            },
            Values::Bool(listed) => match parse_bool(r) {
                Some(b) => listed[usize::from(b)],
                None => false,
            },
            Values::Binary(blobs) => match values::decode_base64(r) {
                Some(bytes) => blobs.contains(&bytes),
                None => false,
            },
            Values::Ip(cidrs) => cidrs.iter().any(|c| c.contains(r)),
            Values::Null(_) => false,
        }
    }
}

/// The string a `Values::Str` template stands for: its raw text when it is a literal (an
/// empty template), otherwise the template resolved.
fn literal_or_resolve<'a>(t: &'a [Piece], raw: &'a str, resolver: &'a dyn Resolver) -> Option<Cow<'a, str>> {
    if t.is_empty() {
        Some(Cow::Borrowed(raw))
    } else {
        pattern::resolve_string(t, resolver)
    }
}

fn eq_ignore_case(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.eq_ignore_ascii_case(b)
        || a.chars()
            .flat_map(char::to_lowercase)
            .eq(b.chars().flat_map(char::to_lowercase))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cond(op: &str, key: &str, vals: &[&str]) -> Condition {
        let operator = parse_operator(op).unwrap();
        let raw = Strs::new(vals.iter().copied());
        Condition {
            values: compile_values(operator.base, &raw, true).unwrap(),
            op: operator,
            key: Cow::Owned(key.to_lowercase()),
            key_text: Cow::Owned(key.to_string()),
            raw,
        }
    }

    fn ctx(pairs: &[(&str, Value)]) -> Context {
        let mut c = Context::new();
        for (k, v) in pairs {
            c.insert(k, v.clone());
        }
        c
    }

    #[test]
    fn missing_keys() {
        let empty = Context::new();
        let m = MultiValuedPlain::NoMatch;
        assert!(!cond("StringEquals", "aws:SourceVpc", &["vpc-1"]).eval(&empty, m));
        assert!(cond("StringNotEquals", "aws:SourceVpc", &["vpc-1"]).eval(&empty, m));
        assert!(cond("StringEqualsIfExists", "aws:SourceVpc", &["vpc-1"]).eval(&empty, m));
        assert!(!cond("ForAnyValue:StringEquals", "aws:TagKeys", &["a"]).eval(&empty, m));
        assert!(cond("ForAllValues:StringEquals", "aws:TagKeys", &["a"]).eval(&empty, m));
        assert!(cond("Null", "aws:TagKeys", &["true"]).eval(&empty, m));
    }

    #[test]
    fn set_operators() {
        let m = MultiValuedPlain::NoMatch;
        let c = ctx(&[("aws:TagKeys", Value::from(vec!["a", "b"]))]);
        assert!(cond("ForAnyValue:StringEquals", "aws:tagkeys", &["b"]).eval(&c, m));
        assert!(!cond("ForAllValues:StringEquals", "aws:tagkeys", &["b"]).eval(&c, m));
        assert!(cond("ForAllValues:StringEquals", "aws:tagkeys", &["a", "b", "c"]).eval(&c, m));
        assert!(cond("ForAnyValue:StringNotEquals", "aws:tagkeys", &["a"]).eval(&c, m));
        assert!(!cond("ForAllValues:StringNotEquals", "aws:tagkeys", &["a"]).eval(&c, m));
        assert!(!cond("StringEquals", "aws:tagkeys", &["a"]).eval(&c, m));
        assert!(cond("StringEquals", "aws:tagkeys", &["a"]).eval(&c, MultiValuedPlain::AnyValue));
    }

    #[test]
    fn families() {
        let m = MultiValuedPlain::NoMatch;
        let c = ctx(&[
            ("aws:SourceIp", Value::from("203.0.113.9")),
            ("n", Value::from("10")),
            ("aws:CurrentTime", Value::from("2026-01-02T00:00:00Z")),
            ("aws:SecureTransport", Value::from("TRUE")),
            ("aws:SourceArn", Value::from("arn:aws:s3:::bucket/key")),
        ]);
        assert!(cond("IpAddress", "aws:SourceIp", &["203.0.113.0/24"]).eval(&c, m));
        assert!(cond("NotIpAddress", "aws:SourceIp", &["10.0.0.0/8"]).eval(&c, m));
        assert!(cond("NumericLessThan", "n", &["10.5"]).eval(&c, m));
        assert!(cond("NumericEquals", "n", &["10.0"]).eval(&c, m));
        assert!(cond("DateGreaterThan", "aws:CurrentTime", &["2026-01-01"]).eval(&c, m));
        assert!(cond("Bool", "aws:SecureTransport", &["true"]).eval(&c, m));
        assert!(cond("ArnLike", "aws:SourceArn", &["arn:aws:s3:::bucket/*"]).eval(&c, m));
        assert!(!cond("ArnLike", "aws:SourceArn", &["arn:aws:s3:*"]).eval(&c, m));
        assert!(
            cond(
                "StringEqualsIgnoreCase",
                "aws:SourceArn",
                &["ARN:AWS:S3:::BUCKET/KEY"]
            )
            .eval(&c, m)
        );
    }

    #[test]
    fn operator_errors() {
        assert!(
            parse_operator("StringEqual")
                .unwrap_err()
                .contains("did you mean `StringEquals`")
        );
        assert!(parse_operator("NullIfExists").is_err());
        assert!(
            compile_values(Base::NumericEquals, &Strs::new(["${aws:x}"].into_iter()), true)
                .unwrap_err()
                .contains("policy variables")
        );
    }
}
