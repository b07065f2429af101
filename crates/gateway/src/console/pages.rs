//! Porteiro's own pages on the console path: the launch page, "You have been disconnected",
//! the hand-over to AWS's console, and errors. Plain HTML, no script, a strict
//! Content-Security-Policy.

use bytes::Bytes;
use http_body_util::Full;
use hyper::header::HeaderValue;
use hyper::{Response, StatusCode};

/// The Content-Security-Policy of Porteiro's pages (one inline style element, nothing else).
pub const CSP: &str = "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

const STYLE: &str = "body{font-family:system-ui,sans-serif;margin:2rem auto;max-width:46rem;color:#16191f;padding:0 1rem}\
.box{border:1px solid #d5dbdb;padding:1rem 1.5rem;background:#fff}\
.cut{border-color:#d13212;background:#fde8e5}dl{display:grid;grid-template-columns:max-content 1fr;gap:.25rem 1rem}dt{font-weight:bold}";

/// The language of Porteiro's pages on the console path: the web UI's `porteiro_lang` cookie,
/// else the first supported `Accept-Language` entry, else English.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    /// English.
    En,
    /// Brazilian Portuguese.
    Pt,
}

/// Porteiro's texts on the console path in Brazilian Portuguese, by their English words.
const PT: &[(&str, &str)] = &[
    ("You have been disconnected", "Você foi desconectado"),
    ("Opening the console", "Abrindo o console"),
    ("Opening the AWS console", "Abrindo o console da AWS"),
    ("Signed out", "Sessão do console encerrada"),
    ("Session", "Sessão"),
    ("Reason", "Motivo"),
    ("Time", "Horário"),
    ("expired", "a duração da sessão terminou"),
    ("No such session", "Sessão inexistente"),
    (
        "This is not a session's address: console sessions are at /sessions/ID/ (open them from Porteiro).",
        "Este não é o endereço de uma sessão: as sessões de console ficam em /sessions/ID/ (abra-as pelo Porteiro).",
    ),
    ("Internal error", "Erro interno"),
    (
        "the gateway's state is poisoned: restart Porteiro",
        "o estado do gateway está corrompido: reinicie o Porteiro",
    ),
    ("Not signed in to this session", "Sem acesso a esta sessão"),
    ("Request refused", "Pedido recusado"),
    (
        "The request came from another site: reload the console page and try again.",
        "O pedido veio de outro site: recarregue a página do console e tente de novo.",
    ),
    ("Not your session", "A sessão não é sua"),
    (
        "This session belongs to another Porteiro user.",
        "Esta sessão pertence a outro usuário do Porteiro.",
    ),
    (
        "The console could not be opened",
        "Não foi possível abrir o console",
    ),
    (
        "The AWS console could not be opened",
        "Não foi possível abrir o console da AWS",
    ),
    (
        "The console could not be reached",
        "Não foi possível alcançar o console",
    ),
    (
        "This launch link does not work",
        "Este link de abertura não funciona",
    ),
    (
        "The link was already used, is older than a minute, or belongs to another session: open the session again from Porteiro.",
        "O link já foi usado, tem mais de um minuto ou pertence a outra sessão: abra a sessão de novo pelo Porteiro.",
    ),
    ("Not part of the console", "Fora do console"),
    (
        "Only the console's pages (/sessions/ID/console/…) are reachable through Porteiro.",
        "Só as páginas do console (/sessions/ID/console/…) são acessíveis pelo Porteiro.",
    ),
    ("Not available", "Indisponível"),
    (
        "Cloud console sessions on AWS are not proxied: use a JIT session.",
        "Sessões de Cloud console na AWS não passam pelo Porteiro: use uma sessão JIT.",
    ),
    (
        "not a proxied console",
        "não é um console intermediado pelo Porteiro",
    ),
];

impl Lang {
    /// The language a request asks for.
    pub fn of(headers: &hyper::HeaderMap) -> Lang {
        let cookie = headers
            .get_all(hyper::header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(';'))
            .find_map(|c| c.trim().strip_prefix("porteiro_lang="));
        if let Some(l) = cookie.and_then(Lang::parse) {
            return l;
        }
        let accept = headers
            .get(hyper::header::ACCEPT_LANGUAGE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        let mut best: Option<(f32, Lang)> = None;
        for part in accept.split(',') {
            let mut bits = part.split(';');
            let tag = bits.next().unwrap_or("");
            let q = bits
                .find_map(|b| b.trim().strip_prefix("q="))
                .and_then(|q| q.parse::<f32>().ok())
                .unwrap_or(1.0);
            if let Some(l) = Lang::parse(tag)
                && q > 0.0
                && best.is_none_or(|(bq, _)| q > bq)
            {
                best = Some((q, l));
            }
        }
        best.map(|(_, l)| l).unwrap_or(Lang::En)
    }

    fn parse(tag: &str) -> Option<Lang> {
        let tag = tag.trim().to_ascii_lowercase();
        if tag == "en" || tag.starts_with("en-") {
            Some(Lang::En)
        } else if tag == "pt" || tag.starts_with("pt-") {
            Some(Lang::Pt)
        } else {
            None
        }
    }

    /// The `lang` attribute of the page.
    fn tag(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::Pt => "pt-BR",
        }
    }

