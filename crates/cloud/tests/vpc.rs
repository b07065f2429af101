//! VPC endpoint listeners, driven with the AWS SDK for Rust: a request that arrives on a listener
//! configured as a VPC endpoint carries `aws:SourceVpc`, `aws:SourceVpce` and `aws:VpcSourceIp`
//! and no `aws:SourceIp`; one on the plain listener carries `aws:SourceIp` only.
//!
//! <https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-keys.html#condition-keys-sourcevpce>

use std::net::SocketAddr;
use std::path::PathBuf;

use aws_sdk_iam::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_iam::error::ProvideErrorMetadata;
use porteiro_cloud::{Cloud, CloudConfig, RootCredentials, VpcEndpoint};
use serde_json::json;

const ACCOUNT: &str = "123456789012";
const ROOT_AK: &str = "AKIAIOSFODNN7EXAMPLE";
const ROOT_SK: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
const VPCE: &str = "vpce-0a1b2c3d";
const VPC: &str = "vpc-11112222";

struct Cloudy {
    plain: SocketAddr,
    endpoint: SocketAddr,
    rt: Option<tokio::runtime::Runtime>,
    dir: PathBuf,
}

impl Drop for Cloudy {
    fn drop(&mut self) {
        // Dropped inside the test's runtime: shut the server's down without blocking.
        if let Some(rt) = self.rt.take() {
            rt.shutdown_background();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn listener() -> (std::net::TcpListener, SocketAddr) {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    l.set_nonblocking(true).expect("nonblocking");
    let addr = l.local_addr().expect("addr");
    (l, addr)
}

fn start() -> Cloudy {
    let dir = std::env::temp_dir().join(format!("porteiro-vpc-{}-{}", std::process::id(), rand_suffix()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let (cloud, _) = Cloud::open(&CloudConfig {
        data_dir: dir.clone(),
        account_id: Some(ACCOUNT.into()),
        root_credentials: Some(RootCredentials {
            access_key_id: ROOT_AK.into(),
            secret_access_key: ROOT_SK.into(),
        }),
    })
    .expect("cloud opens");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    let (pl, plain) = listener();
    let (el, endpoint) = listener();
    let c = cloud.clone();
    rt.spawn(async move {
        let _ = c
            .serve(tokio::net::TcpListener::from_std(pl).expect("tokio listener"))
            .await;
    });
    let vpce = VpcEndpoint::new(VPCE, VPC).expect("ids");
    rt.spawn(async move {
        let l = tokio::net::TcpListener::from_std(el).expect("tokio listener");
        let _ = cloud.serve_vpc_endpoint(l, vpce).await;
    });
    Cloudy {
        plain,
        endpoint,
        rt: Some(rt),
        dir,
    }
}

fn rand_suffix() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0)
}

fn iam(addr: SocketAddr, ak: &str, sk: &str) -> aws_sdk_iam::Client {
    let config = aws_sdk_iam::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url(format!("http://{addr}"))
        .credentials_provider(Credentials::new(ak, sk, None, None, "test"))
        .http_client(aws_smithy_http_client::Builder::new().build_http())
        .build();
    aws_sdk_iam::Client::from_conf(config)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 1)]
async fn vpc_endpoint_keys_decide_access() {
    let c = start();
    let root = iam(c.plain, ROOT_AK, ROOT_SK);
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

    let inside = iam(c.endpoint, ak, sk);
    let outside = iam(c.plain, ak, sk);
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
    let sts = |addr: SocketAddr| {
        aws_sdk_sts::Client::from_conf(
            aws_sdk_sts::Config::builder()
                .behavior_version(BehaviorVersion::latest())
                .region(Region::new("us-east-1"))
                .endpoint_url(format!("http://{addr}"))
                .credentials_provider(Credentials::new(ak, sk, None, None, "test"))
                .http_client(aws_smithy_http_client::Builder::new().build_http())
                .build(),
        )
    };
    for addr in [c.plain, c.endpoint] {
        let me = sts(addr).get_caller_identity().send().await.expect("who am I");
        assert_eq!(me.account(), Some(ACCOUNT));
    }
}
