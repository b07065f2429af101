#!/usr/bin/env python3
"""boto3 against Porteiro's embedded cloud (`porteiro cloud serve`).

Run by crates/porteiro/tests/cloud_e2e.rs, in two phases around a restart of the server:

    boto3_flow.py setup  ENDPOINT STATE_FILE   # users, policies, keys, roles, AssumeRole
    boto3_flow.py verify ENDPOINT STATE_FILE   # after a restart: what setup made still works

Root credentials of the two accounts come from the environment: ROOT_ACCESS_KEY_ID,
ROOT_SECRET_ACCESS_KEY, ACCOUNT_ID, OTHER_ROOT_ACCESS_KEY_ID, OTHER_ROOT_SECRET_ACCESS_KEY,
OTHER_ACCOUNT_ID. Exits non-zero with a message on the first expectation that fails; prints
one line per check and `boto3 flow: ok` at the end.
"""

import json
import os
import sys

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

CONFIG = Config(retries={"max_attempts": 1, "mode": "standard"}, connect_timeout=5, read_timeout=30)


def client(service, endpoint, creds):
    return boto3.session.Session().client(
        service,
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id=creds["AccessKeyId"],
        aws_secret_access_key=creds["SecretAccessKey"],
        aws_session_token=creds.get("SessionToken"),
        config=CONFIG,
    )


def check(what, cond, detail=""):
    if not cond:
        sys.exit(f"FAILED: {what}: {detail}")
    print(f"ok: {what}")


def expect_error(what, code, fn, *args, **kwargs):
    try:
        fn(*args, **kwargs)
    except ClientError as e:
        got = e.response["Error"]["Code"]
        check(what, got == code, f"expected {code}, got {got}: {e.response['Error'].get('Message')}")
        return e.response["Error"].get("Message", "")
    sys.exit(f"FAILED: {what}: the call succeeded, {code} was expected")


def policy(*statements):
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def allow(actions, resource="*"):
    return {"Effect": "Allow", "Action": actions, "Resource": resource}


def trust(principal, condition=None):
    s = {"Effect": "Allow", "Principal": {"AWS": principal}, "Action": "sts:AssumeRole"}
    if condition:
        s["Condition"] = condition
    return policy(s)


