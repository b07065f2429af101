//! A small driver for instruction counting (`valgrind --tool=callgrind`): compiles the 6 KB
//! managed policy of the benchmarks, or makes the corpus decisions, N times.
//!
//! ```text
//! cargo build --release -p porteiro-iam --example profile
//! valgrind --tool=callgrind target/release/examples/profile compile 100
//! valgrind --tool=callgrind target/release/examples/profile decide 10
//! valgrind --tool=callgrind target/release/examples/profile explain 10
//! valgrind --tool=callgrind target/release/examples/profile scaling 1000
//! valgrind --tool=callgrind target/release/examples/profile large 1000
//! ```

use std::hint::black_box;
use std::path::{Path, PathBuf};

use porteiro_iam::scenario::{self, Scenario};
use porteiro_iam::{Authorizer, Context, Decision, Layers, Policy, PolicyKind, Principal, Request};

const ACCOUNT: &str = "111122223333";

fn json_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            json_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "json") {
            out.push(path);
        }
    }
}

fn corpus(authorizer: &Authorizer) -> Vec<Scenario> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus");
    let mut paths = Vec::new();
    json_files(&root, &mut paths);
    paths.sort();
    let mut out = Vec::new();
    for path in &paths {
        let text = std::fs::read_to_string(path).expect("corpus file");
        out.extend(scenario::parse_file(&text, authorizer.options()).expect("corpus parses"));
    }
    out
}

/// The number of decisions `Scenario::decide` makes (as in `benches/authorize.rs`).
fn decisions_made(s: &Scenario, authorizer: &Authorizer) -> usize {
    let outcome = s.run(authorizer);
    if !outcome.request.evaluation.decision.is_allowed() {
        return 1;
    }
    let hops = outcome
        .hops
        .iter()
        .position(|h| !h.decision().is_allowed())
        .map_or(outcome.hops.len(), |i| i + 1);
    1 + hops
}

const SERVICES: [(&str, &str); 4] = [
    ("ec2", "arn:aws:ec2:us-east-1:111122223333:instance/i-{n}"),
    ("dynamodb", "arn:aws:dynamodb:us-east-1:111122223333:table/t-{n}"),
    ("sqs", "arn:aws:sqs:us-east-1:111122223333:queue-{n}"),
    ("lambda", "arn:aws:lambda:us-east-1:111122223333:function:f-{n}"),
];

/// Statement `j` of identity policy `i`: a mix of S3 statements that are looked at for an
/// S3 request but fail on their resource or on a condition, and statements of other
/// services. Policy 9 statement 48 is the one that allows the benchmark request.
fn large_statement(i: usize, j: usize) -> String {
    let n = i * 50 + j;
    let conditions = format!(
        r#"{{"StringEquals": {{"aws:PrincipalTag/team": "team-{t}", "aws:ResourceTag/project": "p-{n}"}},
             "IpAddress": {{"aws:SourceIp": ["203.0.113.0/24", "198.51.100.{o}/32"]}},
             "DateLessThan": {{"aws:CurrentTime": "2031-0{m}-01T00:00:00Z"}},
             "Bool": {{"aws:SecureTransport": "true"}}}}"#,
        t = n % 7,
        o = n % 250,
        m = 1 + n % 9
    );
    if i == 9 && j == 48 {
        return r#"{"Sid": "TheOne", "Effect": "Allow", "Action": ["s3:GetObject", "s3:GetObjectVersion"],
            "Resource": "arn:aws:s3:::shared-data/reports/*",
            "Condition": {"StringEquals": {"aws:PrincipalTag/team": "analytics", "aws:ResourceTag/project": "reports"},
                          "IpAddress": {"aws:SourceIp": "203.0.113.0/24"},
                          "DateLessThan": {"aws:CurrentTime": "2031-01-01T00:00:00Z"},
                          "Bool": {"aws:SecureTransport": "true"}}}"#
            .to_string();
    }
    match j % 4 {
        // S3, wrong bucket.
        0 => format!(
            r#"{{"Sid": "S{n}", "Effect": "Allow", "Action": ["s3:GetObject", "s3:PutObject", "s3:List*"],
                "Resource": ["arn:aws:s3:::bucket-{n}", "arn:aws:s3:::bucket-{n}/*"], "Condition": {conditions}}}"#
        ),
        // S3, right bucket, a condition that fails (another team).
        1 => format!(
            r#"{{"Sid": "S{n}", "Effect": "Allow", "Action": "s3:Get*",
                "Resource": "arn:aws:s3:::shared-data/*", "Condition": {conditions}}}"#
        ),
        // A Deny that does not apply (another bucket).
        2 => format!(
            r#"{{"Sid": "S{n}", "Effect": "Deny", "Action": "s3:*",
                "Resource": "arn:aws:s3:::restricted-{n}/*", "Condition": {{"Bool": {{"aws:MultiFactorAuthPresent": "false"}}}}}}"#
        ),
        // Another service.
        _ => {
            let (svc, arn) = SERVICES[n % SERVICES.len()];
            let arn = arn.replace("{n}", &n.to_string());
            format!(
                r#"{{"Sid": "S{n}", "Effect": "Allow", "Action": ["{svc}:Describe*", "{svc}:Get*", "{svc}:List*"],
                    "Resource": "{arn}", "Condition": {conditions}}}"#
            )
        }
    }
}

