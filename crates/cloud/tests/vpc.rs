//! VPC endpoint listeners, driven with the AWS SDK for Rust: a request that arrives on a listener
//! configured as a VPC endpoint carries `aws:SourceVpc`, `aws:SourceVpce` and `aws:VpcSourceIp`
//! and no `aws:SourceIp`; one on the plain listener carries `aws:SourceIp` only.
//!
//! <https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-keys.html#condition-keys-sourcevpce>

use aws_sdk_iam::error::ProvideErrorMetadata;
use serde_json::json;

mod common;
use common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 1)]
async fn vpc_endpoint_keys_decide_access() {
    let c = Server::with_vpc_endpoint();
    let root = c.root_iam();
    root.create_user()
        .user_name("bob")
        .send()
        .await
        .expect("create user");
    // The seed's data-perimeter shape: allowed only from the VPC; and a deny when the request
    // has an aws:SourceIp (that is, did not come through an endpoint).
    let doc = json!({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": ["iam:ListUsers", "iam:GetUser"], "Resource": "*",
         "Condition": {"StringEquals": {"aws:SourceVpc": VPC}}},
        {"Effect": "Allow", "Action": "iam:ListRoles", "Resource": "*",
         "Condition": {"StringEquals": {"aws:SourceVpce": VPCE},
                       "IpAddress": {"aws:VpcSourceIp": "127.0.0.0/8"}}},
        {"Effect": "Deny", "Action": "iam:GetUser", "Resource": "*",
         "Condition": {"Null": {"aws:SourceIp": "false"}}}
    ]});
    root.put_user_policy()
        .user_name("bob")
        .policy_name("perimeter")
        .policy_document(doc.to_string())
        .send()
        .await
        .expect("put policy");
    let key = root
        .create_access_key()
        .user_name("bob")
        .send()
        .await
        .expect("key");
    let key = key.access_key().expect("access key");
    let (ak, sk) = (key.access_key_id(), key.secret_access_key());

    let bob = Creds::new(ak, sk, None);
    let inside = c.iam_at(&c.endpoint_url(), &bob);
    let outside = c.iam(&bob);
    inside
        .list_users()
        .send()
        .await
        .expect("allowed through the VPC endpoint");
    inside
        .list_roles()
        .send()
        .await
        .expect("aws:SourceVpce and aws:VpcSourceIp match");
    inside
        .get_user()
        .send()
        .await
        .expect("no aws:SourceIp through the endpoint");

    let e = outside
        .list_users()
        .send()
        .await
        .expect_err("denied from outside the VPC");
    assert_eq!(e.code(), Some("AccessDenied"));
    assert!(
        e.message()
            .is_some_and(|m| m.contains("because no identity-based policy allows the iam:ListUsers action")),
        "{e:?}"
    );
    let e = outside
        .get_user()
        .send()
        .await
        .expect_err("explicit deny on aws:SourceIp");
    assert!(
        e.message()
            .is_some_and(|m| m.contains("with an explicit deny in an identity-based policy")),
        "{e:?}"
    );
    // GetCallerIdentity needs no permission on either listener.
    for url in [c.url.clone(), c.endpoint_url()] {
        let me = c
            .sts_at(&url, &bob)
            .get_caller_identity()
            .send()
            .await
            .expect("who am I");
        assert_eq!(me.account(), Some(ACCOUNT));
    }
}
