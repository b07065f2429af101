//! Console passwords (login profiles) of IAM users.
//!
//! SECURITY: only an Argon2id hash (PHC string, random 16-byte salt) is stored; the password
//! is never stored, logged or answered.

use argon2::{Argon2, PasswordHasher, PasswordVerifier};

use super::access_keys::{target_user, user_ask};
use super::{Ctx, check_name};
use crate::model::LoginProfile;
use crate::protocol::ApiError;
use crate::state::name_key;

/// The password policy: length in characters.
const PASSWORD_MIN: usize = 8;
const PASSWORD_MAX: usize = 128;

/// Runs the operation if it belongs to this module.
pub(super) fn handle(ctx: &Ctx<'_>, action: &str) -> Option<Result<String, ApiError>> {
    Some(match action {
        "CreateLoginProfile" => create_login_profile(ctx),
        "GetLoginProfile" => get_login_profile(ctx),
        "UpdateLoginProfile" => update_login_profile(ctx),
        "DeleteLoginProfile" => delete_login_profile(ctx),
        _ => return None,
    })
}

fn no_such_user(name: &str) -> ApiError {
    ApiError::no_such_entity(format!("The user with name {name} cannot be found."))
}

fn no_such_profile(name: &str) -> ApiError {
    ApiError::no_such_entity(format!("Login Profile for User {name} cannot be found."))
}

