//! Bucket operations: create, list, head, delete, location, policy, encryption, tagging.

use hyper::{Response, StatusCode};
use porteiro_iam::{Policy, PolicyKind};

use super::{Ctx, S3Error, doc, empty, xml, xml_in};
use crate::model::{Bucket, BucketEncryption, Tag};
use crate::server::ResponseBody;

type Reply = Result<Response<ResponseBody>, S3Error>;

/// Checks AWS's bucket naming rules (general purpose buckets).
pub fn check_bucket_name(name: &str) -> Result<(), S3Error> {
    let invalid = |why: &str| {
        Err(S3Error::new(
            400,
            "InvalidBucketName",
            format!("The specified bucket is not valid: {why}"),
        )
        .with("BucketName", name))
    };
    if !(3..=63).contains(&name.len()) {
        return invalid("bucket names must be 3 to 63 characters long");
    }
    if !name
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-')
    {
        return invalid("bucket names may contain only lower-case letters, digits, dots and hyphens");
    }
    let first = name.as_bytes()[0];
    let last = name.as_bytes()[name.len() - 1];
    if !(first.is_ascii_alphanumeric() && last.is_ascii_alphanumeric()) {
        return invalid("bucket names must begin and end with a letter or digit");
    }
    if name.contains("..") || name.contains(".-") || name.contains("-.") {
        return invalid("bucket names must not contain two adjacent periods or a period next to a hyphen");
    }
    if name.split('.').count() == 4 && name.split('.').all(|p| p.parse::<u8>().is_ok()) {
        return invalid("bucket names must not be formatted as an IP address");
    }
    if name.starts_with("xn--")
        || name.starts_with("sthree-")
        || name.ends_with("-s3alias")
        || name.ends_with("--ol-s3")
    {
        return invalid("bucket names must not use a reserved prefix or suffix");
    }
    Ok(())
}

fn bucket_arn(name: &str) -> String {
    format!("arn:aws:s3:::{name}")
}

/// `CreateBucket`.
pub fn create_bucket(ctx: &Ctx<'_>, body: &[u8]) -> Reply {
    let name = ctx.bucket_name().to_string();
    check_bucket_name(&name)?;
    let mut region = "us-east-1".to_string();
    if !body.iter().all(u8::is_ascii_whitespace) {
        let text = std::str::from_utf8(body).map_err(|_| S3Error::malformed_xml("the body is not UTF-8"))?;
        let root = xml_in::parse(text).map_err(|e| S3Error::malformed_xml(&e.0))?;
        if root.name != "CreateBucketConfiguration" {
            return Err(S3Error::malformed_xml(
                "the root element must be CreateBucketConfiguration",
            ));
        }
        if let Some(lc) = root.text_of("LocationConstraint").filter(|l| !l.is_empty()) {
            if lc == "us-east-1" {
                return Err(S3Error::new(
                    400,
                    "InvalidLocationConstraint",
                    "The specified location-constraint is not valid",
                )
                .with("LocationConstraint", lc));
            }
            region = if lc == "EU" {
                "eu-west-1".to_string()
            } else {
                lc.to_string()
            };
        }
    }
    ctx.authorize("s3:CreateBucket", bucket_arn(&name), None, Vec::new())?;
    let caller = ctx.caller()?;
    let account = caller.account.clone();
    let now = ctx.info.now;
    ctx.cloud.shared.mutate(|tx| {
        if let Some(existing) = tx.state.buckets.get(&name) {
            return Err(if existing.account == account {
                S3Error::new(
                    409,
                    "BucketAlreadyOwnedByYou",
                    "Your previous request to create the named bucket succeeded and you already own it.",
                )
                .with("BucketName", name.as_str())
            } else {
                S3Error::new(
                    409,
                    "BucketAlreadyExists",
                    "The requested bucket name is not available. The bucket namespace is shared by all users of the system. Please select a different name and try again.",
                )
                .with("BucketName", name.as_str())
            });
        }
        tx.put(Bucket {
            name: name.clone(),
            account: account.clone(),
            region: region.clone(),
            created: now,
            policy: None,
            encryption: None,
            tags: Vec::new(),
        });
        Ok(())
    })?;
    let mut resp = empty(StatusCode::OK);
    super::set_header(&mut resp, "location", &format!("/{name}"));
    Ok(resp)
}

