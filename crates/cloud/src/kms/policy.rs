//! Key policies: AWS's default policies, validation, and the lockout safety check.
//!
//! <https://docs.aws.amazon.com/kms/latest/developerguide/key-policy-default.html>

use porteiro_iam::{Policy, PolicyKind};

use super::kms_error;
use crate::protocol::ApiError;

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