/// Checks a new password against the password policy (never echoing it).
pub(crate) fn check_password(password: &str) -> Result<(), ApiError> {
    let chars = password.chars().count();
    if chars < PASSWORD_MIN {
        return Err(ApiError::new(
            400,
            "PasswordPolicyViolation",
            format!("Password should have a minimum length of {PASSWORD_MIN}"),
        ));
    }
    if chars > PASSWORD_MAX {
        return Err(ApiError::new(
            400,
            "PasswordPolicyViolation",
            format!("Password should have a maximum length of {PASSWORD_MAX}"),
        ));
    }
    let ok = password
        .chars()
        .all(|c| matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{ff}'));
    if !ok {
        return Err(ApiError::validation(
            "1 validation error detected: Value at 'password' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\u0009\\u000A\\u000D\\u0020-\\u00FF]+",
        ));
    }
    Ok(())
}

/// Hashes a password with Argon2id and a fresh random salt: a PHC string.
pub(crate) fn hash_password(password: &str) -> Result<String, ApiError> {
    let mut salt = [0u8; 16];
    getrandom::fill(&mut salt)
        .map_err(|e| ApiError::internal(format!("the random generator failed: {e}")))?;
    let hash = Argon2::default()
        .hash_password_with_salt(password.as_bytes(), &salt)
        .map_err(|e| ApiError::internal(format!("hashing the password failed: {e}")))?;
    Ok(hash.to_string())
}

/// Whether `password` is the profile's password (constant-time comparison of the hashes).
pub(crate) fn verify_password(profile: &LoginProfile, password: &str) -> bool {
    Argon2::default()
        .verify_password(password.as_bytes(), profile.password_hash.as_str())
        .is_ok()
}

/// The `LoginProfile` element.
fn respond_profile(ctx: &Ctx<'_>, op: &str, p: &LoginProfile) -> String {
    ctx.respond(op, |x| {
        x.open("LoginProfile")
            .elem("UserName", &p.user)
            .elem("CreateDate", &crate::time::iso8601(p.created))
            .elem(
                "PasswordResetRequired",
                if p.reset_required { "true" } else { "false" },
            )
            .close("LoginProfile");
    })
}

fn create_login_profile(ctx: &Ctx<'_>) -> Result<String, ApiError> {
    let name = target_user(ctx, 64)?;
    let password = ctx.params.required("Password")?;
    check_password(password)?;
    let reset_required = ctx.params.bool("PasswordResetRequired")?.unwrap_or(false);
    ctx.authorize(&user_ask(ctx, "iam:CreateLoginProfile", &name))?;
    // Fail fast before the (deliberately slow) hash; the transaction checks again.
    let user = super::users::find(ctx, &name)?;
    if ctx
        .state
        .login_profiles
        .contains_key(&name_key(ctx.account(), &name))
    {
        return Err(ApiError::already_exists(format!(
            "Login Profile for user {} already exists.",
            user.name
        )));
    }
    let password_hash = hash_password(password)?;
    let profile = ctx.mutate(|tx| {
        let key = name_key(ctx.account(), &name);
        let user = tx.state.users.get(&key).ok_or_else(|| no_such_user(&name))?;
        if tx.state.login_profiles.contains_key(&key) {
            return Err(ApiError::already_exists(format!(
                "Login Profile for user {} already exists.",
                user.name
            )));
        }
        let profile = LoginProfile {
            account: ctx.account().to_string(),
            user: user.name.clone(),
            password_hash,
            reset_required,
            created: ctx.info.now,
        };
        tx.put(profile.clone());
        Ok(profile)
    })?;
    Ok(respond_profile(ctx, "CreateLoginProfile", &profile))
}

fn get_login_profile(ctx: &Ctx<'_>) -> Result<String, ApiError> {
    let name = target_user(ctx, 64)?;
    ctx.authorize(&user_ask(ctx, "iam:GetLoginProfile", &name))?;
    let user = super::users::find(ctx, &name)?;
    let profile = ctx
        .state
        .login_profiles
        .get(&name_key(ctx.account(), &name))
        .ok_or_else(|| no_such_profile(&user.name))?;
    Ok(respond_profile(ctx, "GetLoginProfile", profile))
}

fn update_login_profile(ctx: &Ctx<'_>) -> Result<String, ApiError> {
    let name = ctx.params.required("UserName")?;
    check_name(name, "UserName", 64)?;
    let password = ctx.params.get("Password");
    if let Some(p) = password {
        check_password(p)?;
    }
    let reset_required = ctx.params.bool("PasswordResetRequired")?;
    ctx.authorize(&user_ask(ctx, "iam:UpdateLoginProfile", name))?;
    let user = super::users::find(ctx, name)?;
    if !ctx
        .state
        .login_profiles
        .contains_key(&name_key(ctx.account(), name))
    {
        return Err(no_such_profile(&user.name));
    }
    let password_hash = password.map(hash_password).transpose()?;
    ctx.mutate(|tx| {
        let key = name_key(ctx.account(), name);
        let mut profile = tx
            .state
            .login_profiles
            .get(&key)
            .cloned()
            .ok_or_else(|| no_such_profile(name))?;
        if let Some(h) = password_hash {
            profile.password_hash = h;
        }
        if let Some(r) = reset_required {
            profile.reset_required = r;
        }
        tx.put(profile);
        Ok(())
    })?;
    Ok(ctx.respond_empty("UpdateLoginProfile"))
}

fn delete_login_profile(ctx: &Ctx<'_>) -> Result<String, ApiError> {
    let name = target_user(ctx, 64)?;
    ctx.authorize(&user_ask(ctx, "iam:DeleteLoginProfile", &name))?;
    ctx.mutate(|tx| {
        let key = name_key(ctx.account(), &name);
        let user = tx.state.users.get(&key).ok_or_else(|| no_such_user(&name))?;
        if !tx.state.login_profiles.contains_key(&key) {
            return Err(no_such_profile(&user.name));
        }
        tx.delete::<LoginProfile>(&key);
        Ok(())
    })?;
    Ok(ctx.respond_empty("DeleteLoginProfile"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn password_policy() {
        assert_eq!(
            check_password("short").err().map(|e| e.code),
            Some("PasswordPolicyViolation".to_string())
        );
        assert!(check_password("S3cret!Passw0rd").is_ok());
        assert!(check_password(&"a".repeat(128)).is_ok());
        assert_eq!(
            check_password(&"a".repeat(129)).err().map(|e| e.code),
            Some("PasswordPolicyViolation".to_string())
        );
        assert!(check_password("emoji🙂password").is_err());
    }

    #[test]
    fn hashes_and_verifies() {
        let hash = hash_password("S3cret!Passw0rd").unwrap_or_default();
        assert!(hash.starts_with("$argon2id$"));
        assert!(!hash.contains("S3cret"));
        let profile = LoginProfile {
            account: "123456789012".into(),
            user: "alice".into(),
            password_hash: hash.clone(),
            reset_required: false,
            created: 0,
        };
        assert!(verify_password(&profile, "S3cret!Passw0rd"));
        assert!(!verify_password(&profile, "s3cret!Passw0rd"));
        assert_ne!(hash_password("S3cret!Passw0rd").unwrap_or_default(), hash);
        let broken = LoginProfile {
            password_hash: "not a hash".into(),
            ..profile
        };
        assert!(!verify_password(&broken, "S3cret!Passw0rd"));
    }
}
