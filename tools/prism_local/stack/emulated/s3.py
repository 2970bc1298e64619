"""AWS::S3::Bucket with the bucket settings moto implements (encryption, access block, lifecycle, ...)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final

from botocore.exceptions import ClientError

from prism_local.stack.emulated.context import error_code, is_true, tag_list
from prism_local.template.model import PhysicalResource, TemplateError
from prism_local.template.reader import partition_of

if TYPE_CHECKING:
    from collections.abc import Mapping

    from prism_local.stack.emulated.context import MotoContext


_BUCKET_PROPERTIES: Final = frozenset(
    {"BucketName", "BucketEncryption", "PublicAccessBlockConfiguration", "OwnershipControls",
     "LifecycleConfiguration", "VersioningConfiguration", "Tags"}
)  # fmt: skip
_LIFECYCLE_RULE_KEYS: Final = frozenset(
    {"Id", "Status", "Prefix", "ExpirationInDays", "ExpirationDate", "ExpiredObjectDeleteMarker",
     "NoncurrentVersionExpirationInDays", "NoncurrentVersionExpiration", "AbortIncompleteMultipartUpload",
     "Transitions", "NoncurrentVersionTransitions"}
)  # fmt: skip


def _lifecycle_rule(rule: Mapping[str, Any], path: str) -> dict[str, Any]:
    """CloudFormation's flat lifecycle rule in the nested shape PutBucketLifecycleConfiguration takes."""
    unknown = sorted(set(rule) - _LIFECYCLE_RULE_KEYS)
    if unknown:
        raise TemplateError(f"{path}: {', '.join(unknown)} in a lifecycle rule are not emulated locally")
    converted: dict[str, Any] = {"Status": rule["Status"], "Filter": {"Prefix": rule.get("Prefix", "")}}
    if "Id" in rule:
        converted["ID"] = rule["Id"]
    expiration: dict[str, Any] = {}
    if "ExpirationInDays" in rule:
        expiration["Days"] = int(rule["ExpirationInDays"])
    if "ExpirationDate" in rule:
        expiration["Date"] = rule["ExpirationDate"]
    if "ExpiredObjectDeleteMarker" in rule:
        expiration["ExpiredObjectDeleteMarker"] = is_true(rule["ExpiredObjectDeleteMarker"])
    if expiration:
        converted["Expiration"] = expiration
    if "NoncurrentVersionExpirationInDays" in rule:
        converted["NoncurrentVersionExpiration"] = {"NoncurrentDays": int(rule["NoncurrentVersionExpirationInDays"])}
    if "NoncurrentVersionExpiration" in rule:
        converted["NoncurrentVersionExpiration"] = rule["NoncurrentVersionExpiration"]
    if "AbortIncompleteMultipartUpload" in rule:
        converted["AbortIncompleteMultipartUpload"] = rule["AbortIncompleteMultipartUpload"]
    if "Transitions" in rule:
        converted["Transitions"] = [
            {"Days": int(t["TransitionInDays"]), "StorageClass": t["StorageClass"]} for t in rule["Transitions"]
        ]
    if "NoncurrentVersionTransitions" in rule:
        converted["NoncurrentVersionTransitions"] = [
            {"NoncurrentDays": int(t["TransitionInDays"]), "StorageClass": t["StorageClass"]}
            for t in rule["NoncurrentVersionTransitions"]
        ]
    return converted


def create_bucket(ctx: MotoContext, logical_id: str) -> PhysicalResource:
    """Create the bucket and apply its settings (objects stay); Ref is the name, GetAtt Arn and domain names."""
    props = ctx.properties(logical_id)
    ctx.note_ignored(logical_id, props, _BUCKET_PROPERTIES)
    name = ctx.name(logical_id, props.get("BucketName"), max_length=63, lower=True)
    try:
        ctx.s3.head_bucket(Bucket=name)
    except ClientError as exc:
        if error_code(exc) not in ("404", "NoSuchBucket", "NotFound"):
            raise
        if ctx.stack.region == "us-east-1":
            ctx.s3.create_bucket(Bucket=name)
        else:
            location: Any = {"LocationConstraint": ctx.stack.region}
            ctx.s3.create_bucket(Bucket=name, CreateBucketConfiguration=location)
        ctx.progress(f"  {logical_id}: created bucket {name}")
    if "BucketEncryption" in props:
        encryption_rules: Any = [
            {("ApplyServerSideEncryptionByDefault" if k == "ServerSideEncryptionByDefault" else k): v
             for k, v in rule.items()}
            for rule in props["BucketEncryption"]["ServerSideEncryptionConfiguration"]
        ]  # fmt: skip
        ctx.s3.put_bucket_encryption(Bucket=name, ServerSideEncryptionConfiguration={"Rules": encryption_rules})
    if "PublicAccessBlockConfiguration" in props:
        block: Any = {k: is_true(v) for k, v in props["PublicAccessBlockConfiguration"].items()}
        ctx.s3.put_public_access_block(Bucket=name, PublicAccessBlockConfiguration=block)
    if "OwnershipControls" in props:
        ctx.s3.put_bucket_ownership_controls(Bucket=name, OwnershipControls=props["OwnershipControls"])
    if "VersioningConfiguration" in props:
        status = props["VersioningConfiguration"]["Status"]
        ctx.s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": status})
    if "LifecycleConfiguration" in props:
        path = f"Resources.{logical_id}.Properties.LifecycleConfiguration.Rules"
        lifecycle_rules: Any = [
            _lifecycle_rule(r, f"{path}[{i}]") for i, r in enumerate(props["LifecycleConfiguration"]["Rules"])
        ]
        ctx.s3.put_bucket_lifecycle_configuration(Bucket=name, LifecycleConfiguration={"Rules": lifecycle_rules})
    if props.get("Tags"):
        tag_set: Any = tag_list(props["Tags"])
        ctx.s3.put_bucket_tagging(Bucket=name, Tagging={"TagSet": tag_set})
    region, suffix = ctx.stack.region, partition_of(ctx.stack.region)[1]
    return PhysicalResource(
        logical_id,
        "AWS::S3::Bucket",
        name,
        {
            "Arn": f"arn:{ctx.partition}:s3:::{name}",
            "DomainName": f"{name}.s3.{suffix}",
            "RegionalDomainName": f"{name}.s3.{region}.{suffix}",
            "DualStackDomainName": f"{name}.s3.dualstack.{region}.{suffix}",
            "WebsiteURL": f"http://{name}.s3-website-{region}.{suffix}",
        },
    )
