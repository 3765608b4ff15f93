"""Least privilege, proven: each service's AWS calls are read from the code
and compared with the IAM policy Terraform renders for its role (the
identity module's policies/<service>.json.tftpl, loaded with templatefile):
nothing missing, nothing extra.

How the calls are read: an SDK operation is a `client.<operation>()`
builder in the crate that wraps the SDK (libs/blob over aws-sdk-s3,
libs/keys over aws-sdk-kms). Each trait method of the crate's abstraction
(BlobStore, KeyProvider) reaches the operations its implementation calls,
directly or through the crate's own functions. A service makes the calls of
the trait methods its production code invokes, plus those of the adapters
the binary wires into its module (services/callvault/src/modules.rs),
when that code holds the trait at all."""

import json
import re

import pytest

from conftest import ROOT
from test_terraform import load_hcl
from rust_source import block_after, crate_source, functions, production_source, trait_methods

POLICIES = ROOT / "terraform" / "modules" / "identity" / "policies"
TARGETS = ["billing", "disclosure", "gateway", "ingestion", "metadata", "storage", "webhooks"]

# The SDK crates: (wrapper crate, its abstraction trait, IAM service prefix).
SDKS = {
    "aws_sdk_s3": ("libs/blob", "BlobStore", "s3"),
    "aws_sdk_kms": ("libs/keys", "KeyProvider", "kms"),
}

# The IAM actions an SDK operation needs. An operation the code calls that
# is missing here fails the test: this table is reviewed, never guessed.
IAM_ACTIONS = {
    "put_object": ["s3:PutObject"],
    "create_multipart_upload": ["s3:PutObject"],
    "upload_part": ["s3:PutObject"],
    "complete_multipart_upload": ["s3:PutObject"],
    "abort_multipart_upload": ["s3:AbortMultipartUpload"],
    "list_multipart_uploads": ["s3:ListBucketMultipartUploads"],
    # s3:ListBucket makes a missing key answer 404, not 403: the store
    # tells "not found" from "refused" by it.
    "head_object": ["s3:GetObject", "s3:ListBucket"],
    "get_object": ["s3:GetObject", "s3:ListBucket"],
    # Deleted by version id (shredding), never with a plain delete marker.
    "delete_object": ["s3:DeleteObjectVersion"],
    "list_object_versions": ["s3:ListBucketVersions"],
    "describe_key": ["kms:DescribeKey"],
    # CreateKey with tags needs kms:TagResource too.
    "create_key": ["kms:CreateKey", "kms:TagResource"],
    "create_alias": ["kms:CreateAlias"],
    "schedule_key_deletion": ["kms:ScheduleKeyDeletion"],
    "generate_data_key": ["kms:GenerateDataKey"],
    "decrypt": ["kms:Decrypt"],
    "re_encrypt": ["kms:ReEncryptFrom", "kms:ReEncryptTo"],
    "rotate_key_on_demand": ["kms:RotateKeyOnDemand"],
}

# Statements no SDK call of ours makes but S3 makes on our behalf: writing
# to and reading from a bucket encrypted with SSE-KMS under the platform key.
VIA_S3 = {"BucketEncryption": {"kms:GenerateDataKey", "kms:Decrypt"}}


def sdk_files(crate, sdk):
    return {path: text for path, text in crate_source(ROOT / crate).items() if sdk in text}


def operations_by_method(sdk):
    """{trait method: SDK operations it reaches} for one wrapper crate."""
    crate, trait, _ = SDKS[sdk]
    files = sdk_files(crate, sdk)
    assert files, f"no file of {crate} uses {sdk}"
    bodies = {}
    for text in files.values():
        for name, found in functions(text).items():
            bodies.setdefault(name, []).extend(found)

    def direct(body):
        flat = re.sub(r"\s+", "", body)
        return {op for op in re.findall(r"client(?:\(\))?\.([a-z_0-9]+)\(\)", flat) if op != "clone"}

    def reached(name, seen):
        if name in seen:
            return set()
        seen.add(name)
        ops = set()
        for body in bodies.get(name, []):
            ops |= direct(body)
            for callee in re.findall(r"\b(\w+)\s*\(", body):
                if callee in bodies and callee != name:
                    ops |= reached(callee, seen)
        return ops

    lib = production_source(ROOT / crate / "src" / "lib.rs")
    methods = trait_methods(lib, trait)
    return {method: reached(method, set()) for method in methods}


