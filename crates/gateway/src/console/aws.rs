//! The hand-over of a JIT console session to AWS's own console, for accounts on real AWS
//! (no endpoint): AWS's console cannot be proxied through Porteiro, so the gateway asks AWS's
//! federation endpoint for a sign-in token with the session's temporary credentials and sends
//! the browser to AWS's login URL
//! (<https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_providers_enable-console-custom-url.html>).
//! What happens in AWS's console is not captured; the session's start, end and the API calls
//! made through the API gateway are.

/// AWS's partition of a region: its federation endpoint and its console.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Partition {
    /// `https://signin.aws.amazon.com/federation` (or the partition's).
    pub federation: &'static str,
    /// The console's origin (`https://console.aws.amazon.com`, or the partition's).
    pub console: &'static str,
}

/// The partition a region belongs to (`cn-…`: China, `us-gov-…`: GovCloud, else `aws`).
pub fn partition(region: &str) -> Partition {
    if region.starts_with("cn-") {
        Partition {
            federation: "https://signin.amazonaws.cn/federation",
            console: "https://console.amazonaws.cn",
        }
    } else if region.starts_with("us-gov-") {
        Partition {
            federation: "https://signin.amazonaws-us-gov.com/federation",
            console: "https://console.amazonaws-us-gov.com",
        }
    } else {
        Partition {
            federation: "https://signin.aws.amazon.com/federation",
            console: "https://console.aws.amazon.com",
        }
    }
}

/// Percent-encodes a query value (RFC 3986 unreserved characters kept).
pub fn enc(text: &str) -> String {
    let mut out = String::with_capacity(text.len() * 3 / 2);
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The `Session` parameter: the JSON of the temporary credentials.
pub fn session_json(access_key_id: &str, secret_access_key: &str, session_token: &str) -> String {
    serde_json::json!({
        "sessionId": access_key_id,
        "sessionKey": secret_access_key,
        "sessionToken": session_token,
    })
    .to_string()
}

/// The `getSigninToken` URL at `federation` (AWS's endpoint, or an embedded cloud's
/// `/federation`). `session_duration` (900 … 43 200 s) is left out when `None`.
pub fn signin_token_url(
    federation: &str,
    access_key_id: &str,
    secret_access_key: &str,
    session_token: &str,
    session_duration: Option<i64>,
) -> String {
    let duration = session_duration
        .map(|d| format!("&SessionDuration={}", d.clamp(900, 43_200)))
        .unwrap_or_default();
    format!(
        "{federation}?Action=getSigninToken{duration}&Session={}",
        enc(&session_json(access_key_id, secret_access_key, session_token))
    )
}

/// The login URL the browser is sent to: `Action=login`, the issuer (Porteiro, offered when
/// the console session ends), the destination (the region's console home) and the token.
pub fn login_url(federation: &str, issuer: &str, destination: &str, signin_token: &str) -> String {
    format!(
        "{federation}?Action=login&Issuer={}&Destination={}&SigninToken={}",
        enc(issuer),
        enc(destination),
        enc(signin_token)
    )
}

/// The console home of a region, as the login's destination.
pub fn console_home(region: &str) -> String {
    let p = partition(region);
    let host = p.console.trim_start_matches("https://");
    format!("https://{region}.{host}/console/home?region={region}")
}

/// Reads `{"SigninToken": "…"}`, the federation endpoint's answer.
pub fn parse_signin_token(body: &[u8]) -> Option<String> {
    let v: serde_json::Value = serde_json::from_slice(body).ok()?;
    v.get("SigninToken")?.as_str().map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partitions_by_region() {
        assert_eq!(
            partition("us-east-1").federation,
            "https://signin.aws.amazon.com/federation"
        );
        assert_eq!(partition("eu-west-3").console, "https://console.aws.amazon.com");
        assert_eq!(
            partition("cn-north-1").federation,
            "https://signin.amazonaws.cn/federation"
        );
        assert_eq!(
            partition("us-gov-west-1").federation,
            "https://signin.amazonaws-us-gov.com/federation"
        );
        assert_eq!(
            console_home("eu-west-3"),
            "https://eu-west-3.console.aws.amazon.com/console/home?region=eu-west-3"
        );
    }

    #[test]
    fn the_signin_token_request_carries_the_session_json() {
        let url = signin_token_url(
            "https://signin.aws.amazon.com/federation",
            "ASIAEXAMPLE",
            "se/cr+et",
            "tok=en",
            Some(3600),
        );
        assert_eq!(
            url,
            "https://signin.aws.amazon.com/federation?Action=getSigninToken&SessionDuration=3600&Session=%7B%22sessionId%22%3A%22ASIAEXAMPLE%22%2C%22sessionKey%22%3A%22se%2Fcr%2Bet%22%2C%22sessionToken%22%3A%22tok%3Den%22%7D"
        );
        assert!(
            signin_token_url("https://x/federation", "A", "B", "C", Some(60))
                .contains("SessionDuration=900&")
        );
        assert!(!signin_token_url("https://x/federation", "A", "B", "C", None).contains("SessionDuration"));
    }

    #[test]
    fn the_login_url_is_awss() {
        let url = login_url(
            partition("us-east-1").federation,
            "https://porteiro.example/sessions/ps-1/",
            &console_home("us-east-1"),
            "TOKEN+/=",
        );
        assert_eq!(
            url,
            "https://signin.aws.amazon.com/federation?Action=login&Issuer=https%3A%2F%2Fporteiro.example%2Fsessions%2Fps-1%2F&Destination=https%3A%2F%2Fus-east-1.console.aws.amazon.com%2Fconsole%2Fhome%3Fregion%3Dus-east-1&SigninToken=TOKEN%2B%2F%3D"
        );
    }

    #[test]
    fn signin_tokens_are_read_from_the_answer() {
        assert_eq!(
            parse_signin_token(br#"{"SigninToken":"abc"}"#).as_deref(),
            Some("abc")
        );
        assert_eq!(parse_signin_token(br#"{"Error":{"Code":"x"}}"#), None);
        assert_eq!(parse_signin_token(b"not json"), None);
    }
}