fn large_identity() -> Vec<Policy> {
    (0..10)
        .map(|i| {
            let statements: Vec<String> = (0..50).map(|j| large_statement(i, j)).collect();
            let text = format!(
                r#"{{"Version": "2012-10-17", "Statement": [{}]}}"#,
                statements.join(",\n")
            );
            Policy::parse(&text, PolicyKind::Identity).expect("large identity policy parses")
        })
        .collect()
}

const BOUNDARY: &str = r#"{"Version": "2012-10-17", "Statement": [
    {"Sid": "Services", "Effect": "Allow", "Action": ["s3:*", "ec2:*", "dynamodb:*", "sqs:*", "lambda:*"], "Resource": "*"},
    {"Sid": "NoIam", "Effect": "Deny", "Action": ["iam:*", "organizations:*", "account:*"], "Resource": "*"},
    {"Sid": "NoBoundaryEdits", "Effect": "Deny", "Action": ["s3:PutBucketPolicy", "s3:DeleteBucketPolicy"], "Resource": "*"},
    {"Sid": "Regions", "Effect": "Deny", "NotAction": ["s3:*", "iam:*", "sts:*"], "Resource": "*",
     "Condition": {"StringNotEquals": {"aws:RequestedRegion": ["us-east-1", "eu-west-1"]}}}
]}"#;

const BUCKET_POLICY: &str = r#"{"Version": "2012-10-17", "Statement": [
    {"Sid": "TlsOnly", "Effect": "Deny", "Principal": "*", "Action": "s3:*",
     "Resource": ["arn:aws:s3:::shared-data", "arn:aws:s3:::shared-data/*"],
     "Condition": {"Bool": {"aws:SecureTransport": "false"}}},
    {"Sid": "OrgOnly", "Effect": "Deny", "Principal": "*", "Action": "s3:*",
     "Resource": "arn:aws:s3:::shared-data/*",
     "Condition": {"StringNotEquals": {"aws:PrincipalOrgID": "o-abc123"}}},
    {"Sid": "Partner", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::444455556666:role/partner"},
     "Action": ["s3:GetObject", "s3:ListBucket"],
     "Resource": ["arn:aws:s3:::shared-data", "arn:aws:s3:::shared-data/partner/*"]}
]}"#;