def target_sources(target):
    """The production code that runs as `target`: its crate, and the adapters
    modules.rs builds for it."""
    sources = list(crate_source(ROOT / "services" / target).values())
    modules = production_source(ROOT / "services" / "callvault" / "src" / "modules.rs")
    body = block_after(modules, rf"async fn {target}\(")
    adapters = production_source(ROOT / "services" / "callvault" / "src" / "adapters.rs")
    for adapter in re.findall(r"\b([A-Z]\w+)\(", body):
        definition = re.search(rf"\bstruct {adapter}\b[^;{{]*[;{{]", adapters)
        if definition:
            sources.append(definition.group(0))
            sources.append(block_after(adapters, rf"impl\s+[\w:]+\s+for\s+{adapter}\b"))
    return sources


def derived_actions(target):
    actions = set()
    sources = target_sources(target)
    for sdk, (_, trait, _) in SDKS.items():
        # Only code that holds the abstraction can call its methods: a
        # `.delete(` on an HTTP client is not a blob deletion.
        holders = [text for text in sources if re.search(rf"\b{trait}\b", text)]
        if not holders:
            continue
        for method, operations in operations_by_method(sdk).items():
            if any(re.search(rf"\.{method}\s*\(", text) for text in sources):
                for operation in operations:
                    assert operation in IAM_ACTIONS, f"{sdk}::{operation} has no IAM actions in IAM_ACTIONS"
                    actions |= set(IAM_ACTIONS[operation])
    return actions


def rendered_policy(service):
    """The policy templatefile renders, with placeholder values."""
    text = (POLICIES / f"{service}.json.tftpl").read_text()
    assert "%{" not in text, "directives would need Terraform to render"
    return json.loads(re.sub(r"\$\{(\w+)\}", lambda m: f"<{m.group(1)}>", text))


def policy_actions(service):
    actions = set()
    for statement in rendered_policy(service)["Statement"]:
        assert statement["Effect"] == "Allow"
        if statement["Sid"] in VIA_S3:
            continue
        listed = statement["Action"]
        actions |= set([listed] if isinstance(listed, str) else listed)
    return actions


def test_the_sdk_operations_are_found():
    # A parser that found nothing would make every comparison pass.
    s3 = operations_by_method("aws_sdk_s3")
    kms = operations_by_method("aws_sdk_kms")
    assert {"put_object", "create_multipart_upload", "upload_part"} <= s3["put"]
    assert s3["delete"] == {"list_object_versions", "delete_object"}
    assert {"describe_key", "create_key", "create_alias", "schedule_key_deletion"} == kms["create_tenant_key"]
    assert kms["rewrap"] == {"re_encrypt"}


@pytest.mark.parametrize("target", TARGETS)
def test_each_role_allows_exactly_the_calls_its_service_makes(target):
    needed = derived_actions(target)
    policy = POLICIES / f"{target}.json.tftpl"
    if not needed:
        assert not policy.exists(), f"{target} makes no AWS call, yet has a policy"
        return
    granted = policy_actions(target)
    assert not needed - granted, f"{target}: missing from its policy: {sorted(needed - granted)}"
    assert not granted - needed, f"{target}: granted but never called: {sorted(granted - needed)}"


def test_every_policy_belongs_to_a_target():
    for policy in POLICIES.glob("*.json.tftpl"):
        assert policy.name.removesuffix(".json.tftpl") in TARGETS, policy


def test_s3_encryption_is_granted_only_through_s3():
    for policy in POLICIES.glob("*.json.tftpl"):
        for statement in rendered_policy(policy.name.removesuffix(".json.tftpl"))["Statement"]:
            if statement["Sid"] in VIA_S3:
                assert set(statement["Action"]) == VIA_S3[statement["Sid"]]
                assert statement["Resource"] == "<platform_key_arn>"
                assert statement["Condition"]["StringEquals"]["kms:ViaService"] == "s3.<region>.amazonaws.com"


def test_wildcard_resources_are_held_by_conditions():
    for policy in POLICIES.glob("*.json.tftpl"):
        for statement in rendered_policy(policy.name.removesuffix(".json.tftpl"))["Statement"]:
            resource = statement["Resource"]
            if resource == "*" or resource.endswith(":key/*") or resource == "<key_arn_prefix>*":
                assert statement.get("Condition"), f"{policy.name} {statement['Sid']}: unconditioned {resource}"


def test_the_identity_module_loads_every_policy_file():
    main = load_hcl(ROOT / "terraform" / "modules" / "identity" / "main.tf")
    policies = main["locals"][0]["policies"]
    # Every file of policies/ becomes the policy of the role named after it.
    assert 'fileset(\"${path.module}/policies\", \"*.json.tftpl\")' in policies, policies
    assert "templatefile(" in policies
    resources = {name: body for block in main["resource"] for name, body in block.items()}
    assert resources["aws_iam_role"]["service"]["for_each"] == "${local.policies}"
    attached = resources["aws_iam_role_policy"]["service"]
    assert attached["for_each"] == "${local.policies}" and attached["policy"] == "${each.value}"


