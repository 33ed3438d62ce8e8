"""What a tenant may upload: the limits every upload flow applies the same way (the
API-wide settings narrowed by the tenant's policy), checked before any AWS request."""

from __future__ import annotations

from dataclasses import dataclass

from chute_api.errors import UnknownProcessor, UnsupportedUploadType, UploadTooLarge
from chute_api.settings import ApiSettings
from chute_api.tenants import TenantBook
from chute_core.content_types import SNIFF_BYTES, detect_type, matches, refine_type
from chute_core.errors import UnsafeCallback
from chute_core.settings import WebhookSettings
from chute_core.webhooks import check_callback_url, resolve_safely

__all__ = ["TenantRules", "UploadRules", "parse_processor_list"]


def parse_processor_list(value: str | None) -> list[str] | None:
    """`?processors=a,b` as a list (None when absent); empty names are refused."""
    if value is None:
        return None
    names = [name.strip() for name in value.split(",")]
    if not all(names):
        raise UnknownProcessor("processors must be a comma-separated list of names")
    return names


@dataclass(frozen=True)
class UploadRules:
    """One upload's limits, with the caller's processor choice and callback checked."""

    max_bytes: int
    content_types: list[str] | None  # patterns the content type must match; None: any
    processors: list[str] | None  # the upload's explicit choice; None: route by type
    callback_url: str | None

    def check_size(self, size: int | None, *, what: str = "size") -> None:
        if size is not None and size > self.max_bytes:
            raise UploadTooLarge(f"{what} {size} exceeds the limit of {self.max_bytes} bytes")

    def check_type(self, content_type: str, *, detected: bool) -> None:
        if self.content_types is None or matches(content_type, self.content_types):
            return
        if detected:
            allowed = ", ".join(self.content_types)
            raise UnsupportedUploadType(
                f"the content is {content_type}; this tenant may upload {allowed}"
            )
        raise UnsupportedUploadType(f"{content_type} is not allowed for this tenant")

    def check_content(self, head: bytes, *, declared: str | None, filename: str | None) -> None:
        """415 unless the type the file's first bytes show is one the tenant may upload."""
        if self.content_types is None:
            return
        detected = refine_type(detect_type(head[:SNIFF_BYTES]), declared, filename)
        self.check_type(detected, detected=True)


@dataclass(frozen=True)
class TenantRules:
    api: ApiSettings
    tenants: TenantBook
    webhooks: WebhookSettings

    async def for_upload(
        self, tenant: str, *, processors: list[str] | None, callback_url: str | None
    ) -> UploadRules:
        """The tenant's rules for one upload; 400 for an unknown processor or an unsafe
        callback URL."""
        policy = self.tenants.policy(tenant)
        allowed = policy.processors or self.api.upload_processors
        if processors is not None:
            unknown = [name for name in processors if name not in allowed]
            if unknown:
                raise UnknownProcessor(
                    f"unknown processor {unknown[0]!r}; available: {', '.join(allowed)}"
                )
            if len(set(processors)) != len(processors):
                raise UnknownProcessor("a processor is named twice")
        if callback_url is not None:
            await self._check_callback(callback_url)
        return UploadRules(
            max_bytes=min(self.api.max_upload_bytes, policy.max_upload_bytes or 2**63),
            content_types=policy.content_types,
            processors=processors,
            callback_url=callback_url,
        )

    async def _check_callback(self, url: str) -> None:
        if self.webhooks.webhook_secret is None:
            raise UnsafeCallback("webhooks are not configured on this API (CHUTE_WEBHOOK_SECRET)")
        host, port = check_callback_url(url, allow_http=self.webhooks.webhook_allow_http)
        # Checked again at each delivery: DNS may change in between.
        await resolve_safely(host, port, allow_private=self.webhooks.webhook_allow_private)