/// `ListBuckets`: the caller's account's buckets.
pub fn list_buckets(ctx: &Ctx<'_>) -> Reply {
    ctx.authorize("s3:ListAllMyBuckets", "*".to_string(), None, Vec::new())?;
    let caller = ctx.caller()?;
    let mut x = doc("ListAllMyBucketsResult");
    x.open("Owner")
        .elem("ID", &caller.account)
        .elem("DisplayName", &caller.account)
        .close("Owner");
    x.open("Buckets");
    for b in ctx.state.buckets.values().filter(|b| b.account == caller.account) {
        x.open("Bucket")
            .elem("Name", &b.name)
            .elem("CreationDate", &crate::time::iso8601(b.created))
            .elem("BucketRegion", &b.region)
            .close("Bucket");
    }
    x.close("Buckets").close("ListAllMyBucketsResult");
    Ok(xml(StatusCode::OK, x.finish()))
}

/// `HeadBucket`.
pub fn head_bucket(ctx: &Ctx<'_>) -> Reply {
    let b = ctx.bucket()?;
    ctx.authorize("s3:ListBucket", b.arn(), Some(b), Vec::new())?;
    let mut resp = empty(StatusCode::OK);
    super::set_header(&mut resp, "x-amz-bucket-region", &b.region);
    Ok(resp)
}

/// `DeleteBucket`: only when empty.
pub fn delete_bucket(ctx: &Ctx<'_>) -> Reply {
    let b = ctx.bucket()?;
    ctx.authorize("s3:DeleteBucket", b.arn(), Some(b), Vec::new())?;
    if !ctx.cloud.s3.bucket_is_empty(&b.name)? {
        return Err(S3Error::new(
            409,
            "BucketNotEmpty",
            "The bucket you tried to delete is not empty",
        )
        .with("BucketName", b.name.as_str()));
    }
    let name = b.name.clone();
    ctx.cloud.shared.mutate(|tx| {
        tx.delete::<Bucket>(&name);
        Ok::<(), S3Error>(())
    })?;
    Ok(empty(StatusCode::NO_CONTENT))
}

/// `GetBucketLocation`.
pub fn get_location(ctx: &Ctx<'_>) -> Reply {
    let b = ctx.bucket()?;
    ctx.authorize("s3:GetBucketLocation", b.arn(), Some(b), Vec::new())?;
    let mut region = String::new();
    if b.region != "us-east-1" {
        crate::xml::escape(&b.region, &mut region);
    }
    Ok(xml(
        StatusCode::OK,
        format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<LocationConstraint xmlns=\"{}\">{region}</LocationConstraint>",
            super::NS
        ),
    ))
}

/// `GetBucketVersioning` (versioning is never enabled here).
pub fn get_versioning(ctx: &Ctx<'_>) -> Reply {
    let b = ctx.bucket()?;
    ctx.authorize("s3:GetBucketVersioning", b.arn(), Some(b), Vec::new())?;
    let mut x = doc("VersioningConfiguration");
    x.close("VersioningConfiguration");
    Ok(xml(StatusCode::OK, x.finish()))
}

fn update(ctx: &Ctx<'_>, f: impl FnOnce(&mut Bucket)) -> Result<(), S3Error> {
    let name = ctx.bucket_name().to_string();
    ctx.cloud.shared.mutate(|tx| {
        let mut b = tx
            .state
            .buckets
            .get(&name)
            .cloned()
            .ok_or_else(|| S3Error::no_such_bucket(&name))?;
        f(&mut b);
        tx.put(b);
        Ok(())
    })
}

/// `PutBucketPolicy`: the document must be a valid resource policy.
pub fn put_policy(ctx: &Ctx<'_>, body: &[u8]) -> Reply {
    let b = ctx.bucket()?;
    ctx.authorize("s3:PutBucketPolicy", b.arn(), Some(b), Vec::new())?;
    let text = std::str::from_utf8(body)
        .map_err(|_| S3Error::new(400, "MalformedPolicy", "Policies must be valid UTF-8"))?;
    if let Err(e) = Policy::parse(text, PolicyKind::Resource) {
        return Err(S3Error::new(
            400,
            "MalformedPolicy",
            format!("Policy has invalid resource or action: {e}"),
        ));
    }
    let doc = text.to_string();
    update(ctx, |b| b.policy = Some(doc))?;
    Ok(empty(StatusCode::NO_CONTENT))
}

