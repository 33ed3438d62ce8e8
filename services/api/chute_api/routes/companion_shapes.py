"""The request and answer bodies of the Companion-style routes (routes/companion.py),
in Companion's own names and cases (`uploadId`, `presignedUrls`, `PartNumber`), each
answer with chute's `job_id` beside them."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from chute_api.flows.direct import MAX_PARTS
from chute_core.jobs import JobState

__all__ = [
    "CompleteMultipart",
    "CompletedPart",
    "CreateMultipart",
    "MultipartAborted",
    "MultipartCompleted",
    "MultipartCreated",
    "SignedBatch",
    "SignedPart",
    "StoredPart",
    "UploadParameters",
]


class UploadParameters(BaseModel):
    method: Literal["POST"]
    url: str
    fields: dict[str, str]
    expires: int = Field(description="Seconds the form stays valid")
    headers: dict[str, str] = Field(default_factory=dict)
    job_id: str


class CreateMultipart(BaseModel):
    filename: str = Field(min_length=1, max_length=255)
    type: str = Field(default="", max_length=255)
    metadata: dict[str, Any] = Field(default_factory=dict, max_length=50)


class MultipartCreated(BaseModel):
    model_config = ConfigDict(serialize_by_alias=True)

    key: str
    upload_id: str = Field(serialization_alias="uploadId")
    job_id: str


class StoredPart(BaseModel):
    PartNumber: int
    Size: int
    ETag: str


class SignedPart(BaseModel):
    url: str
    expires: int
    job_id: str


class SignedBatch(BaseModel):
    model_config = ConfigDict(serialize_by_alias=True)

    presigned_urls: dict[str, str] = Field(serialization_alias="presignedUrls")
    job_id: str


class CompletedPart(BaseModel):
    PartNumber: int = Field(ge=1, le=MAX_PARTS)
    ETag: str = Field(min_length=1, max_length=200)


class CompleteMultipart(BaseModel):
    parts: list[CompletedPart] = Field(min_length=1, max_length=MAX_PARTS)


class MultipartCompleted(BaseModel):
    location: str
    key: str
    job_id: str
    state: JobState


class MultipartAborted(BaseModel):
    job_id: str
    state: JobState