    /// `text` in this language (the English itself when it has no translation: a message
    /// from elsewhere, such as the manager's).
    pub fn t(self, text: &str) -> &str {
        match self {
            Lang::En => text,
            Lang::Pt => PT
                .iter()
                .find(|(en, _)| *en == text)
                .map(|(_, pt)| *pt)
                .unwrap_or(text),
        }
    }

    /// Why a session ended, in words: `expired`, or `dropped by NAME`.
    fn reason(self, reason: &str) -> String {
        match (self, reason.strip_prefix("dropped by ")) {
            (Lang::Pt, Some(by)) => format!("derrubada por {by}"),
            _ => self.t(reason).to_string(),
        }
    }
}

/// Escapes text for HTML element content and quoted attribute values.
pub fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A whole page. `head` is extra markup for `<head>` (a refresh).
pub fn page(lang: Lang, title: &str, head: &str, body: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html lang=\"{tag}\">\n<head>\n<meta charset=\"utf-8\">\n<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>{title} · Porteiro</title>\n{head}<style>{STYLE}</style>\n</head>\n<body>\n<main>\n<h1>{title}</h1>\n{body}\n</main>\n</body>\n</html>\n",
        title = esc(title),
        tag = lang.tag(),
    )
}

/// An HTML response with Porteiro's security headers.
pub fn respond(status: StatusCode, html: String) -> Response<Full<Bytes>> {
    let mut resp = Response::new(Full::new(Bytes::from(html)));
    *resp.status_mut() = status;
    let h = resp.headers_mut();
    h.insert(
        hyper::header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    secure(h);
    resp
}

/// The security headers of every response on the console path.
pub fn secure(h: &mut hyper::HeaderMap) {
    h.insert(hyper::header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert("x-content-type-options", HeaderValue::from_static("nosniff"));
    h.insert("x-frame-options", HeaderValue::from_static("DENY"));
    h.insert("referrer-policy", HeaderValue::from_static("same-origin"));
    if !h.contains_key("content-security-policy") {
        h.insert("content-security-policy", HeaderValue::from_static(CSP));
    }
}

/// A redirect to a path of Porteiro.
pub fn redirect(status: StatusCode, location: &str) -> Response<Full<Bytes>> {
    let mut resp = Response::new(Full::new(Bytes::new()));
    *resp.status_mut() = status;
    if let Ok(v) = HeaderValue::from_str(location) {
        resp.headers_mut().insert(hyper::header::LOCATION, v);
    }
    secure(resp.headers_mut());
    resp
}

/// "You have been disconnected": the session, why, and when.
pub fn disconnected(lang: Lang, session_id: &str, reason: &str, at_seconds: i64) -> Response<Full<Bytes>> {
    let (said, next) = match lang {
        Lang::En => (
            "<strong>You have been disconnected.</strong> This console session has ended and Porteiro no longer forwards it; the cloud console session was signed out.",
            "Start a new session from Porteiro to continue.",
        ),
        Lang::Pt => (
            "<strong>Você foi desconectado.</strong> Esta sessão de console terminou e o Porteiro não a encaminha mais; a sessão do console da nuvem foi encerrada.",
            "Inicie uma nova sessão pelo Porteiro para continuar.",
        ),
    };
    let body = format!(
        r#"<div class="box cut" role="alert"><p>{said}</p>
<dl><dt>{session_l}</dt><dd><code>{id}</code></dd><dt>{reason_l}</dt><dd>{reason}</dd><dt>{time_l}</dt><dd><time datetime="{iso}">{time}</time></dd></dl></div>
<p>{next}</p>"#,
        session_l = lang.t("Session"),
        reason_l = lang.t("Reason"),
        time_l = lang.t("Time"),
        id = esc(session_id),
        reason = esc(&lang.reason(reason)),
        iso = iso(at_seconds),
        time = esc(&utc(at_seconds)),
    );
    respond(
        StatusCode::GONE,
        page(lang, lang.t("You have been disconnected"), "", &body),
    )
}

/// The page a launch URL answers: it sets the session cookie and goes on to the console (a
/// refresh, not a redirect, so that the `SameSite=Strict` cookie is sent with the next
/// request even when the launch link was opened from another site).
pub fn launching(lang: Lang, next: &str) -> Response<Full<Bytes>> {
    let head = format!("<meta http-equiv=\"refresh\" content=\"0;url={}\">\n", esc(next));
    let (opening, go) = match lang {
        Lang::En => ("Opening the console…", "Continue"),
        Lang::Pt => ("Abrindo o console…", "Continuar"),
    };
    let body = format!(r#"<p>{opening} <a href="{}">{go}</a></p>"#, esc(next));
    respond(
        StatusCode::OK,
        page(lang, lang.t("Opening the console"), &head, &body),
    )
}

/// The hand-over page for a console on real AWS: what Porteiro records and what it cannot.
pub fn aws_handover(lang: Lang, session_id: &str, next: &str, expires_at: i64) -> Response<Full<Bytes>> {
    let head = format!("<meta http-equiv=\"refresh\" content=\"5;url={}\">\n", esc(next));
    let end = format!(
        r#"<time datetime="{}">{}</time>"#,
        iso(expires_at),
        esc(&utc(expires_at))
    );
    let text = match lang {
        Lang::En => format!(
            r#"<p>This account is on AWS: its console opens on AWS's own site, signed in with this session's temporary credentials through AWS's federation endpoint.</p>
<p><strong>What is recorded:</strong> the session's start and end, and every API call made through Porteiro's API gateway.</p>
<p><strong>What is not captured:</strong> the pages you see and the actions you take in AWS's console — they do not pass through Porteiro (AWS CloudTrail logs the API calls the console makes). At the session's end ({end}) or a drop, Porteiro revokes the session's credentials in AWS, which stops the console's requests.</p>"#
        ),
        Lang::Pt => format!(
            r#"<p>Esta conta está na AWS: o console abre no próprio site da AWS, com as credenciais temporárias desta sessão, pelo endpoint de federação da AWS.</p>
<p><strong>O que é gravado:</strong> o início e o fim da sessão, e cada chamada de API feita pelo gateway de API do Porteiro.</p>
<p><strong>O que não é capturado:</strong> as páginas que você vê e as ações que faz no console da AWS — elas não passam pelo Porteiro (o AWS CloudTrail registra as chamadas de API que o console faz). No fim da sessão ({end}) ou se ela for derrubada, o Porteiro revoga as credenciais da sessão na AWS, o que interrompe as requisições do console.</p>"#
        ),
    };
    let go = match lang {
        Lang::En => "Continue to the AWS console</a> (in 5 seconds).",
        Lang::Pt => "Continuar para o console da AWS</a> (em 5 segundos).",
    };
    let body = format!(
        r#"<div class="box" role="status">{text}
<dl><dt>{session_l}</dt><dd><code>{id}</code></dd></dl></div>
<p><a href="{next}">{go}</p>"#,
        session_l = lang.t("Session"),
        id = esc(session_id),
        next = esc(next),
    );
    respond(
        StatusCode::OK,
        page(lang, lang.t("Opening the AWS console"), &head, &body),
    )
}

/// The page after the person signs out of the cloud console.
pub fn signed_out(lang: Lang, session_id: &str, again: &str, expires_at: i64) -> String {
    let end = format!(
        r#"<time datetime="{}">{}</time>"#,
        iso(expires_at),
        esc(&utc(expires_at))
    );
    let id = esc(session_id);
    let (said, link) = match lang {
        Lang::En => (
            format!(
                "You signed out of the cloud console. The Porteiro session <code>{id}</code> stays active until {end}."
            ),
            "Open the console again",
        ),
        Lang::Pt => (
            format!(
                "Você saiu do console da nuvem. A sessão <code>{id}</code> do Porteiro continua ativa até {end}."
            ),
            "Abrir o console de novo",
        ),
    };
    let body = format!(
        r#"<div class="box" role="status"><p>{said}</p></div>
<p><a href="{again}">{link}</a></p>"#,
        again = esc(again),
    );
    page(lang, lang.t("Signed out"), "", &body)
}

/// An error page: what is wrong and what to do (both in `lang` when they are Porteiro's own
/// words).
pub fn error(lang: Lang, status: StatusCode, title: &str, message: &str) -> Response<Full<Bytes>> {
    let body = format!(
        r#"<div class="box cut" role="alert"><p>{}</p></div>"#,
        esc(lang.t(message))
    );
    respond(status, page(lang, lang.t(title), "", &body))
}

/// `2026-11-23T14:05:09Z` for epoch seconds (a `<time>` element's `datetime`).
pub fn iso(seconds: i64) -> String {
    utc(seconds).replacen(' ', "T", 1).replace(" UTC", "Z")
}

/// `2026-11-23 14:05:09 UTC` for epoch seconds.
pub fn utc(seconds: i64) -> String {
    let days = seconds.div_euclid(86_400);
    let secs = seconds.rem_euclid(86_400);
    // Howard Hinnant's civil-from-days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02} UTC",
        secs / 3600,
        (secs % 3600) / 60,
        secs % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;

    #[test]
    fn utc_dates() {
        assert_eq!(utc(0), "1970-01-01 00:00:00 UTC");
        assert_eq!(utc(951_782_400), "2000-02-29 00:00:00 UTC");
        assert_eq!(utc(1_795_000_000), "2026-11-18 11:06:40 UTC");
        assert_eq!(utc(-1), "1969-12-31 23:59:59 UTC");
    }

    #[tokio::test]
    async fn the_disconnected_page_says_session_reason_and_time() {
        let resp = disconnected(Lang::En, "ps-1", "dropped by <admin>", 1_795_000_000);
        assert_eq!(resp.status(), StatusCode::GONE);
        assert_eq!(resp.headers()["cache-control"], "no-store");
        let body = resp
            .into_body()
            .collect()
            .await
            .map(|b| b.to_bytes())
            .unwrap_or_default();
        let text = String::from_utf8_lossy(&body);
        assert!(text.contains("You have been disconnected"));
        assert!(text.contains("ps-1"));
        assert!(text.contains("dropped by &lt;admin&gt;"));
        assert!(text.contains("2026-11-18 11:06:40 UTC"));
        assert!(text.contains(r#"<time datetime="2026-11-18T11:06:40Z">"#));
        assert!(text.contains(r#"<html lang="en">"#));
    }

    async fn text_of(resp: Response<Full<Bytes>>) -> String {
        let body = resp
            .into_body()
            .collect()
            .await
            .map(|b| b.to_bytes())
            .unwrap_or_default();
        String::from_utf8_lossy(&body).into_owned()
    }

    #[tokio::test]
    async fn the_pages_speak_portuguese_when_asked() {
        let text = text_of(disconnected(Lang::Pt, "ps-1", "dropped by admin", 1_795_000_000)).await;
        assert!(text.contains(r#"<html lang="pt-BR">"#), "{text}");
        assert!(
            text.contains("<title>Você foi desconectado · Porteiro</title>"),
            "{text}"
        );
        assert!(text.contains("derrubada por admin"), "{text}");
        assert!(!text.contains("You have been"), "{text}");
        let text = text_of(disconnected(Lang::Pt, "ps-1", "expired", 0)).await;
        assert!(text.contains("a duração da sessão terminou"), "{text}");
        let text = text_of(error(
            Lang::Pt,
            StatusCode::FORBIDDEN,
            "Not your session",
            "This session belongs to another Porteiro user.",
        ))
        .await;
        assert!(text.contains("A sessão não é sua"), "{text}");
        assert!(
            text.contains("Esta sessão pertence a outro usuário do Porteiro."),
            "{text}"
        );
        // A message from elsewhere keeps its words.
        let text = text_of(error(
            Lang::Pt,
            StatusCode::NOT_FOUND,
            "No such session",
            "session x does not exist",
        ))
        .await;
        assert!(text.contains("session x does not exist"), "{text}");
        assert!(text.contains("Sessão inexistente"), "{text}");
        assert!(signed_out(Lang::Pt, "ps-1", "/sessions/ps-1/signin", 0).contains("Abrir o console de novo"));
        let text = text_of(aws_handover(Lang::Pt, "ps-1", "/sessions/ps-1/aws-console", 0)).await;
        assert!(text.contains("O que não é capturado"), "{text}");
        assert!(
            text.contains(r#"<time datetime="1970-01-01T00:00:00Z">"#),
            "{text}"
        );
    }

    #[test]
    fn the_language_comes_from_the_cookie_then_accept_language() {
        let mut h = hyper::HeaderMap::new();
        assert_eq!(Lang::of(&h), Lang::En);
        h.insert(
            hyper::header::ACCEPT_LANGUAGE,
            HeaderValue::from_static("fr;q=1, pt-BR;q=0.9, en;q=0.5"),
        );
        assert_eq!(Lang::of(&h), Lang::Pt);
        h.insert(
            hyper::header::COOKIE,
            HeaderValue::from_static("a=b; porteiro_lang=en"),
        );
        assert_eq!(Lang::of(&h), Lang::En);
    }

    #[test]
    fn every_fixed_text_of_the_console_gateway_has_portuguese() {
        let src = include_str!("../console.rs");
        let mut found = 0;
        for part in src.split("pages::error(").skip(1) {
            // lang, status, then the title and message literals (up to the call's end).
            let call = part.split(";\n").next().unwrap_or("");
            for lit in call.split('"').skip(1).step_by(2) {
                if lit.contains('{') {
                    continue;
                }
                found += 1;
                assert_ne!(Lang::Pt.t(lit), lit, "no Portuguese for {lit:?}");
            }
        }
        assert!(found >= 20, "only {found} texts found: is the scan broken?");
    }
}
