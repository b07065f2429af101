//! English and Portuguese (pt-BR): the message catalogues, the language of a request
//! (the `porteiro_lang` cookie, else `Accept-Language`), and the manager's errors in words
//! for people, in either language.
//!
//! The catalogues are compiled in (`catalog.rs`); a test checks that both have every key and
//! that every key the pages use exists.

use bytes::Bytes;
use http_body_util::Full;
use hyper::header::HeaderValue;
use hyper::{HeaderMap, Request, Response};
use porteiro_manager::Error;
use porteiro_manager::model::Permission;
use porteiro_manager::rules::{Invalid, Message, Unmet};

use crate::form::{Form, cookie};
use crate::html::{self, Problems};

#[path = "catalog.rs"]
mod catalog;

/// The language cookie.
pub const LANG_COOKIE: &str = "porteiro_lang";

/// A language of the UI.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    /// English.
    En,
    /// Brazilian Portuguese.
    Pt,
}

impl Lang {
    /// The BCP 47 tag (`en`, `pt-BR`).
    pub fn tag(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::Pt => "pt-BR",
        }
    }

    /// Parses a tag: `pt`, `pt-BR`, `pt_br` → Portuguese; `en…` → English.
    pub fn parse(tag: &str) -> Option<Lang> {
        let t = tag.trim().to_ascii_lowercase();
        if t == "pt" || t.starts_with("pt-") || t.starts_with("pt_") {
            Some(Lang::Pt)
        } else if t == "en" || t.starts_with("en-") || t.starts_with("en_") {
            Some(Lang::En)
        } else {
            None
        }
    }

    /// The other language (for the switch link).
    pub fn other(self) -> Lang {
        match self {
            Lang::En => Lang::Pt,
            Lang::Pt => Lang::En,
        }
    }

    fn table(self) -> &'static [(&'static str, &'static str)] {
        match self {
            Lang::En => catalog::EN,
            Lang::Pt => catalog::PT,
        }
    }

    /// The message `key`; the key itself when the catalogue lacks it (a test forbids that).
    pub fn t(self, key: &str) -> &'static str {
        match self.table().iter().find(|(k, _)| *k == key) {
            Some((_, v)) => v,
            None => catalog::EN
                .iter()
                .find(|(k, _)| *k == key)
                .map(|(_, v)| *v)
                .unwrap_or("?"),
        }
    }

    /// The message `key`, when the catalogue has it.
    pub fn lookup(self, key: &str) -> Option<&'static str> {
        self.table().iter().find(|(k, _)| *k == key).map(|(_, v)| *v)
    }

    /// A permission's label, as the seed words it.
    pub fn permission(self, p: Permission) -> &'static str {
        self.t(&format!("perm_{}", p.as_str()))
    }
}

/// The language of a request: the cookie, else the first supported `Accept-Language` entry by
/// quality, else English.
pub fn lang_of(headers: &HeaderMap) -> Lang {
    if let Some(l) = cookie(headers, LANG_COOKIE).and_then(Lang::parse) {
        return l;
    }
    let Some(accept) = headers
        .get(hyper::header::ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok())
    else {
        return Lang::En;
    };
    let mut best: Option<(f32, usize, Lang)> = None;
    for (i, part) in accept.split(',').enumerate() {
        let mut bits = part.split(';');
        let tag = bits.next().unwrap_or("");
        let q = bits
            .find_map(|b| b.trim().strip_prefix("q="))
            .and_then(|q| q.parse::<f32>().ok())
            .unwrap_or(1.0);
        if q <= 0.0 {
            continue;
        }
        if let Some(l) = Lang::parse(tag) {
            let better = match best {
                None => true,
                Some((bq, bi, _)) => q > bq || (q == bq && i < bi),
            };
            if better {
                best = Some((q, i, l));
            }
        }
    }
    best.map(|(_, _, l)| l).unwrap_or(Lang::En)
}

