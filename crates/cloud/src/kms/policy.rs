//! Key policies: AWS's default policies, validation, and the lockout safety check.
//!
//! <https://docs.aws.amazon.com/kms/latest/developerguide/key-policy-default.html>

use porteiro_iam::{Policy, PolicyKind};

use super::kms_error;
use crate::protocol::ApiError;
use crate::state::{State, name_key};

/// Largest key policy KMS accepts (characters).
pub const MAX_POLICY_CHARS: usize = 32_768;

/// The default key policy of a key created by the API without `Policy`: the account (its
/// root) gets `kms:*`, so IAM policies in the account count.
pub fn default_key_policy(account: &str) -> String {
    serde_json::to_string_pretty(&serde_json::json!({
        "Version": "2012-10-17",
        "Id": "key-default-1",
        "Statement": [{
            "Sid": "Enable IAM User Permissions",
            "Effect": "Allow",
            "Principal": {"AWS": format!("arn:aws:iam::{account}:root")},
            "Action": "kms:*",
            "Resource": "*"
        }]
    }))
    .unwrap_or_default()
}

/// The key policy of an AWS managed key (`alias/aws/SERVICE`): every principal of the
/// account may use it through the service; the account may read its metadata directly.
pub fn aws_managed_key_policy(account: &str, region: &str, service: &str) -> String {
    serde_json::to_string_pretty(&serde_json::json!({
        "Version": "2012-10-17",
        "Id": format!("auto-{service}-2"),
        "Statement": [
            {
                "Sid": format!("Allow access through {} for all principals in the account that are authorized to use {}", service.to_uppercase(), service.to_uppercase()),
                "Effect": "Allow",
                "Principal": {"AWS": "*"},
                "Action": ["kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:DescribeKey"],
                "Resource": "*",
                "Condition": {"StringEquals": {
                    "kms:CallerAccount": account,
                    "kms:ViaService": format!("{service}.{region}.amazonaws.com")
                }}
            },
            {
                "Sid": "Allow direct access to key metadata to the account",
                "Effect": "Allow",
                "Principal": {"AWS": format!("arn:aws:iam::{account}:root")},
                "Action": ["kms:Describe*", "kms:Get*", "kms:List*"],
                "Resource": "*"
            }
        ]
    }))
    .unwrap_or_default()
}

/// Validates a key policy as KMS does: size, JSON, grammar (a resource policy: every
/// statement names a principal). Errors are `MalformedPolicyDocumentException`.
pub fn validate(doc: &str) -> Result<Policy, ApiError> {
    if doc.is_empty() || doc.chars().count() > MAX_POLICY_CHARS {
        return Err(kms_error(
            "ValidationException",
            format!(
                "1 validation error detected: Value at 'policy' failed to satisfy constraint: Member must have length less than or equal to {MAX_POLICY_CHARS} and greater than or equal to 1"
            ),
        ));
    }
    Policy::parse(doc, PolicyKind::Resource).map_err(|e| {
        kms_error(
            "MalformedPolicyDocumentException",
            format!("The key policy is not valid: {e}"),
        )
    })
}

/// Checks that the IAM principals a key policy names exist, as KMS does: a user or role ARN
/// of an account of this cloud must name an existing user or role. Account ids, `*`, service
/// principals, sessions and principals of accounts this cloud does not hold are accepted.
pub fn check_principals(doc: &str, state: &State) -> Result<(), ApiError> {
    let Ok(v) = serde_json::from_str::<serde_json::Value>(doc) else {
        return Ok(());
    };
    let statements = match v.get("Statement") {
        Some(serde_json::Value::Array(items)) => items.clone(),
        Some(one) => vec![one.clone()],
        None => Vec::new(),
    };
    for st in &statements {
        for field in ["Principal", "NotPrincipal"] {
            let aws = match st.get(field).and_then(|p| p.get("AWS")) {
                Some(serde_json::Value::String(one)) => vec![one.clone()],
                Some(serde_json::Value::Array(items)) => items
                    .iter()
                    .filter_map(|i| i.as_str().map(str::to_string))
                    .collect(),
                _ => Vec::new(),
            };
            for p in aws {
                if !principal_exists(&p, state) {
                    return Err(kms_error(
                        "MalformedPolicyDocumentException",
                        format!(
                            "Policy contains a statement with one or more invalid principals. (`{p}` does not exist in this cloud: create it first, or correct the ARN.)"
                        ),
                    ));
                }
            }
        }
    }
    Ok(())
}

fn principal_exists(p: &str, state: &State) -> bool {
    let Some(rest) = p.strip_prefix("arn:aws:iam::") else {
        return true;
    };
    let Some((account, resource)) = rest.split_once(':') else {
        return true;
    };
    if !state.accounts.contains_key(account) {
        return true;
    }
    let name = resource.rsplit('/').next().unwrap_or_default();
    if resource.starts_with("user/") {
        state.users.contains_key(&name_key(account, name))
    } else if resource.starts_with("role/") {
        state.roles.contains_key(&name_key(account, name))
    } else {
        true
    }
}

/// AWS's message when a new key policy would lock the caller out.
pub const LOCKOUT_MESSAGE: &str =
    "The new key policy will not allow you to update the key policy in the future.";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_policies_parse() {
        assert!(validate(&default_key_policy("123456789012")).is_ok());
        assert!(validate(&aws_managed_key_policy("123456789012", "us-east-1", "s3")).is_ok());
        let e = validate("{").unwrap_err();
        assert_eq!(e.code, "MalformedPolicyDocumentException");
        let e = validate(
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"kms:*","Resource":"*"}]}"#,
        )
        .unwrap_err();
        assert_eq!(e.code, "MalformedPolicyDocumentException");
    }
}
