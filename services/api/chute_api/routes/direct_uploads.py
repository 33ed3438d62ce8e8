"""Direct-to-S3 uploads (flows/direct.py): presign a job's upload, complete a
presigned multipart upload."""

from __future__ import annotations

import hashlib
from typing import Any, Literal

from fastapi import APIRouter, Depends, Path, Request, Response
from pydantic import BaseModel, Field

from chute_api.deps import (
    DirectUploadsDep,
    IdempotencyDep,
    RulesDep,
    UploadTenantDep,
    aws_available,
)
from chute_api.flows.direct import MAX_PARTS, Plan
from chute_api.idempotency import Answer, IdempotencyKey, fingerprint
from chute_api.problems import PROBLEM_RESPONSES
from chute_api.routes.jobs import status_url
from chute_api.upload_rules import parse_processor_list
from chute_core.jobs import Job, JobState

__all__ = ["router"]

router = APIRouter(prefix="/v1/uploads", tags=["uploads"], dependencies=[Depends(aws_available)])


class PresignRequest(BaseModel):
    filename: str = Field(min_length=1, max_length=255)
    content_type: str = Field(max_length=255, pattern=r"^[\w.+-]+/[\w.+-]+$")
    size: int = Field(ge=1, description="Exact size in bytes; S3 refuses any other")
    sha256: str | None = Field(default=None, pattern=r"^[0-9a-f]{64}$")
    processors: list[str] | None = Field(default=None, min_length=1, max_length=20)
    callback_url: str | None = Field(default=None, max_length=2000)


class PresignedPost(BaseModel):
    url: str
    fields: dict[str, str]


class PresignedPart(BaseModel):
    part_number: int
    url: str


class PresignedUpload(BaseModel):
    job_id: str
    state: JobState
    status_url: str
    expires_at: str
    method: Literal["POST", "PUT"]
    post: PresignedPost | None = None
    part_size: int | None = None
    parts: list[PresignedPart] | None = None
    complete_url: str | None = None


class CompletedPart(BaseModel):
    part_number: int = Field(ge=1, le=MAX_PARTS)
    etag: str = Field(min_length=1, max_length=200)


class CompleteRequest(BaseModel):
    parts: list[CompletedPart] = Field(min_length=1, max_length=MAX_PARTS)


@router.post(
    "/presign",
    status_code=201,
    response_model=PresignedUpload,
    response_model_exclude_none=True,
    summary="Create a job and presigned requests to upload its file straight to S3",
    responses={k: PROBLEM_RESPONSES[k] for k in (400, 401, 403, 409, 413, 415, 429, 503)},
)
async def presign(
    body: PresignRequest,
    request: Request,
    response: Response,
    direct: DirectUploadsDep,
    rules: RulesDep,
    idempotency: IdempotencyDep,
    tenant: UploadTenantDep,
    idempotency_key: IdempotencyKey = None,
) -> dict[str, Any]:
    async def create() -> Answer:
        # Named as in ?processors= of a streamed upload, and read the same way.
        chosen = parse_processor_list(",".join(body.processors)) if body.processors else None
        limits = await rules.for_upload(tenant, processors=chosen, callback_url=body.callback_url)
        plan = Plan(
            tenant=tenant,
            filename=body.filename,
            content_type=body.content_type,
            size=body.size,
            sha256=body.sha256,
            rules=limits,
        )
        made = await direct.presign(plan)
        job_id = made.job.job_id
        answer = PresignedUpload(
            job_id=job_id,
            state=made.job.state,
            status_url=status_url(request, job_id),
            expires_at=made.deadline,
            method="POST" if made.post is not None else "PUT",
            post=PresignedPost(url=made.post[0], fields=made.post[1]) if made.post else None,
        )
        if made.part_urls is not None:
            answer.part_size = made.part_size
            answer.parts = [
                PresignedPart(part_number=n, url=u) for n, u in enumerate(made.part_urls, 1)
            ]
            answer.complete_url = str(request.url_for("complete_upload", job_id=job_id))
        document = answer.model_dump(mode="json", exclude_none=True)
        return Answer(201, document, {"Location": answer.status_url})

    digest = hashlib.sha256(body.model_dump_json().encode()).hexdigest()
    identity = fingerprint(request, content_type="application/json", query={"body": digest})
    return await idempotency.answer(response, tenant, idempotency_key, identity, create)


@router.post(
    "/{job_id}/complete",
    status_code=202,
    response_model=Job,
    response_model_exclude_none=True,
    summary="Finish a presigned multipart upload with its parts' ETags",
    responses={k: PROBLEM_RESPONSES[k] for k in (400, 401, 403, 404, 409, 429, 503)},
    name="complete_upload",
)
async def complete(
    body: CompleteRequest,
    direct: DirectUploadsDep,
    tenant: UploadTenantDep,
    job_id: str = Path(max_length=64),
) -> Job:
    parts = [(p.part_number, p.etag) for p in body.parts]
    return await direct.complete(job_id, tenant=tenant, parts=parts)
