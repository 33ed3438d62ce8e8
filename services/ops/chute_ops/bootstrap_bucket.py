"""The bucket's part of `chute bootstrap`: the bucket itself, its default encryption,
public access block, the lifecycle rules that abort stale multipart uploads and expire
stale tus tails, and the CORS rule that lets the browsers of CHUTE_CORS_ORIGINS upload
straight to it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from chute_core.aws import error_code
from chute_core.settings import PipelineSettings

__all__ = [
    "CORS_RULE_ID",
    "LIFECYCLE_RULE_ID",
    "TAILS_RULE_ID",
    "BucketSteps",
    "Change",
    "cors_rule",
]

LIFECYCLE_RULE_ID = "chute-abort-incomplete-multipart"
TAILS_RULE_ID = "chute-expire-tus-tails"
CORS_RULE_ID = "chute-browser-uploads"


def cors_rule(origins: list[str]) -> dict[str, Any]:
    """What a browser needs for presigned uploads: POST (one form) and PUT (parts), the
    headers those send, and the ETag (a part's, for completing) and Location (the
    object's, after a POST) its scripts must read."""
    return {
        "ID": CORS_RULE_ID,
        "AllowedOrigins": sorted(origins),
        "AllowedMethods": ["POST", "PUT"],
        "AllowedHeaders": ["content-type", "content-md5"],
        "ExposeHeaders": ["ETag", "Location"],
        "MaxAgeSeconds": 3000,
    }


@dataclass(frozen=True)
class Change:
    resource: str
    action: str  # "created" | "updated"

    def __str__(self) -> str:
        return f"{self.action} {self.resource}"


class BucketSteps:
    """Reconciles the bucket and records what it changed; the bootstrap's reconciler
    (a subclass) sets the settings and the client."""

    p: PipelineSettings
    region: str
    s3: Any
    changes: list[Change]

    def note(self, resource: str, action: str) -> None:
        self.changes.append(Change(resource, action))

    # -- S3 ---------------------------------------------------------------------------
    def bucket(self) -> None:
        name = self.p.bucket
        try:
            self.s3.head_bucket(Bucket=name)
        except ClientError as exc:
            if error_code(exc) not in ("404", "NoSuchBucket", "NotFound"):
                raise
            extra = (
                {}
                if self.region == "us-east-1"
                else {"CreateBucketConfiguration": {"LocationConstraint": self.region}}
            )
            self.s3.create_bucket(Bucket=name, **extra)
            self.note(f"bucket {name}", "created")
        self._encryption()
        self._public_access_block()
        self._lifecycle()
        self._cors()

    def _encryption(self) -> None:
        name = self.p.bucket
        try:
            rules = self.s3.get_bucket_encryption(Bucket=name)["ServerSideEncryptionConfiguration"][
                "Rules"
            ]
        except ClientError as exc:
            if error_code(exc) != "ServerSideEncryptionConfigurationNotFoundError":
                raise
            rules = []
        algorithms = [
            r.get("ApplyServerSideEncryptionByDefault", {}).get("SSEAlgorithm") for r in rules
        ]
        if not any(a in ("AES256", "aws:kms", "aws:kms:dsse") for a in algorithms):
            self.s3.put_bucket_encryption(
                Bucket=name,
                ServerSideEncryptionConfiguration={
                    "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]
                },
            )
            self.note(f"bucket {name} default encryption", "updated")

    def _public_access_block(self) -> None:
        name = self.p.bucket
        desired = {
            "BlockPublicAcls": True,
            "IgnorePublicAcls": True,
            "BlockPublicPolicy": True,
            "RestrictPublicBuckets": True,
        }
        try:
            current = self.s3.get_public_access_block(Bucket=name)["PublicAccessBlockConfiguration"]
        except ClientError as exc:
            if error_code(exc) != "NoSuchPublicAccessBlockConfiguration":
                raise
            current = {}
        if {k: bool(current.get(k)) for k in desired} != desired:
            self.s3.put_public_access_block(Bucket=name, PublicAccessBlockConfiguration=desired)
            self.note(f"bucket {name} public access block", "updated")

    def _lifecycle(self) -> None:
        """Own two rules by their IDs (others are left as they are): abort multipart
        uploads a day after they start, and expire tus tails a day after they were
        written (a replica killed mid-PATCH may leave one no record names)."""
        name = self.p.bucket
        ours = [
            {
                "ID": LIFECYCLE_RULE_ID,
                "Filter": {"Prefix": ""},
                "Status": "Enabled",
                "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 1},
            },
            {
                "ID": TAILS_RULE_ID,
                "Filter": {"Prefix": self.p.partial_prefix},
                "Status": "Enabled",
                "Expiration": {"Days": 2},
            },
        ]
        try:
            rules = self.s3.get_bucket_lifecycle_configuration(Bucket=name)["Rules"]
        except ClientError as exc:
            if error_code(exc) != "NoSuchLifecycleConfiguration":
                raise
            rules = []
        owned = {str(rule["ID"]) for rule in ours}
        current = {r["ID"]: r for r in rules if r.get("ID") in owned}
        if all(_same_rule(current.get(str(rule["ID"])), rule) for rule in ours):
            return
        others = [r for r in rules if r.get("ID") not in owned]
        self.s3.put_bucket_lifecycle_configuration(
            Bucket=name,
            LifecycleConfiguration={"Rules": [*others, *ours]},
        )
        self.note(f"bucket {name} lifecycle rules {', '.join(sorted(owned))}", "updated")

    def _cors(self) -> None:
        """Own one rule by its ID; other rules on the bucket are left as they are."""
        name = self.p.bucket
        try:
            rules = self.s3.get_bucket_cors(Bucket=name)["CORSRules"]
        except ClientError as exc:
            if error_code(exc) != "NoSuchCORSConfiguration":
                raise
            rules = []
        others = [r for r in rules if r.get("ID") != CORS_RULE_ID]
        desired = [*others, cors_rule(self.p.cors_origins)] if self.p.cors_origins else others
        if _normal_rules(rules) == _normal_rules(desired):
            return
        if desired:
            self.s3.put_bucket_cors(Bucket=name, CORSConfiguration={"CORSRules": desired})
        else:
            self.s3.delete_bucket_cors(Bucket=name)
        self.note(f"bucket {name} CORS rule {CORS_RULE_ID}", "updated")


def _normal_rules(rules: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """CORS rules compared as S3 keeps them: list order and header case do not matter."""
    lists = ("AllowedOrigins", "AllowedMethods", "AllowedHeaders", "ExposeHeaders")
    normal = []
    for rule in rules:
        same = {k: sorted(str(v).lower() for v in rule.get(k, [])) for k in lists}
        normal.append({**rule, **same})
    return sorted(normal, key=lambda r: str(r.get("ID", "")))


def _same_rule(current: Mapping[str, Any] | None, desired: Mapping[str, Any]) -> bool:
    """Whether the bucket's rule does what ours does (S3 adds fields of its own)."""
    if current is None:
        return False
    return all(current.get(k) == v for k, v in desired.items() if k != "Filter") and (
        current.get("Filter", {}).get("Prefix", "") == desired["Filter"]["Prefix"]
    )