/// `GET /lang?to=pt-BR&back=/path`: sets the language cookie and goes back.
pub fn switch(req: &Request<Bytes>) -> Response<Full<Bytes>> {
    let q = Form::query(req.uri());
    let lang = Lang::parse(q.get("to")).unwrap_or(Lang::En);
    let back = q.get("back");
    let back = if html::is_local_path(back) { back } else { "/" };
    let mut resp = html::redirect(back);
    let cookie = format!(
        "{LANG_COOKIE}={}; Path=/; SameSite=Strict; Max-Age=31536000",
        lang.tag()
    );
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        resp.headers_mut().append(hyper::header::SET_COOKIE, v);
    }
    resp
}

/// Which form field an unmet requirement is about, when it is about one.
fn unmet_field(u: &Unmet) -> Option<&'static str> {
    match u {
        Unmet::NoRole { .. } | Unmet::RoleNotAllowed { .. } => Some("role"),
        Unmet::DurationTooShort { .. } | Unmet::DurationTooLong { .. } => Some("duration"),
        _ => None,
    }
}

/// An unmet requirement in words for people, in `lang`.
pub fn unmet_text(lang: Lang, u: &Unmet) -> String {
    if lang == Lang::En {
        return u.to_string();
    }
    match u {
        Unmet::NoEmail { username } => format!(
            "o usuário da plataforma {username} não tem e-mail: é preciso um e-mail para iniciar sessões remotas; cadastre um (Usuários da plataforma ➔ Editar ➔ E-mail)"
        ),
        Unmet::Imported { name } => format!(
            "o usuário do Cloud IAM {name} foi importado da AWS, e usuários importados não podem realizar acessos remotos: crie um usuário pelo Porteiro (Cloud IAM ➔ Usuários ➔ Novo) e use-o"
        ),
        Unmet::NotProvisioned { name, status } => format!(
            "o usuário do Cloud IAM {name} está {status:?}, não Provisioned: aguarde o fim do trabalho de provisionamento (Cloud IAM ➔ Usuários ➔ {name}) ou corrija o erro mostrado"
        ),
        Unmet::NoCredential { name } => format!(
            "o usuário do Cloud IAM {name} não tem Credencial: sessões JIT assumem a função com a chave de acesso do próprio usuário; crie uma (Cloud IAM ➔ Credenciais ➔ Nova)"
        ),
        Unmet::MissingPermission { username, permission } => format!(
            "o usuário da plataforma {username} não está em nenhum Grupo de acesso com a permissão \"{}\": adicione-o a um grupo assim (Cloud IAM ➔ Grupos de acesso)",
            lang.permission(*permission)
        ),
        Unmet::NoJitSettings { account } => format!(
            "a conta {account} não tem configuração de JIT Access: configure-a (Cloud IAM ➔ Configurações ➔ JIT Access ➔ Novo) com Ativo e JIT Enabled em Sim"
        ),
        Unmet::JitInactive { account } => format!(
            "a configuração de JIT Access da conta {account} não está Ativa: selecione Sim em Ativo (Cloud IAM ➔ Configurações ➔ JIT Access)"
        ),
        Unmet::JitDisabled { account } => format!(
            "o JIT não está habilitado na conta {account}: selecione Sim em JIT Enabled na aba AWS da configuração de JIT Access"
        ),
        Unmet::NoRole { account, allowed } => format!(
            "nenhuma Função foi escolhida: escolha uma das funções permitidas na conta {account}: {allowed}"
        ),
        Unmet::RoleNotAllowed {
            role,
            account,
            allowed,
        } => format!(
            "a função {role} não é permitida para sessões JIT na conta {account}: escolha uma de {allowed}, ou adicione-a às Funções da configuração de JIT Access da conta"
        ),
        Unmet::DurationTooShort { asked } => format!(
            "uma sessão de {asked} segundos é curta demais: a duração mínima de uma sessão JIT é de {} segundos",
            porteiro_manager::rules::MIN_SESSION_SECONDS
        ),
        Unmet::DurationTooLong { asked, max, why } => format!(
            "uma sessão de {asked} segundos passa do máximo de {max} segundos ({why}): peça no máximo {max}"
        ),
    }
}