/// `GetBucketPolicy`: the document as given.
pub fn get_policy(ctx: &Ctx<'_>) -> Reply {
    let b = ctx.bucket()?;
    ctx.authorize("s3:GetBucketPolicy", b.arn(), Some(b), Vec::new())?;
    let Some(policy) = &b.policy else {
        return Err(
            S3Error::new(404, "NoSuchBucketPolicy", "The bucket policy does not exist")
                .with("BucketName", b.name.as_str()),
        );
    };
    let mut resp = xml(StatusCode::OK, policy.clone());
    super::set_header(&mut resp, "content-type", "application/json");
    Ok(resp)
}

/// `DeleteBucketPolicy`.
pub fn delete_policy(ctx: &Ctx<'_>) -> Reply {
    let b = ctx.bucket()?;
    ctx.authorize("s3:DeleteBucketPolicy", b.arn(), Some(b), Vec::new())?;
    update(ctx, |b| b.policy = None)?;
    Ok(empty(StatusCode::NO_CONTENT))
}

/// `PutBucketEncryption`: stores the default encryption rule (applied to new objects by the
/// object operations; SSE-KMS itself is the KMS integration's).
pub fn put_encryption(ctx: &Ctx<'_>, body: &[u8]) -> Reply {
    let b = ctx.bucket()?;
    ctx.authorize("s3:PutEncryptionConfiguration", b.arn(), Some(b), Vec::new())?;
    let text = std::str::from_utf8(body).map_err(|_| S3Error::malformed_xml("the body is not UTF-8"))?;
    let root = xml_in::parse(text).map_err(|e| S3Error::malformed_xml(&e.0))?;
    if root.name != "ServerSideEncryptionConfiguration" {
        return Err(S3Error::malformed_xml(
            "the root element must be ServerSideEncryptionConfiguration",
        ));
    }
    let rule = root
        .child("Rule")
        .ok_or_else(|| S3Error::malformed_xml("a Rule is required"))?;
    let default = rule
        .child("ApplyServerSideEncryptionByDefault")
        .ok_or_else(|| S3Error::malformed_xml("ApplyServerSideEncryptionByDefault is required"))?;
    let algorithm = default
        .text_of("SSEAlgorithm")
        .ok_or_else(|| S3Error::malformed_xml("SSEAlgorithm is required"))?
        .to_string();
    if !matches!(algorithm.as_str(), "AES256" | "aws:kms" | "aws:kms:dsse") {
        return Err(S3Error::malformed_xml(
            "SSEAlgorithm must be AES256, aws:kms or aws:kms:dsse",
        ));
    }
    let kms_key_id = default
        .text_of("KMSMasterKeyID")
        .filter(|k| !k.is_empty())
        .map(str::to_string);
    if kms_key_id.is_some() && algorithm == "AES256" {
        return Err(S3Error::invalid_argument(
            "a KMSMasterKeyID is allowed only when SSEAlgorithm is aws:kms or aws:kms:dsse",
        ));
    }
    let bucket_key_enabled = rule.text_of("BucketKeyEnabled") == Some("true");
    let enc = BucketEncryption {
        algorithm,
        kms_key_id,
        bucket_key_enabled,
    };
    update(ctx, |b| b.encryption = Some(enc))?;
    Ok(empty(StatusCode::OK))
}

/// `GetBucketEncryption`.
pub fn get_encryption(ctx: &Ctx<'_>) -> Reply {
    let b = ctx.bucket()?;
    ctx.authorize("s3:GetEncryptionConfiguration", b.arn(), Some(b), Vec::new())?;
    let Some(enc) = &b.encryption else {
        return Err(S3Error::new(
            404,
            "ServerSideEncryptionConfigurationNotFoundError",
            "The server side encryption configuration was not found",
        )
        .with("BucketName", b.name.as_str()));
    };
    let mut x = doc("ServerSideEncryptionConfiguration");
    x.open("Rule")
        .open("ApplyServerSideEncryptionByDefault")
        .elem("SSEAlgorithm", &enc.algorithm)
        .opt("KMSMasterKeyID", enc.kms_key_id.as_deref())
        .close("ApplyServerSideEncryptionByDefault")
        .elem(
            "BucketKeyEnabled",
            if enc.bucket_key_enabled { "true" } else { "false" },
        )
        .close("Rule")
        .close("ServerSideEncryptionConfiguration");
    Ok(xml(StatusCode::OK, x.finish()))
}