fn large_request(source_ip: &str) -> Request {
    let mut ctx = Context::new();
    ctx.insert("aws:PrincipalTag/team", "analytics");
    ctx.insert("aws:ResourceTag/project", "reports");
    ctx.insert("aws:SourceIp", source_ip);
    ctx.insert("aws:CurrentTime", "2026-05-01T12:00:00Z");
    ctx.insert("aws:SecureTransport", true);
    ctx.insert("aws:MultiFactorAuthPresent", true);
    ctx.insert("aws:PrincipalOrgID", "o-abc123");
    ctx.insert("aws:RequestedRegion", "us-east-1");
    let principal =
        Principal::parse("arn:aws:sts::111122223333:assumed-role/analyst/alice").expect("principal");
    Request::new(
        principal,
        "s3:GetObject",
        "arn:aws:s3:::shared-data/reports/2026/q1.csv",
        Some(ACCOUNT),
        ctx,
    )
}

fn scaling_policy(n: usize) -> Policy {
    let mut statements: Vec<String> = (0..n)
        .map(|k| {
            format!(
                r#"{{"Effect": "Allow", "Action": ["svc{k}:Get*", "svc{k}:Describe{k}", "other{m}:*"],
                    "Resource": "*", "Condition": {{"StringEquals": {{"aws:PrincipalTag/team": "t{k}"}}}}}}"#,
                m = k % 13
            )
        })
        .collect();
    statements.push(
        r#"{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::reports/*"}"#.to_string(),
    );
    let text = format!(
        r#"{{"Version": "2012-10-17", "Statement": [{}]}}"#,
        statements.join(",")
    );
    Policy::parse(&text, PolicyKind::Identity).expect("scaling policy parses")
}

fn main() {
    let mut args = std::env::args().skip(1);
    let what = args.next().unwrap_or_else(|| "compile".to_string());
    let n: usize = args.next().and_then(|s| s.parse().ok()).unwrap_or(100);
    match what.as_str() {
        "compile" => {
            for _ in 0..n {
                black_box(Policy::parse(black_box(MANAGED_6KB), PolicyKind::Identity).expect("parses"));
            }
        }
        "decide" => {
            let authorizer = Authorizer::new();
            let scenarios = corpus(&authorizer);
            let decisions: usize = scenarios.iter().map(|s| decisions_made(s, &authorizer)).sum();
            eprintln!("{} scenarios, {decisions} decisions per pass", scenarios.len());
            for _ in 0..n {
                for s in &scenarios {
                    black_box(s.decide(black_box(&authorizer)));
                }
            }
        }
        "explain" => {
            // As `explain/corpus`: every scenario run with explanations.
            let authorizer = Authorizer::new();
            let scenarios = corpus(&authorizer);
            for _ in 0..n {
                for s in &scenarios {
                    black_box(s.run(black_box(&authorizer)));
                }
            }
        }
        "scaling" => {
            let authorizer = Authorizer::new();
            let principal = Principal::parse("arn:aws:iam::111122223333:user/alice").expect("principal");
            let request = Request::new(
                principal,
                "s3:GetObject",
                "arn:aws:s3:::reports/q1.csv",
                Some("111122223333"),
                Context::new(),
            );
            let policy = [scaling_policy(1000)];
            let layers = Layers {
                identity: &policy,
                ..Layers::default()
            };
            for _ in 0..n {
                assert_eq!(
                    authorizer.authorize(black_box(&request), black_box(&layers)),
                    Decision::Allowed
                );
            }
        }
        "large" => {
            // `large_principal/denied` of the benchmarks: every S3 statement is looked at.
            let authorizer = Authorizer::new();
            let identity = large_identity();
            let boundary = Policy::parse(BOUNDARY, PolicyKind::PermissionsBoundary).expect("boundary");
            let bucket = Policy::parse(BUCKET_POLICY, PolicyKind::Resource).expect("bucket policy");
            let layers = Layers {
                identity: &identity,
                resource: Some(&bucket),
                permissions_boundary: Some(&boundary),
                ..Layers::default()
            };
            let denied = large_request("192.0.2.1");
            for _ in 0..n {
                assert_eq!(
                    authorizer.authorize(black_box(&denied), black_box(&layers)),
                    Decision::ImplicitDeny
                );
            }
        }
        other => panic!("unknown mode {other}: compile, decide, explain, scaling or large"),
    }
}