/// A validation error of the manager in words for people, in `lang`: by its kind
/// (`inv_KIND` in the catalogue, its values put in for `{0}`, `{1}`…); the manager's own
/// English words when it has no kind or is in English.
pub fn invalid_text(lang: Lang, i: &Invalid) -> String {
    let template = (lang != Lang::En && !i.kind.is_empty())
        .then(|| lang.lookup(&format!("inv_{}", i.kind)))
        .flatten();
    match template {
        Some(t) => fill(t, &i.args),
        None if lang == Lang::En => i.message.clone(),
        None => format!("{} {}", lang.t("err_field_prefix"), i.message),
    }
}

/// A conflict, refusal or trust-policy message of the manager in `lang`: its kind's template
/// filled with its values (permissions and session states in words); the manager's English
/// text when the catalogue lacks the kind.
pub fn message_text(lang: Lang, m: &Message) -> String {
    if lang == Lang::En || m.kind.is_empty() {
        return m.text.clone();
    }
    let Some(template) = lang.lookup(&format!("msg_{}", m.kind)) else {
        return m.text.clone();
    };
    let args: Vec<String> = m
        .args
        .iter()
        .enumerate()
        .map(|(n, a)| match (m.kind, n) {
            ("needs_permission", 1) => Permission::parse(a)
                .map(|p| lang.permission(p).to_string())
                .unwrap_or_else(|| a.clone()),
            ("session_already_ended" | "session_ended", 1) => lang
                .lookup(&format!("ss_{}", a.to_ascii_lowercase()))
                .map(str::to_string)
                .unwrap_or_else(|| a.clone()),
            _ => a.clone(),
        })
        .collect();
    fill(template, &args)
}

/// "KIND ID does not exist" in `lang`, the kind in words (the manager's own when the
/// catalogue lacks it).
pub fn not_found_text(lang: Lang, kind: &str, id: &str) -> String {
    let word = lang.lookup(&format!("nf_{kind}")).unwrap_or(kind);
    fill(lang.t("nf_text"), &[word.to_string(), id.to_string()])
}

/// `template` with `{0}`, `{1}`… replaced by `args`.
fn fill(template: &str, args: &[String]) -> String {
    let mut out = template.to_string();
    for (n, a) in args.iter().enumerate() {
        out = out.replace(&format!("{{{n}}}"), a);
    }
    out
}

/// The manager's error as one sentence in `lang` (for pages that show it alone).
pub fn error_text(lang: Lang, err: &Error) -> String {
    let p = problems(lang, "", err);
    p.general
        .into_iter()
        .chain(p.fields.into_values().flatten())
        .collect::<Vec<_>>()
        .join(" ")
}

