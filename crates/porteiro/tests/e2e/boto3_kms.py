"""KMS through boto3 against `porteiro cloud serve` (run by tests/kms_e2e.rs).

Usage: boto3_kms.py ENDPOINT. Credentials and region come from the environment.
Prints "boto3 kms: ok" when every step behaved as AWS does.
"""
import sys

import boto3
from botocore.exceptions import ClientError

endpoint = sys.argv[1]
kms = boto3.client("kms", endpoint_url=endpoint)


def expect_error(code, fn, **kwargs):
    try:
        fn(**kwargs)
    except ClientError as e:
        got = e.response["Error"]["Code"]
        assert got == code, f"expected {code}, got {got}: {e}"
        return e.response["Error"].get("Message", "")
    raise AssertionError(f"expected {code}, the call succeeded")


key = kms.create_key(Description="boto3 key")["KeyMetadata"]
assert key["KeyState"] == "Enabled", key
assert key["Arn"].endswith(":key/" + key["KeyId"]), key
kms.create_alias(AliasName="alias/boto3", TargetKeyId=key["KeyId"])

ctx = {"purpose": "boto3", "tenant": "t1"}
enc = kms.encrypt(KeyId="alias/boto3", Plaintext=b"\x00\x01binary\xff", EncryptionContext=ctx)
assert enc["KeyId"] == key["Arn"], enc
blob = enc["CiphertextBlob"]
assert isinstance(blob, bytes)
dec = kms.decrypt(CiphertextBlob=blob, EncryptionContext=ctx)
assert dec["Plaintext"] == b"\x00\x01binary\xff", dec
assert dec["KeyId"] == key["Arn"], dec
expect_error("InvalidCiphertextException", kms.decrypt, CiphertextBlob=blob,
             EncryptionContext={"purpose": "other"})

dk = kms.generate_data_key(KeyId=key["Arn"], KeySpec="AES_256",
                           EncryptionContext={"aws:s3:arn": "arn:aws:s3:::b/k"})
assert len(dk["Plaintext"]) == 32
again = kms.decrypt(CiphertextBlob=dk["CiphertextBlob"],
                    EncryptionContext={"aws:s3:arn": "arn:aws:s3:::b/k"})
assert again["Plaintext"] == dk["Plaintext"]

kms.disable_key(KeyId=key["KeyId"])
expect_error("DisabledException", kms.encrypt, KeyId=key["KeyId"], Plaintext=b"x")
kms.enable_key(KeyId=key["KeyId"])
sched = kms.schedule_key_deletion(KeyId=key["KeyId"], PendingWindowInDays=7)
assert sched["KeyState"] == "PendingDeletion", sched
expect_error("KMSInvalidStateException", kms.encrypt, KeyId=key["KeyId"], Plaintext=b"x")
kms.cancel_key_deletion(KeyId=key["KeyId"])
assert kms.describe_key(KeyId="alias/boto3")["KeyMetadata"]["KeyState"] == "Disabled"
expect_error("NotFoundException", kms.describe_key, KeyId="alias/missing")

print("boto3 kms: ok")