/// The 6 KB managed policy of `benches/authorize.rs`.
const MANAGED_6KB: &str = r#"{
  "Version": "2012-10-17",
  "Id": "DataPlatformOperatorAccess",
  "Statement": [
    {
      "Sid": "ReadOnlyDescribe",
      "Effect": "Allow",
      "Action": [
        "ec2:Describe*", "ec2:Get*", "elasticloadbalancing:Describe*", "autoscaling:Describe*",
        "cloudwatch:Describe*", "cloudwatch:Get*", "cloudwatch:List*", "logs:Describe*",
        "logs:Get*", "logs:FilterLogEvents", "logs:StartQuery", "logs:GetQueryResults",
        "tag:GetResources", "tag:GetTagKeys", "tag:GetTagValues"
      ],
      "Resource": "*"
    },
    {
      "Sid": "DataBucketsRead",
      "Effect": "Allow",
      "Action": ["s3:GetObject", "s3:GetObjectVersion", "s3:GetObjectTagging", "s3:ListBucket", "s3:GetBucketLocation"],
      "Resource": [
        "arn:aws:s3:::data-platform-raw", "arn:aws:s3:::data-platform-raw/*",
        "arn:aws:s3:::data-platform-curated", "arn:aws:s3:::data-platform-curated/*"
      ]
    },
    {
      "Sid": "DataBucketsWriteOwnPrefix",
      "Effect": "Allow",
      "Action": ["s3:PutObject", "s3:PutObjectTagging", "s3:DeleteObject", "s3:AbortMultipartUpload"],
      "Resource": "arn:aws:s3:::data-platform-curated/teams/${aws:PrincipalTag/team}/*",
      "Condition": {
        "StringEquals": {"s3:x-amz-server-side-encryption": "aws:kms"},
        "Bool": {"aws:SecureTransport": "true"}
      }
    },
    {
      "Sid": "ListOwnPrefix",
      "Effect": "Allow",
      "Action": "s3:ListBucket",
      "Resource": "arn:aws:s3:::data-platform-curated",
      "Condition": {"StringLike": {"s3:prefix": ["teams/${aws:PrincipalTag/team}/*", "shared/*"]}}
    },
    {
      "Sid": "GlueCatalog",
      "Effect": "Allow",
      "Action": [
        "glue:GetDatabase", "glue:GetDatabases", "glue:GetTable", "glue:GetTables", "glue:GetPartition",
        "glue:GetPartitions", "glue:BatchGetPartition", "glue:CreateTable", "glue:UpdateTable"
      ],
      "Resource": [
        "arn:aws:glue:*:111122223333:catalog",
        "arn:aws:glue:*:111122223333:database/analytics_*",
        "arn:aws:glue:*:111122223333:table/analytics_*/*"
      ]
    },
    {
      "Sid": "AthenaWorkgroups",
      "Effect": "Allow",
      "Action": [
        "athena:StartQueryExecution", "athena:StopQueryExecution", "athena:GetQueryExecution",
        "athena:GetQueryResults", "athena:GetWorkGroup", "athena:BatchGetQueryExecution"
      ],
      "Resource": "arn:aws:athena:*:111122223333:workgroup/${aws:PrincipalTag/team}-*"
    },
    {
      "Sid": "KmsForData",
      "Effect": "Allow",
      "Action": ["kms:Decrypt", "kms:GenerateDataKey", "kms:DescribeKey"],
      "Resource": "arn:aws:kms:us-east-1:111122223333:key/*",
      "Condition": {
        "StringEquals": {"kms:ViaService": ["s3.us-east-1.amazonaws.com", "glue.us-east-1.amazonaws.com"]},
        "ForAnyValue:StringLike": {"kms:ResourceAliases": "alias/data-platform-*"}
      }
    },
    {
      "Sid": "EmrOnEc2",
      "Effect": "Allow",
      "Action": ["elasticmapreduce:Describe*", "elasticmapreduce:List*", "elasticmapreduce:AddJobFlowSteps", "elasticmapreduce:CancelSteps"],
      "Resource": "arn:aws:elasticmapreduce:us-east-1:111122223333:cluster/*",
      "Condition": {"StringEquals": {"aws:ResourceTag/team": "${aws:PrincipalTag/team}"}}
    },
    {
      "Sid": "StartStopTaggedInstances",
      "Effect": "Allow",
      "Action": ["ec2:StartInstances", "ec2:StopInstances", "ec2:RebootInstances"],
      "Resource": "arn:aws:ec2:*:111122223333:instance/*",
      "Condition": {
        "StringEquals": {"aws:ResourceTag/team": "${aws:PrincipalTag/team}"},
        "IpAddress": {"aws:SourceIp": ["203.0.113.0/24", "198.51.100.0/24", "2001:db8::/32"]}
      }
    },
    {
      "Sid": "PassOnlyDataRoles",
      "Effect": "Allow",
      "Action": "iam:PassRole",
      "Resource": "arn:aws:iam::111122223333:role/data-platform/*",
      "Condition": {"StringEquals": {"iam:PassedToService": ["glue.amazonaws.com", "elasticmapreduce.amazonaws.com"]}}
    },
    {
      "Sid": "SecretsForJobs",
      "Effect": "Allow",
      "Action": ["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"],
      "Resource": "arn:aws:secretsmanager:us-east-1:111122223333:secret:data-platform/*",
      "Condition": {
        "DateLessThan": {"aws:CurrentTime": "2027-12-31T23:59:59Z"},
        "NumericLessThan": {"aws:MultiFactorAuthAge": "3600"}
      }
    },
    {
      "Sid": "QueuesForPipelines",
      "Effect": "Allow",
      "Action": ["sqs:SendMessage", "sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes", "sqs:GetQueueUrl"],
      "Resource": "arn:aws:sqs:us-east-1:111122223333:data-platform-*"
    },
    {
      "Sid": "DenyOutsideRegions",
      "Effect": "Deny",
      "NotAction": ["iam:*", "sts:*", "s3:*", "cloudfront:*", "route53:*", "support:*"],
      "Resource": "*",
      "Condition": {"StringNotEquals": {"aws:RequestedRegion": ["us-east-1", "eu-west-1"]}}
    },
    {
      "Sid": "DenyUnencryptedUploads",
      "Effect": "Deny",
      "Action": "s3:PutObject",
      "Resource": "arn:aws:s3:::data-platform-*/*",
      "Condition": {"Null": {"s3:x-amz-server-side-encryption": "true"}}
    },
    {
      "Sid": "DenyRawDeletes",
      "Effect": "Deny",
      "Action": ["s3:DeleteObject", "s3:DeleteObjectVersion", "s3:PutLifecycleConfiguration"],
      "NotResource": "arn:aws:s3:::data-platform-curated/*"
    },
    {
      "Sid": "DenyWithoutMfa",
      "Effect": "Deny",
      "Action": ["iam:*", "kms:ScheduleKeyDeletion", "kms:DisableKey"],
      "Resource": "*",
      "Condition": {"BoolIfExists": {"aws:MultiFactorAuthPresent": "false"}}
    },
    {
      "Sid": "DenyOutsideNetwork",
      "Effect": "Deny",
      "Action": "*",
      "Resource": "*",
      "Condition": {
        "NotIpAddress": {"aws:SourceIp": ["203.0.113.0/24", "198.51.100.0/24", "2001:db8::/32"]},
        "Bool": {"aws:ViaAWSService": "false"},
        "StringNotEqualsIfExists": {"aws:SourceVpc": ["vpc-0a1b2c3d", "vpc-4e5f6a7b"]}
      }
    },
    {
      "Sid": "DenyUntaggedCreates",
      "Effect": "Deny",
      "Action": ["ec2:RunInstances", "ec2:CreateVolume", "glue:CreateJob"],
      "Resource": "*",
      "Condition": {"ForAllValues:StringNotEquals": {"aws:TagKeys": ["team", "cost-center", "environment"]}}
    }
  ]
}"#;