/// The manager's error as problems of `form`: field errors beside their field, requirements
/// beside the field they are about or at the top of the form, everything else at the top.
pub fn problems(lang: Lang, form: &str, err: &Error) -> Problems {
    let mut p = Problems {
        form: form.to_string(),
        ..Problems::default()
    };
    match err {
        Error::Invalid(i) => {
            p.fields
                .entry(i.field.clone())
                .or_default()
                .push(invalid_text(lang, i));
        }
        Error::Requirements(unmet) => {
            p.general.push(lang.t("err_requirements").to_string());
            for u in unmet {
                let text = unmet_text(lang, u);
                match unmet_field(u) {
                    Some(f) => p.fields.entry(f.to_string()).or_default().push(text),
                    None => p.general.push(text),
                }
            }
        }
        Error::Forbidden(m) => {
            p.general
                .push(format!("{} {}", lang.t("err_forbidden"), message_text(lang, m)))
        }
        Error::NotFound { kind, id } => p.general.push(format!(
            "{} {}",
            lang.t("err_not_found"),
            not_found_text(lang, kind, id)
        )),
        Error::Conflict(m) => p
            .general
            .push(format!("{} {}", lang.t("err_conflict"), message_text(lang, m))),
        Error::TrustPolicy(m) => p
            .general
            .push(format!("{} {}", lang.t("err_trust"), message_text(lang, m))),
        Error::Cloud(_) => p.general.push(format!("{} {err}", lang.t("err_cloud"))),
        Error::Unauthenticated(_) => p.general.push(lang.t("signin_expired").to_string()),
        Error::Store(_) | Error::Vault(_) => p.general.push(format!("{} {err}", lang.t("err_internal"))),
    }
    p
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    fn keys(t: &[(&str, &str)]) -> BTreeSet<String> {
        t.iter().map(|(k, _)| k.to_string()).collect()
    }

    #[test]
    fn both_languages_have_every_key_once_and_no_empty_text() {
        let (en, pt) = (keys(catalog::EN), keys(catalog::PT));
        assert_eq!(en.len(), catalog::EN.len(), "a key repeats in EN");
        assert_eq!(pt.len(), catalog::PT.len(), "a key repeats in PT");
        let only_en: Vec<_> = en.difference(&pt).collect();
        let only_pt: Vec<_> = pt.difference(&en).collect();
        assert!(only_en.is_empty(), "missing in pt-BR: {only_en:?}");
        assert!(only_pt.is_empty(), "missing in English: {only_pt:?}");
        for (k, v) in catalog::EN.iter().chain(catalog::PT) {
            assert!(!v.trim().is_empty(), "{k} is empty");
        }
    }

    #[test]
    fn every_key_the_pages_use_exists() {
        let sources = [
            include_str!("lib.rs"),
            include_str!("auth.rs"),
            include_str!("html.rs"),
            include_str!("i18n.rs"),
            include_str!("pages.rs"),
            include_str!("pages/admin.rs"),
            include_str!("pages/remote.rs"),
            include_str!("pages/pam.rs"),
        ];
        let en = keys(catalog::EN);
        let mut used = 0;
        for src in sources {
            for part in src.split(".t(\"").skip(1) {
                let key = part.split('"').next().unwrap_or("");
                used += 1;
                assert!(
                    en.contains(key),
                    "the key {key:?} is used but not in the catalogues"
                );
            }
        }
        assert!(used > 100, "only {used} keys found: is the scan broken?");
        for p in Permission::ALL {
            assert!(en.contains(&format!("perm_{}", p.as_str())), "{p:?}");
        }
    }

    #[test]
    fn the_seed_labels_are_there_in_portuguese() {
        for (key, pt) in [
            ("remote_access", "Acesso remoto"),
            ("start_session", "Iniciar sessão"),
            ("action", "Ação"),
            ("settings", "Configurações"),
            ("role", "Função"),
            ("roles", "Funções"),
            ("duration", "Duração"),
            ("access_group", "Grupo de acesso"),
            ("account", "Conta"),
            ("active", "Ativo"),
            ("description", "Descrição"),
            ("tab_information", "Informações"),
            ("save", "Salvar"),
            ("new", "Novo"),
            ("actions", "Ações"),
            ("yes", "Sim"),
            ("perm_start_sessions", "Usuários podem começar sessões"),
            ("perm_start_jit_sessions", "Usuários podem começar sessões JIT"),
        ] {
            assert_eq!(Lang::Pt.t(key), pt, "{key}");
        }
        assert_eq!(Lang::En.t("start_session"), "Start session");
        assert_eq!(
            Lang::En.permission(Permission::StartJitSessions),
            "Users can start JIT sessions"
        );
    }

    /// The kinds the manager gives its validation errors (`Invalid::keyed(FIELD, "KIND"`…).
    fn manager_invalid_kinds() -> BTreeSet<String> {
        let sources = [
            include_str!("../../manager/src/rules.rs"),
            include_str!("../../manager/src/manager.rs"),
        ];
        let mut kinds = BTreeSet::new();
        for src in sources {
            for part in src.split("Invalid::keyed(").skip(1) {
                // The field (a literal or a variable), then the kind's literal.
                let after_field = part.split_once(',').map(|(_, r)| r).unwrap_or("");
                if let Some(kind) = after_field.trim_start().strip_prefix('"') {
                    let kind = kind.split('"').next().unwrap_or("");
                    if !kind.is_empty() {
                        kinds.insert(kind.to_string());
                    }
                }
            }
        }
        kinds
    }

    /// The kinds of `Message::new("KIND", …)` in the manager's sources.
    fn manager_message_kinds() -> BTreeSet<String> {
        let sources = [
            include_str!("../../manager/src/manager.rs"),
            include_str!("../../manager/src/gateway.rs"),
            include_str!("../../manager/src/manager/console_access.rs"),
        ];
        let mut kinds = BTreeSet::new();
        for src in sources {
            for part in src.split("Message::new(").skip(1) {
                let Some(kind) = part.trim_start().strip_prefix('"') else {
                    // `Message::new(kind, …)` inside require_admin: its callers name the kind.
                    continue;
                };
                kinds.insert(kind.split('"').next().unwrap_or("").to_string());
            }
            for part in src.split("self.require_admin(actor, \"").skip(1) {
                kinds.insert(part.split('"').next().unwrap_or("").to_string());
            }
        }
        kinds
    }

    #[test]
    fn every_conflict_and_refusal_of_the_manager_has_both_languages() {
        let kinds = manager_message_kinds();
        assert!(
            kinds.len() >= 25,
            "only {} kinds found: is the scan broken? {kinds:?}",
            kinds.len()
        );
        for kind in &kinds {
            let key = format!("msg_{kind}");
            assert!(Lang::En.lookup(&key).is_some(), "{key} is missing in English");
            assert!(Lang::Pt.lookup(&key).is_some(), "{key} is missing in pt-BR");
        }
        for (k, _) in catalog::EN {
            if let Some(kind) = k.strip_prefix("msg_") {
                assert!(kinds.contains(kind), "{k} is not a kind the manager gives");
            }
        }
        // Every value a message names appears in its translation.
        for (k, en) in catalog::EN {
            if k.starts_with("msg_") {
                let pt = Lang::Pt.t(k);
                for n in 0..4 {
                    let slot = format!("{{{n}}}");
                    assert_eq!(en.contains(&slot), pt.contains(&slot), "{k}: {slot}");
                }
            }
        }
    }

    #[test]
    fn conflicts_and_refusals_are_worded_in_portuguese_with_their_values() {
        let m = Message::new(
            "needs_permission",
            vec!["ana".into(), "start_jit_sessions".into()],
            "ana may not do this: it needs an administrator, or an access group with the permission \"Users can start JIT sessions\"",
        );
        assert_eq!(message_text(Lang::En, &m), m.text);
        let pt = message_text(Lang::Pt, &m);
        assert!(pt.starts_with("ana não pode fazer isto"), "{pt}");
        assert!(
            pt.contains(Lang::Pt.permission(Permission::StartJitSessions)),
            "{pt}"
        );
        let ended = Message::new(
            "session_ended",
            vec!["ps-1".into(), "Expired".into()],
            "session ps-1 has ended (Expired): start a new session",
        );
        assert_eq!(
            message_text(Lang::Pt, &ended),
            format!(
                "a sessão ps-1 terminou ({}): inicie uma nova sessão",
                Lang::Pt.t("ss_expired")
            )
        );
        let p = problems(
            Lang::Pt,
            "f",
            &Error::Conflict(Message::new(
                "username_taken",
                vec!["ana".into()],
                "username ana is taken: choose another",
            )),
        );
        assert_eq!(
            p.general,
            vec![format!(
                "{} o nome de usuário ana já está em uso: escolha outro",
                Lang::Pt.t("err_conflict")
            )]
        );
        // A message without a kind keeps the manager's words.
        let plain = Message::new("", vec![], "something else");
        assert_eq!(message_text(Lang::Pt, &plain), "something else");
        assert_eq!(
            error_text(Lang::Pt, &Error::Forbidden(plain)),
            format!("{} something else", Lang::Pt.t("err_forbidden"))
        );
    }

    #[test]
    fn every_validation_error_of_the_manager_has_both_languages() {
        let kinds = manager_invalid_kinds();
        assert!(
            kinds.len() >= 30,
            "only {} kinds found: is the scan broken? {kinds:?}",
            kinds.len()
        );
        for kind in &kinds {
            let key = format!("inv_{kind}");
            assert!(Lang::En.lookup(&key).is_some(), "{key} is missing in English");
            assert!(Lang::Pt.lookup(&key).is_some(), "{key} is missing in pt-BR");
        }
        // And the catalogues name no kind the manager does not give.
        for (k, _) in catalog::EN {
            if let Some(kind) = k.strip_prefix("inv_") {
                assert!(kinds.contains(kind), "{k} is not a kind the manager gives");
            }
        }
    }

    #[test]
    fn validation_errors_are_worded_by_kind_in_either_language() {
        use porteiro_manager::rules;
        let synced = [porteiro_manager::model::RoleInfo {
            name: "Admin".into(),
            arn: "arn:aws:iam::123456789012:role/Admin".into(),
            max_session_duration: 3600,
            trust_policy: "{}".into(),
        }];
        let cases = [
            rules::check_jit_settings(600, &[], &synced),
            rules::check_jit_settings(50_000, &[], &synced),
            rules::check_jit_settings(7200, &["Admin".into()], &synced),
            rules::check_jit_settings(900, &["Ghost".into()], &synced),
            rules::check_jit_settings(900, &["Admin".into(), "Admin".into()], &synced),
            rules::check_username("a b"),
            rules::check_iam_name("name", "a b"),
            rules::check_email("ana"),
            rules::check_text("description", &"x".repeat(20), 10),
            rules::check_text("description", "a\u{7}", 10),
            rules::check_ttl("ttl", 5),
            rules::check_password("short"),
            rules::check_policies(&["nope".into()]),
            rules::check_policies(&[
                "arn:aws:iam::aws:policy/A".into(),
                "arn:aws:iam::aws:policy/A".into(),
            ]),
        ];
        for case in cases {
            let i = case.expect_err("invalid");
            assert!(!i.kind.is_empty(), "{i:?} has no kind");
            // The English template says exactly what the manager says.
            let en = Lang::En
                .lookup(&format!("inv_{}", i.kind))
                .unwrap_or_else(|| panic!("inv_{} missing", i.kind));
            assert_eq!(fill(en, &i.args), i.message, "{i:?}");
            assert_eq!(invalid_text(Lang::En, &i), i.message);
            // The Portuguese one is another text, with every value put in.
            let pt = invalid_text(Lang::Pt, &i);
            assert_ne!(pt, i.message, "{i:?}");
            assert!(!pt.contains('{'), "{pt}");
            for a in &i.args {
                assert!(pt.contains(a.as_str()), "{pt} lacks {a}");
            }
        }
        let p = problems(
            Lang::Pt,
            "jit",
            &Error::Invalid(rules::check_jit_settings(600, &[], &synced).expect_err("short")),
        );
        assert_eq!(
            p.fields["duration"],
            vec!["600 segundos está abaixo da duração mínima de uma sessão JIT, de 900 segundos".to_string()]
        );
        // Without a kind, the manager's words with a Portuguese lead.
        let bare = Invalid::new("x", "is wrong");
        assert_eq!(invalid_text(Lang::Pt, &bare), "Corrija este campo: is wrong");
    }

    #[test]
    fn every_kind_the_manager_cannot_find_has_words_in_both_languages() {
        let sources = [
            include_str!("../../manager/src/manager.rs"),
            include_str!("../../manager/src/gateway.rs"),
        ];
        let mut kinds = BTreeSet::new();
        for src in sources {
            // `self.get("KIND", id)`, `self.get::<T>("KIND", id)`, `not_found("KIND", …)`,
            // `Error::NotFound { kind: "KIND", … }`.
            for marker in ["self.get(\"", "self.get::<", "not_found(\"", "kind: \""] {
                for part in src.split(marker).skip(1) {
                    let part = match marker {
                        "self.get::<" => part.split_once(">(\"").map(|(_, r)| r).unwrap_or(""),
                        _ => part,
                    };
                    let kind = part.split('"').next().unwrap_or("");
                    if !kind.is_empty() && kind.bytes().all(|b| b.is_ascii_lowercase() || b == b'_') {
                        kinds.insert(kind.to_string());
                    }
                }
            }
        }
        for kind in ["account", "cloud_user", "session", "user", "group"] {
            assert!(kinds.contains(kind), "the scan missed {kind}: {kinds:?}");
        }
        for kind in &kinds {
            for lang in [Lang::En, Lang::Pt] {
                assert!(
                    lang.lookup(&format!("nf_{kind}")).is_some(),
                    "nf_{kind} is missing in {lang:?} (kinds found: {kinds:?})"
                );
            }
        }
        let p = problems(
            Lang::Pt,
            "x",
            &Error::NotFound {
                kind: "cloud_user",
                id: "cu-9".into(),
            },
        );
        assert_eq!(
            p.general,
            vec!["Não encontrado: o usuário do Cloud IAM cu-9 não existe".to_string()]
        );
        let p = problems(
            Lang::En,
            "x",
            &Error::NotFound {
                kind: "cloud_user",
                id: "cu-9".into(),
            },
        );
        assert_eq!(
            p.general,
            vec!["Not found: cloud IAM user cu-9 does not exist".to_string()]
        );
    }

    #[test]
    fn accept_language_and_the_cookie_choose() {
        let mut h = HeaderMap::new();
        assert_eq!(lang_of(&h), Lang::En);
        h.insert(
            hyper::header::ACCEPT_LANGUAGE,
            HeaderValue::from_static("fr-FR,pt-BR;q=0.8,en;q=0.5"),
        );
        assert_eq!(lang_of(&h), Lang::Pt);
        h.insert(
            hyper::header::ACCEPT_LANGUAGE,
            HeaderValue::from_static("pt;q=0.4, en-GB;q=0.9"),
        );
        assert_eq!(lang_of(&h), Lang::En);
        h.insert(
            hyper::header::COOKIE,
            HeaderValue::from_static("porteiro_lang=pt-BR"),
        );
        assert_eq!(lang_of(&h), Lang::Pt);
        h.insert(
            hyper::header::ACCEPT_LANGUAGE,
            HeaderValue::from_static("pt-PT;q=0"),
        );
        h.remove(hyper::header::COOKIE);
        assert_eq!(lang_of(&h), Lang::En);
    }

    #[test]
    fn requirements_land_next_to_their_field_in_either_language() {
        let err = Error::Requirements(vec![
            Unmet::NoCredential { name: "ana".into() },
            Unmet::DurationTooShort { asked: 600 },
        ]);
        let p = problems(Lang::Pt, "jit-start", &err);
        assert_eq!(p.form, "jit-start");
        assert!(
            p.general.iter().any(|g| g.contains("não tem Credencial")),
            "{p:?}"
        );
        assert!(p.fields["duration"][0].contains("900 segundos"), "{p:?}");
        let p = problems(Lang::En, "jit-start", &err);
        assert!(p.general.iter().any(|g| g.contains("has no credential")), "{p:?}");
        let invalid = Error::Invalid(porteiro_manager::rules::Invalid::new(
            "duration",
            "is too low: use 900 or more",
        ));
        let p = problems(Lang::En, "jit", &invalid);
        assert_eq!(
            p.fields["duration"],
            vec!["is too low: use 900 or more".to_string()]
        );
    }
}