def setup(endpoint, state_file):
    account = os.environ["ACCOUNT_ID"]
    other = os.environ["OTHER_ACCOUNT_ID"]
    root = {"AccessKeyId": os.environ["ROOT_ACCESS_KEY_ID"], "SecretAccessKey": os.environ["ROOT_SECRET_ACCESS_KEY"]}
    other_root = {
        "AccessKeyId": os.environ["OTHER_ROOT_ACCESS_KEY_ID"],
        "SecretAccessKey": os.environ["OTHER_ROOT_SECRET_ACCESS_KEY"],
    }
    iam = client("iam", endpoint, root)
    sts = client("sts", endpoint, root)

    me = sts.get_caller_identity()
    check("root identity", me["Arn"] == f"arn:aws:iam::{account}:root", me["Arn"])

    # A user with a managed policy and a key.
    iam.create_user(UserName="py-bob", Tags=[{"Key": "team", "Value": "blue"}])
    pol = iam.create_policy(PolicyName="py-list", PolicyDocument=policy(allow(["iam:ListUsers", "iam:GetUser"])))
    pol_arn = pol["Policy"]["Arn"]
    check("policy arn", pol_arn == f"arn:aws:iam::{account}:policy/py-list", pol_arn)
    iam.attach_user_policy(UserName="py-bob", PolicyArn=pol_arn)
    key = iam.create_access_key(UserName="py-bob")["AccessKey"]
    check("access key id", key["AccessKeyId"].startswith("AKIA"), key["AccessKeyId"])
    bob_iam = client("iam", endpoint, key)
    bob_sts = client("sts", endpoint, key)
    check("bob identity", bob_sts.get_caller_identity()["Arn"] == f"arn:aws:iam::{account}:user/py-bob")
    users = [u["UserName"] for u in bob_iam.list_users()["Users"]]
    check("bob lists users", "py-bob" in users, users)
    msg = expect_error("bob may not create users", "AccessDenied", bob_iam.create_user, UserName="py-carol")
    want = (
        f"User: arn:aws:iam::{account}:user/py-bob is not authorized to perform: iam:CreateUser on resource: "
        f"arn:aws:iam::{account}:user/py-carol because no identity-based policy allows the iam:CreateUser action"
    )
    check("denial message", msg == want, msg)
    expect_error("no such user", "NoSuchEntity", iam.get_user, UserName="py-nobody")
    expect_error(
        "malformed policy",
        "MalformedPolicyDocument",
        iam.create_policy,
        PolicyName="bad",
        PolicyDocument='{"Version":"2012-10-17","Statement":[{"Effect":"Maybe","Action":"*","Resource":"*"}]}',
    )

    # Same-account roles: trusted, untrusted, ExternalId.
    iam.create_role(RoleName="py-reader", AssumeRolePolicyDocument=trust(f"arn:aws:iam::{account}:user/py-bob"))
    iam.put_role_policy(RoleName="py-reader", PolicyName="p", PolicyDocument=policy(allow(["iam:ListRoles"])))
    iam.create_user(UserName="py-alice")
    iam.create_role(RoleName="py-closed", AssumeRolePolicyDocument=trust(f"arn:aws:iam::{account}:user/py-alice"))
    iam.create_role(
        RoleName="py-vendor",
        AssumeRolePolicyDocument=trust(
            f"arn:aws:iam::{account}:user/py-bob", {"StringEquals": {"sts:ExternalId": "py-ext-1"}}
        ),
    )
    out = bob_sts.assume_role(RoleArn=f"arn:aws:iam::{account}:role/py-reader", RoleSessionName="py-sess")
    check(
        "assumed role arn",
        out["AssumedRoleUser"]["Arn"] == f"arn:aws:sts::{account}:assumed-role/py-reader/py-sess",
        out["AssumedRoleUser"],
    )
    role_creds = out["Credentials"]
    role_sts = client("sts", endpoint, role_creds)
    check(
        "role session identity",
        role_sts.get_caller_identity()["Arn"] == f"arn:aws:sts::{account}:assumed-role/py-reader/py-sess",
    )
    role_iam = client("iam", endpoint, role_creds)
    role_iam.list_roles()
    check("role session lists roles", True)
    expect_error("role session may not list users", "AccessDenied", role_iam.list_users)
    expect_error(
        "untrusted role",
        "AccessDenied",
        bob_sts.assume_role,
        RoleArn=f"arn:aws:iam::{account}:role/py-closed",
        RoleSessionName="py-sess",
    )
    expect_error(
        "external id missing",
        "AccessDenied",
        bob_sts.assume_role,
        RoleArn=f"arn:aws:iam::{account}:role/py-vendor",
        RoleSessionName="py-sess",
    )
    bob_sts.assume_role(
        RoleArn=f"arn:aws:iam::{account}:role/py-vendor", RoleSessionName="py-sess", ExternalId="py-ext-1"
    )
    check("external id given", True)
    expect_error(
        "duration above MaxSessionDuration",
        "ValidationError",
        bob_sts.assume_role,
        RoleArn=f"arn:aws:iam::{account}:role/py-reader",
        RoleSessionName="py-sess",
        DurationSeconds=7200,
    )

    # Cross-account: the role in the other account trusts this account; the caller also
    # needs an identity policy allowing sts:AssumeRole.
    other_iam = client("iam", endpoint, other_root)
    other_iam.create_role(RoleName="py-cross", AssumeRolePolicyDocument=trust(f"arn:aws:iam::{account}:root"))
    cross_arn = f"arn:aws:iam::{other}:role/py-cross"
    expect_error(
        "cross-account without identity policy",
        "AccessDenied",
        bob_sts.assume_role,
        RoleArn=cross_arn,
        RoleSessionName="py-x",
    )
    iam.put_user_policy(UserName="py-bob", PolicyName="cross", PolicyDocument=policy(allow("sts:AssumeRole", cross_arn)))
    out = bob_sts.assume_role(RoleArn=cross_arn, RoleSessionName="py-x")
    check(
        "cross-account assumed role arn",
        out["AssumedRoleUser"]["Arn"] == f"arn:aws:sts::{other}:assumed-role/py-cross/py-x",
        out["AssumedRoleUser"],
    )

    with open(state_file, "w") as f:
        json.dump({"key": key, "role_creds": role_creds, "account": account}, f, default=str)
    print("boto3 flow: ok")


def verify(endpoint, state_file):
    with open(state_file) as f:
        state = json.load(f)
    account = state["account"]
    key = state["key"]
    bob_sts = client("sts", endpoint, key)
    check("bob's key after restart", bob_sts.get_caller_identity()["Arn"] == f"arn:aws:iam::{account}:user/py-bob")
    bob_iam = client("iam", endpoint, key)
    users = [u["UserName"] for u in bob_iam.list_users()["Users"]]
    check("bob's policy after restart", "py-bob" in users, users)
    expect_error("still no CreateUser", "AccessDenied", bob_iam.create_user, UserName="py-carol")
    role_sts = client("sts", endpoint, state["role_creds"])
    check(
        "role session after restart",
        role_sts.get_caller_identity()["Arn"] == f"arn:aws:sts::{account}:assumed-role/py-reader/py-sess",
    )
    print("boto3 flow: ok")


def main():
    if len(sys.argv) != 4 or sys.argv[1] not in ("setup", "verify"):
        sys.exit(__doc__)
    phase, endpoint, state_file = sys.argv[1:]
    (setup if phase == "setup" else verify)(endpoint, state_file)


if __name__ == "__main__":
    main()
