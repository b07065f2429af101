//! Keeping the proxied console under `/sessions/ID/`: links, forms, scripts and redirects of
//! the cloud's console are rewritten so that the browser only ever talks to Porteiro.
//!
//! A URL is rewritten when it points at the console's origin: an absolute path (`/console/…`)
//! or an absolute URL whose authority is the cloud's. Other sites, fragments, relative paths
//! and protocol-relative URLs (`//host/…`) are left alone. In HTML, the values of `href`,
//! `src`, `action` and `formaction` attributes are rewritten (in every tag; quoted with `"` or
//! `'`, or unquoted).

/// Where the console is proxied: the session's prefix and the cloud's authority.
#[derive(Debug, Clone)]
pub struct Rewriter {
    /// `/sessions/ID` (no trailing slash).
    prefix: String,
    /// The cloud console's authority (`host:port`), lowercase.
    cloud_authority: String,
}

/// The attributes that hold URLs the browser follows.
const URL_ATTRIBUTES: [&str; 4] = ["href", "src", "action", "formaction"];

impl Rewriter {
    /// A rewriter for session `session_id`, whose console is at `cloud_authority`.
    pub fn new(session_id: &str, cloud_authority: &str) -> Rewriter {
        Rewriter {
            prefix: format!("/sessions/{session_id}"),
            cloud_authority: cloud_authority.to_ascii_lowercase(),
        }
    }

    /// The session's prefix (`/sessions/ID`).
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// The browser's URL for a console URL, or `None` when it is not the console's (another
    /// site, a fragment, a relative path).
    pub fn url(&self, url: &str) -> Option<String> {
        let trimmed = url.trim();
        if trimmed.starts_with("//") {
            return None;
        }
        if trimmed.starts_with('/') {
            return Some(format!("{}{trimmed}", self.prefix));
        }
        let lower = trimmed.to_ascii_lowercase();
        let rest = lower
            .strip_prefix("http://")
            .or_else(|| lower.strip_prefix("https://"))?;
        let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        if rest[..end] != self.cloud_authority {
            return None;
        }
        // Keep the original case of the path: cut the same number of bytes off the original.
        let skip = trimmed.len() - rest.len() + end;
        let path = &trimmed[skip..];
        Some(if path.starts_with('/') {
            format!("{}{path}", self.prefix)
        } else {
            format!("{}/{path}", self.prefix)
        })
    }

    /// A `Location` header's value for the browser (unchanged when it leads elsewhere).
    pub fn location(&self, location: &str) -> String {
        self.url(location).unwrap_or_else(|| location.to_string())
    }

    /// The page with every console URL in a URL attribute rewritten.
    pub fn html(&self, page: &str) -> String {
        let bytes = page.as_bytes();
        let mut out = String::with_capacity(page.len() + page.len() / 16);
        let mut copied = 0;
        let mut i = 0;
        while i < bytes.len() {
            // A tag starts with `<` and a letter; comments, doctypes and end tags are skipped.
            if bytes[i] != b'<' || !bytes.get(i + 1).is_some_and(u8::is_ascii_alphabetic) {
                i += 1;
                continue;
            }
            let mut j = i + 1;
            while j < bytes.len() && !bytes[j].is_ascii_whitespace() && bytes[j] != b'>' {
                j += 1;
            }
            // Attributes until the tag's `>`.
            loop {
                while j < bytes.len() && (bytes[j].is_ascii_whitespace() || bytes[j] == b'/') {
                    j += 1;
                }
                if j >= bytes.len() || bytes[j] == b'>' {
                    break;
                }
                let name_start = j;
                while j < bytes.len()
                    && !bytes[j].is_ascii_whitespace()
                    && !matches!(bytes[j], b'=' | b'>' | b'/')
                {
                    j += 1;
                }
                let name = &page[name_start..j];
                while j < bytes.len() && bytes[j].is_ascii_whitespace() {
                    j += 1;
                }
                if j >= bytes.len() || bytes[j] != b'=' {
                    continue;
                }
                j += 1;
                while j < bytes.len() && bytes[j].is_ascii_whitespace() {
                    j += 1;
                }
                if j >= bytes.len() {
                    break;
                }
                let (value_start, value_end, next) = match bytes[j] {
                    q @ (b'"' | b'\'') => {
                        let start = j + 1;
                        let end = page[start..].find(q as char).map_or(bytes.len(), |k| start + k);
                        (start, end, (end + 1).min(bytes.len()))
                    }
                    _ => {
                        let start = j;
                        let mut end = j;
                        while end < bytes.len() && !bytes[end].is_ascii_whitespace() && bytes[end] != b'>' {
                            end += 1;
                        }
                        (start, end, end)
                    }
                };
                if URL_ATTRIBUTES.iter().any(|a| a.eq_ignore_ascii_case(name))
                    && let Some(new) = self.url(&page[value_start..value_end])
                {
                    out.push_str(&page[copied..value_start]);
                    out.push_str(&new);
                    copied = value_end;
                }
                j = next;
            }
            i = j;
        }
        out.push_str(&page[copied..]);
        out
    }

