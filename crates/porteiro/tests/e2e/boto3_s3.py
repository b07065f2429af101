#!/usr/bin/env python3
"""boto3 S3 against Porteiro's embedded cloud (`porteiro cloud serve`).

Run by crates/porteiro/tests/s3_e2e.rs as `boto3_s3.py ENDPOINT SCRATCH_DIR`, with root
credentials in ROOT_ACCESS_KEY_ID / ROOT_SECRET_ACCESS_KEY / ACCOUNT_ID and the second
account's in OTHER_ROOT_ACCESS_KEY_ID / OTHER_ROOT_SECRET_ACCESS_KEY / OTHER_ACCOUNT_ID.
Exits non-zero with a message on the first expectation that fails; prints `boto3 s3: ok`.
"""

import hashlib
import json
import os
import sys
import urllib.error
import urllib.request

import boto3
from boto3.s3.transfer import TransferConfig
from botocore.config import Config
from botocore.exceptions import ClientError

CONFIG = Config(retries={"max_attempts": 1, "mode": "standard"}, connect_timeout=5, read_timeout=60)


def client(endpoint, ak, sk, config=CONFIG):
    return boto3.session.Session().client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id=ak,
        aws_secret_access_key=sk,
        config=config,
    )


def check(what, cond, detail=""):
    if not cond:
        sys.exit(f"FAILED: {what}: {detail}")
    print(f"ok: {what}")


def error_code(fn):
    try:
        fn()
    except ClientError as e:
        return e.response["Error"]["Code"]
    return None


def fetch(url):
    try:
        with urllib.request.urlopen(url, timeout=30) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def main():
    endpoint, scratch = sys.argv[1], sys.argv[2]
    env = os.environ
    s3 = client(endpoint, env["ROOT_ACCESS_KEY_ID"], env["ROOT_SECRET_ACCESS_KEY"])
    other = client(endpoint, env["OTHER_ROOT_ACCESS_KEY_ID"], env["OTHER_ROOT_SECRET_ACCESS_KEY"])
    bucket = "boto3-bucket"

    s3.create_bucket(Bucket=bucket)
    code = error_code(lambda: s3.create_bucket(Bucket=bucket))
    check("create twice is BucketAlreadyOwnedByYou", code == "BucketAlreadyOwnedByYou", code)

    s3.put_object(Bucket=bucket, Key="hello.txt", Body=b"hello boto3", ContentType="text/plain", Metadata={"who": "boto3"})
    got = s3.get_object(Bucket=bucket, Key="hello.txt")
    check("get_object body", got["Body"].read() == b"hello boto3")
    check("get_object metadata", got["Metadata"] == {"who": "boto3"}, got["Metadata"])
    check("content type", got["ContentType"] == "text/plain", got["ContentType"])
    head = s3.head_object(Bucket=bucket, Key="hello.txt")
    check("etag is the md5", head["ETag"] == '"%s"' % hashlib.md5(b"hello boto3").hexdigest(), head["ETag"])
    ranged = s3.get_object(Bucket=bucket, Key="hello.txt", Range="bytes=6-10")
    check("range", ranged["Body"].read() == b"boto3" and ranged["ResponseMetadata"]["HTTPStatusCode"] == 206)
    code = error_code(lambda: s3.get_object(Bucket=bucket, Key="nope"))
    check("missing key is NoSuchKey", code == "NoSuchKey", code)

    # upload_file above the multipart threshold (8 MiB by default).
    big = os.path.join(scratch, "boto3-big.bin")
    payload = os.urandom(10 * 1024 * 1024 + 17)
    with open(big, "wb") as f:
        f.write(payload)
    s3.upload_file(big, bucket, "big.bin", Config=TransferConfig(multipart_threshold=8 * 1024 * 1024))
    head = s3.head_object(Bucket=bucket, Key="big.bin")
    check("multipart upload etag", head["ETag"].endswith('-2"'), head["ETag"])
    out = os.path.join(scratch, "boto3-big.out")
    s3.download_file(bucket, "big.bin", out)
    with open(out, "rb") as f:
        check("download_file round trip", f.read() == payload)

    # Presigned GET: SigV2 by default, SigV4 when configured; both fetched with urllib.
    url = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "hello.txt"}, ExpiresIn=300)
    check("default presign is SigV2", "AWSAccessKeyId=" in url, url)
    status, body = fetch(url)
    check("presigned SigV2 GET", status == 200 and body == b"hello boto3", (status, body[:300]))
    v4 = client(endpoint, env["ROOT_ACCESS_KEY_ID"], env["ROOT_SECRET_ACCESS_KEY"],
                CONFIG.merge(Config(signature_version="s3v4")))
    url4 = v4.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "hello.txt"}, ExpiresIn=300)
    check("s3v4 presign is SigV4", "X-Amz-Signature=" in url4, url4)
    status, body = fetch(url4)
    check("presigned SigV4 GET", status == 200 and body == b"hello boto3", (status, body[:300]))
    status, body = fetch(url.replace("Signature=", "Signature=x"))
    check("tampered presigned URL is denied", status == 403, (status, body[:300]))

    # Listing with a delimiter.
    for k in ["logs/a", "logs/b", "top"]:
        s3.put_object(Bucket=bucket, Key=k, Body=b"x")
    listed = s3.list_objects_v2(Bucket=bucket, Delimiter="/")
    prefixes = [p["Prefix"] for p in listed.get("CommonPrefixes", [])]
    keys = [o["Key"] for o in listed.get("Contents", [])]
    check("list with delimiter", prefixes == ["logs/"] and keys == ["big.bin", "hello.txt", "top"], (prefixes, keys))

    # Cross-account through a bucket policy.
    code = error_code(lambda: other.get_object(Bucket=bucket, Key="hello.txt"))
    check("other account denied without a policy", code == "AccessDenied", code)
    policy = {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::%s:root" % env["OTHER_ACCOUNT_ID"]},
        "Action": "s3:GetObject", "Resource": "arn:aws:s3:::%s/*" % bucket}]}
    s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps(policy))
    check("other account allowed by the bucket policy",
          other.get_object(Bucket=bucket, Key="hello.txt")["Body"].read() == b"hello boto3")

    # Multi-delete, quiet; then the bucket can go.
    keys = [{"Key": o["Key"]} for o in s3.list_objects_v2(Bucket=bucket)["Contents"]]
    res = s3.delete_objects(Bucket=bucket, Delete={"Objects": keys, "Quiet": True})
    check("quiet multi-delete reports no errors", not res.get("Errors") and not res.get("Deleted"), res)
    s3.delete_bucket(Bucket=bucket)
    code = error_code(lambda: s3.head_bucket(Bucket=bucket))
    check("deleted bucket is gone", code == "404", code)
    print("boto3 s3: ok")


if __name__ == "__main__":
    main()