def statements(service):
    return rendered_policy(service)["Statement"]


def data_key_purposes(target):
    """The `purpose` of every encryption context the target's code builds
    (`EncryptionContext::for_…` in libs/keys)."""
    keys = (ROOT / "libs" / "keys" / "src" / "lib.rs").read_text()
    purposes = set()
    for source in target_sources(target):
        for constructor in re.findall(r"\bEncryptionContext::(for_\w+)\s*\(", source):
            body = block_after(keys, rf"pub fn {constructor}\(")
            found = re.search(r'"purpose"\.to_owned\(\),\s*"([^"]+)"', body)
            assert found, f"EncryptionContext::{constructor} names no purpose"
            purposes.add(found.group(1))
    return purposes


@pytest.mark.parametrize("target", ["metadata", "disclosure"])
def test_tenant_data_keys_are_limited_to_the_purposes_the_code_uses(target):
    # A role that unwraps tenants' data keys for a purpose of its own may
    # unwrap no other's (a recording's, the catalogue's, a bundle's).
    needed = data_key_purposes(target)
    assert needed, f"{target} builds no encryption context"
    granting = [
        s
        for s in statements(target)
        if s["Resource"] == "<key_arn_prefix>*" and {"kms:Decrypt", "kms:GenerateDataKey"} & set(s["Action"])
    ]
    assert granting, f"{target} is granted no data key"
    for statement in granting:
        allowed = statement["Condition"]["StringEquals"]["kms:EncryptionContext:purpose"]
        allowed = {allowed} if isinstance(allowed, str) else set(allowed)
        assert allowed == needed, f"{target} {statement['Sid']}: allows {sorted(allowed)}, the code uses {sorted(needed)}"
        # Tenant keys only, as everywhere else.
        assert statement["Condition"]["ForAnyValue:StringLike"]["kms:ResourceAliases"] == "<tenant_alias_prefix>*"


def test_disclosure_purposes_are_found():
    assert data_key_purposes("disclosure") == {"disclosure-request", "disclosure-bundle"}


def object_key_prefixes(target):
    """The first segment of every object key the target's code makes
    (`ObjectKey::parse(&format!("prefix/…"))`)."""
    raw = "".join(path.read_text() for path in sorted((ROOT / "services" / target / "src").rglob("*.rs")))
    return set(re.findall(r'ObjectKey::parse\(\s*&format!\(\s*"([^"/{]+)/', raw))


def test_disclosure_reaches_only_its_prefix_of_the_bucket():
    prefixes = object_key_prefixes("disclosure")
    assert prefixes == {"disclosure"}, prefixes
    s3 = [s for s in statements("disclosure") if any(a.startswith("s3:") for a in s["Action"])]
    assert s3
    for statement in s3:
        if statement["Resource"] == "<bucket_arn>":
            # Listing (versions, and 404 for a missing key) under the prefix only.
            assert statement["Condition"] == {"StringLike": {"s3:prefix": "disclosure/*"}}, statement["Sid"]
        else:
            assert statement["Resource"] == "<bucket_arn>/disclosure/*", statement["Sid"]


def test_billing_calls_no_aws_and_gets_no_role():
    # Its database and the bus only: no BlobStore, no KeyProvider, so no
    # S3 or KMS action, no policy file and (the identity module makes one
    # role per policy file) no IRSA role.
    assert (ROOT / "services" / "billing" / "src").is_dir(), "the billing crate was not found"
    sources = target_sources("billing")
    assert not [text for text in sources if re.search(r"\b(BlobStore|KeyProvider)\b", text)]
    assert derived_actions("billing") == set()
    assert data_key_purposes("billing") == set()
    assert object_key_prefixes("billing") == set()
    assert not (POLICIES / "billing.json.tftpl").exists()


def test_webhooks_calls_no_aws_and_gets_no_role():
    # Its database, the bus and HTTP(S) to tenants' endpoints: no
    # BlobStore, no KeyProvider (its secrets are sealed under a key derived
    # from secrets.pii), so no policy file and no IRSA role.
    assert (ROOT / "services" / "webhooks" / "src").is_dir(), "the webhooks crate was not found"
    sources = target_sources("webhooks")
    assert not [text for text in sources if re.search(r"\b(BlobStore|KeyProvider)\b", text)]
    assert derived_actions("webhooks") == set()
    assert data_key_purposes("webhooks") == set()
    assert object_key_prefixes("webhooks") == set()
    assert not (POLICIES / "webhooks.json.tftpl").exists()