    /// The console path a browser path asks for: `/sessions/ID/console/x?y` → `/console/x?y`.
    /// `None` when the path is not under this session's prefix.
    pub fn upstream_path<'a>(&self, browser_path: &'a str) -> Option<&'a str> {
        let rest = browser_path.strip_prefix(self.prefix.as_str())?;
        if rest.is_empty() {
            Some("/")
        } else if rest.starts_with('/') {
            Some(rest)
        } else {
            None
        }
    }
}

/// Replaces every occurrence of each known secret in `text` with `********`.
pub fn scrub(text: &str, secrets: &[String]) -> Option<String> {
    let present: Vec<&String> = secrets
        .iter()
        .filter(|s| s.len() >= 8 && text.contains(s.as_str()))
        .collect();
    if present.is_empty() {
        return None;
    }
    let mut out = text.to_string();
    for s in present {
        out = out.replace(s.as_str(), "********");
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rw() -> Rewriter {
        Rewriter::new("ps-0123456789abcdef", "127.0.0.1:8081")
    }

    #[test]
    fn console_urls_go_under_the_session() {
        let r = rw();
        assert_eq!(
            r.url("/console/iam/users").as_deref(),
            Some("/sessions/ps-0123456789abcdef/console/iam/users")
        );
        assert_eq!(
            r.url("http://127.0.0.1:8081/console/?a=1").as_deref(),
            Some("/sessions/ps-0123456789abcdef/console/?a=1")
        );
        assert_eq!(
            r.url("HTTP://127.0.0.1:8081").as_deref(),
            Some("/sessions/ps-0123456789abcdef/")
        );
        assert_eq!(r.url("https://broker.example/back"), None);
        assert_eq!(r.url("http://127.0.0.1:80811/x"), None);
        assert_eq!(r.url("//evil.example/x"), None);
        assert_eq!(r.url("#main"), None);
        assert_eq!(r.url("relative/page"), None);
        assert_eq!(r.location("https://broker.example/"), "https://broker.example/");
        assert_eq!(r.location("/signin"), "/sessions/ps-0123456789abcdef/signin");
    }

    #[test]
    fn html_attributes_are_rewritten_and_text_is_not() {
        let page = r##"<!DOCTYPE html><link rel="stylesheet" href="/console/static/console.css">
<a class="skip" href="#main">Skip</a><p>Go to /console/ yourself</p>
<form method="post" action='/console/iam/users'><input name="x" value="/console/keep"><button formaction=/console/logout>Out</button></form>
<a href="https://broker.example/">Back</a><a HREF="http://127.0.0.1:8081/console/kms">KMS</a>
<script src="/console/static/console.js"></script>"##;
        let out = rw().html(page);
        let p = "/sessions/ps-0123456789abcdef";
        assert!(
            out.contains(&format!(r#"href="{p}/console/static/console.css""#)),
            "{out}"
        );
        assert!(out.contains(r##"href="#main""##));
        assert!(out.contains("<p>Go to /console/ yourself</p>"));
        assert!(out.contains(&format!("action='{p}/console/iam/users'")));
        assert!(
            out.contains(r#"value="/console/keep""#),
            "values of other attributes stay"
        );
        assert!(out.contains(&format!("formaction={p}/console/logout>")));
        assert!(out.contains(r#"href="https://broker.example/""#));
        assert!(out.contains(&format!(r#"HREF="{p}/console/kms""#)));
        assert!(out.contains(&format!(r#"src="{p}/console/static/console.js""#)));
    }

    #[test]
    fn broken_html_does_not_panic() {
        for page in [
            "<a href=",
            "<a href=\"/console",
            "<",
            "<a",
            "<a b",
            "<a href='x' <b",
            "é<a href=/é>",
        ] {
            let _ = rw().html(page);
        }
        assert_eq!(
            rw().html("é<a href=/é>"),
            "é<a href=/sessions/ps-0123456789abcdef/é>"
        );
    }

    #[test]
    fn browser_paths_map_to_console_paths() {
        let r = rw();
        assert_eq!(
            r.upstream_path("/sessions/ps-0123456789abcdef/console/s3"),
            Some("/console/s3")
        );
        assert_eq!(r.upstream_path("/sessions/ps-0123456789abcdef"), Some("/"));
        assert_eq!(r.upstream_path("/sessions/ps-0123456789abcdefX/console"), None);
        assert_eq!(r.upstream_path("/sessions/other/console"), None);
    }

    #[test]
    fn known_secrets_are_scrubbed() {
        let secrets = vec!["hunter2-password".to_string(), "short".to_string()];
        assert_eq!(
            scrub("a hunter2-password b hunter2-password short", &secrets).as_deref(),
            Some("a ******** b ******** short")
        );
        assert_eq!(scrub("nothing here", &secrets), None);
    }
}
