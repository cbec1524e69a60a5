"""Response shapes the OpenAPI document publishes (the routes render domain objects' dicts)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class ProblemError(BaseModel):
    """One offending property of a request (an RFC 9457 ``errors`` extension entry)."""

    model_config = ConfigDict(extra="allow")

    property: str = Field(description="The offending property, dotted (e.g. 'credential').")
    detail: str = Field(description="What is wrong with it.")
    pointer: str | None = Field(
        default=None, description="JSON Pointer into the request body (body errors only)."
    )
    in_: str | None = Field(
        default=None,
        alias="in",
        description="Where the property is: body, query, path, header or cookie.",
    )


class Problem(BaseModel):
    """RFC 9457 problem details (``application/problem+json``)."""

    model_config = ConfigDict(extra="allow")

    type: str = Field(description="A URI naming the problem type ('about:blank' for plain HTTP).")
    title: str = Field(description="A short summary of the problem type.")
    status: int = Field(ge=400, le=599, description="The HTTP status code.")
    detail: str = Field(description="What went wrong with this request, for a person.")
    instance: str = Field(description="The request path, or an occurrence id for a 500.")
    errors: list[ProblemError] | None = Field(
        default=None, description="Each offending property (validation errors)."
    )


class CheckOut(BaseModel):
    id: str = Field(description="Stable check id: parse, format, context, schema, proof...")
    outcome: Literal["pass", "fail", "warning", "skipped"]
    title: str
    message: str
    details: dict[str, Any]


class VerificationReportOut(BaseModel):
    """The verification report; ``verified`` is the verdict (a failed check is still a 200)."""

    verified: bool
    summary: str
    format: str = Field(description="ob-3.0, clr-2.0, vc or unknown.")
    data_model: str | None = Field(description="The W3C VC Data Model version: 2.0 or 1.1.")
    envelope: str | None = Field(description="embedded (Data Integrity), jwt (VC-JWT) or null.")
    issuer: str | None
    checked_at: str | None
    checks: list[CheckOut]


class Health(BaseModel):
    status: Literal["ok"]


class VersionOut(BaseModel):
    name: Literal["merito"]
    version: str
    api: str


class ContextsOut(BaseModel):
    contexts: list[str] = Field(description="JSON-LD context URLs Merito resolves offline.")
