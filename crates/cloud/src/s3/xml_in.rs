//! A small XML reader for S3 request bodies (`CreateBucketConfiguration`,
//! `CompleteMultipartUpload`, `Delete`, `ServerSideEncryptionConfiguration`, `Tagging`):
//! elements and text only; namespaces are dropped to local names, attributes ignored.

/// An element.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Element {
    /// Local name.
    pub name: String,
    /// Child elements in order.
    pub children: Vec<Element>,
    /// The concatenated text directly inside.
    pub text: String,
}

impl Element {
    /// The first child named `name`.
    pub fn child(&self, name: &str) -> Option<&Element> {
        self.children.iter().find(|c| c.name == name)
    }

    /// Every child named `name`.
    pub fn all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Element> + 'a {
        self.children.iter().filter(move |c| c.name == name)
    }

    /// The trimmed text of the first child named `name`.
    pub fn text_of(&self, name: &str) -> Option<&str> {
        self.child(name).map(|c| c.text.trim())
    }
}

/// Why a document was rejected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct XmlError(pub String);

fn unescape(s: &str) -> Result<String, XmlError> {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find('&') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        let end = after
            .find(';')
            .ok_or_else(|| XmlError("unterminated entity".into()))?;
        let ent = &after[..end];
        match ent {
            "lt" => out.push('<'),
            "gt" => out.push('>'),
            "amp" => out.push('&'),
            "quot" => out.push('"'),
            "apos" => out.push('\''),
            _ => {
                let code = if let Some(h) = ent.strip_prefix("#x").or_else(|| ent.strip_prefix("#X")) {
                    u32::from_str_radix(h, 16).ok()
                } else if let Some(d) = ent.strip_prefix('#') {
                    d.parse().ok()
                } else {
                    None
                };
                let c = code
                    .and_then(char::from_u32)
                    .ok_or_else(|| XmlError(format!("unknown entity &{ent};")))?;
                out.push(c);
            }
        }
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

fn local(name: &str) -> &str {
    name.rsplit(':').next().unwrap_or(name)
}

/// Parses a document into its root element.
pub fn parse(input: &str) -> Result<Element, XmlError> {
    let mut stack: Vec<Element> = Vec::new();
    let mut root: Option<Element> = None;
    let mut rest = input.trim_start_matches('\u{feff}');
    loop {
        let Some(lt) = rest.find('<') else {
            if !rest.trim().is_empty() {
                return Err(XmlError("text outside the root element".into()));
            }
            break;
        };
        let text = &rest[..lt];
        match stack.last_mut() {
            Some(top) => top.text.push_str(&unescape(text)?),
            None if !text.trim().is_empty() => return Err(XmlError("text outside the root element".into())),
            None => {}
        }
        rest = &rest[lt..];
        if let Some(r) = rest.strip_prefix("<?") {
            let end = r
                .find("?>")
                .ok_or_else(|| XmlError("unterminated declaration".into()))?;
            rest = &r[end + 2..];
        } else if let Some(r) = rest.strip_prefix("<!--") {
            let end = r
                .find("-->")
                .ok_or_else(|| XmlError("unterminated comment".into()))?;
            rest = &r[end + 3..];
        } else if let Some(r) = rest.strip_prefix("<![CDATA[") {
            let end = r
                .find("]]>")
                .ok_or_else(|| XmlError("unterminated CDATA".into()))?;
            if let Some(top) = stack.last_mut() {
                top.text.push_str(&r[..end]);
            }
            rest = &r[end + 3..];
        } else if rest.starts_with("<!") {
            return Err(XmlError("DTDs are not accepted".into()));
        } else if let Some(r) = rest.strip_prefix("</") {
            let end = r
                .find('>')
                .ok_or_else(|| XmlError("unterminated end tag".into()))?;
            let name = local(r[..end].trim());
            let el = stack.pop().ok_or_else(|| XmlError("unexpected end tag".into()))?;
            if el.name != name {
                return Err(XmlError(format!("</{name}> does not close <{}>", el.name)));
            }
            match stack.last_mut() {
                Some(parent) => parent.children.push(el),
                None if root.is_none() => root = Some(el),
                None => return Err(XmlError("more than one root element".into())),
            }
            rest = &r[end + 1..];
        } else {
            let r = &rest[1..];
            let end = r.find('>').ok_or_else(|| XmlError("unterminated tag".into()))?;
            let tag = &r[..end];
            let self_closing = tag.ends_with('/');
            let tag = tag.trim_end_matches('/');
            let name = tag.split(|c: char| c.is_whitespace()).next().unwrap_or("");
            if name.is_empty() {
                return Err(XmlError("empty tag name".into()));
            }
            let el = Element {
                name: local(name).to_string(),
                ..Element::default()
            };
            if stack.len() > 32 {
                return Err(XmlError("nested too deeply".into()));
            }
            if self_closing {
                match stack.last_mut() {
                    Some(parent) => parent.children.push(el),
                    None if root.is_none() => root = Some(el),
                    None => return Err(XmlError("more than one root element".into())),
                }
            } else {
                if root.is_some() && stack.is_empty() {
                    return Err(XmlError("more than one root element".into()));
                }
                stack.push(el);
            }
            rest = &r[end + 1..];
        }
    }
    if !stack.is_empty() {
        return Err(XmlError("unclosed element".into()));
    }
    root.ok_or_else(|| XmlError("no root element".into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_complete_multipart_upload() {
        let doc = r#"<?xml version="1.0" encoding="UTF-8"?>
<CompleteMultipartUpload xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Part><ETag>&quot;abc&quot;</ETag><PartNumber>1</PartNumber></Part><Part><ETag>"d"</ETag><PartNumber>2</PartNumber><ChecksumCRC32/></Part></CompleteMultipartUpload>"#;
        let root = parse(doc).unwrap();
        assert_eq!(root.name, "CompleteMultipartUpload");
        let parts: Vec<_> = root.all("Part").collect();
        assert_eq!(parts.len(), 2);
        assert_eq!(parts[0].text_of("ETag"), Some("\"abc\""));
        assert_eq!(parts[1].text_of("PartNumber"), Some("2"));
    }

    #[test]
    fn rejects_broken_documents() {
        assert!(parse("<a><b></a>").is_err());
        assert!(parse("<a>").is_err());
        assert!(parse("").is_err());
        assert!(parse("<!DOCTYPE x><a/>").is_err());
        assert_eq!(parse("<a>x &amp; &#65;</a>").unwrap().text, "x & A");
    }
}