/// `DeleteBucketEncryption` (authorized as `s3:PutEncryptionConfiguration`, as AWS does).
pub fn delete_encryption(ctx: &Ctx<'_>) -> Reply {
    let b = ctx.bucket()?;
    ctx.authorize("s3:PutEncryptionConfiguration", b.arn(), Some(b), Vec::new())?;
    update(ctx, |b| b.encryption = None)?;
    Ok(empty(StatusCode::NO_CONTENT))
}

/// Parses a `<Tagging><TagSet><Tag><Key/><Value/></Tag>…` document.
pub fn parse_tagging(body: &[u8]) -> Result<Vec<Tag>, S3Error> {
    let text = std::str::from_utf8(body).map_err(|_| S3Error::malformed_xml("the body is not UTF-8"))?;
    let root = xml_in::parse(text).map_err(|e| S3Error::malformed_xml(&e.0))?;
    let set = root
        .child("TagSet")
        .ok_or_else(|| S3Error::malformed_xml("TagSet is required"))?;
    let mut tags: Vec<Tag> = Vec::new();
    for t in set.all("Tag") {
        let key = t
            .text_of("Key")
            .ok_or_else(|| S3Error::malformed_xml("a Tag has no Key"))?;
        let value = t.text_of("Value").unwrap_or("");
        if key.is_empty() || key.chars().count() > 128 || value.chars().count() > 256 {
            return Err(S3Error::new(
                400,
                "InvalidTag",
                "The TagKey you have provided is invalid",
            ));
        }
        if tags.iter().any(|x| x.key == key) {
            return Err(S3Error::new(
                400,
                "InvalidTag",
                "Cannot provide multiple Tags with the same key",
            ));
        }
        tags.push(Tag {
            key: key.to_string(),
            value: value.to_string(),
        });
    }
    if tags.len() > 50 {
        return Err(S3Error::new(
            400,
            "InvalidTag",
            "Bucket tag count cannot be greater than 50",
        ));
    }
    Ok(tags)
}

/// Writes a `<Tagging>` document.
pub fn tagging_xml<'a>(tags: impl Iterator<Item = (&'a str, &'a str)>) -> String {
    let mut x = doc("Tagging");
    x.open("TagSet");
    for (k, v) in tags {
        x.open("Tag").elem("Key", k).elem("Value", v).close("Tag");
    }
    x.close("TagSet").close("Tagging");
    x.finish()
}

/// `PutBucketTagging`.
pub fn put_tagging(ctx: &Ctx<'_>, body: &[u8]) -> Reply {
    let b = ctx.bucket()?;
    ctx.authorize("s3:PutBucketTagging", b.arn(), Some(b), Vec::new())?;
    let tags = parse_tagging(body)?;
    update(ctx, |b| b.tags = tags)?;
    Ok(empty(StatusCode::NO_CONTENT))
}

/// `GetBucketTagging`.
pub fn get_tagging(ctx: &Ctx<'_>) -> Reply {
    let b = ctx.bucket()?;
    ctx.authorize("s3:GetBucketTagging", b.arn(), Some(b), Vec::new())?;
    if b.tags.is_empty() {
        return Err(S3Error::new(404, "NoSuchTagSet", "The TagSet does not exist")
            .with("BucketName", b.name.as_str()));
    }
    Ok(xml(
        StatusCode::OK,
        tagging_xml(b.tags.iter().map(|t| (t.key.as_str(), t.value.as_str()))),
    ))
}

/// `DeleteBucketTagging` (authorized as `s3:PutBucketTagging`, as AWS does).
pub fn delete_tagging(ctx: &Ctx<'_>) -> Reply {
    let b = ctx.bucket()?;
    ctx.authorize("s3:PutBucketTagging", b.arn(), Some(b), Vec::new())?;
    update(ctx, |b| b.tags.clear())?;
    Ok(empty(StatusCode::NO_CONTENT))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_name_rules() {
        for ok in ["abc", "my-bucket.1", "a1b", "x".repeat(63).as_str()] {
            assert!(check_bucket_name(ok).is_ok(), "{ok}");
        }
        for bad in [
            "ab",
            "Abc",
            "a_b",
            "-ab",
            "ab-",
            "a..b",
            "a.-b",
            "192.168.1.1",
            "xn--abc",
            "x".repeat(64).as_str(),
        ] {
            assert_eq!(
                check_bucket_name(bad).unwrap_err().code,
                "InvalidBucketName",
                "{bad}"
            );
        }
    }
}
