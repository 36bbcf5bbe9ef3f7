"""Query parameters of the list endpoints: filters, sort, limit and cursor (docs/api.md). Validated here so a bad
value is a 422 naming its parameter; the database checks them again for psql callers."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal
from uuid import UUID

import phonenumbers
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator, model_validator

from api.schemas.leads import DEFAULT_PHONE_REGION, SourceType

Cursor = Annotated[str, StringConstraints(min_length=1, max_length=500, pattern=r"^[A-Za-z0-9_-]+$")]
Code = Annotated[str, StringConstraints(min_length=1, max_length=60, pattern=r"^[A-Za-z][A-Za-z0-9_]*$")]
STATUSES = ("new", "contacted", "qualified", "viewing_scheduled", "negotiation", "converted", "lost")


def _aware(value: dt.datetime | None) -> dt.datetime | None:
    if value is not None and value.tzinfo is None:
        raise ValueError("give a time zone offset (e.g. +04:00 or Z)")
    return value


class PageQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    limit: int = Field(default=50, ge=1, le=200, description="Items per page (at most 200).")
    cursor: Cursor | None = Field(default=None, description="The `next` of the previous page.")


class LeadQuery(PageQuery):
    status: Annotated[str, StringConstraints(max_length=200)] | None = Field(
        default=None, description="One status or several, comma-separated.", examples=["new,contacted"])
    active: bool | None = Field(default=None, description="true: not converted or lost; false: closed.")
    source: SourceType | None = None
    agent_id: UUID | None = None
    score_min: int | None = Field(default=None, ge=0, le=100)
    score_max: int | None = Field(default=None, ge=0, le=100)
    created_from: dt.datetime | None = None
    created_to: dt.datetime | None = None
    language: Code | None = None
    property_type: Literal["apartment", "villa", "townhouse", "commercial"] | None = None
    area: Code | None = None
    queued: bool | None = None
    duplicate: bool | None = None
    q: Annotated[str, StringConstraints(min_length=2, max_length=100, strip_whitespace=True)] | None = Field(
        default=None, description="Name or e-mail substring (any script), or a phone in any format.")
    sort: Literal["created", "-created", "score", "-score", "last_activity", "-last_activity", "next_follow_up",
                  "-next_follow_up"] = "-created"

    _created = field_validator("created_from", "created_to")(_aware)

    @field_validator("status")
    @classmethod
    def _statuses(cls, value: str | None) -> str | None:
        if value is not None:
            unknown = [s for s in value.split(",") if s.strip() not in STATUSES]
            if unknown:
                raise ValueError(f"unknown status {unknown[0]!r}; one of {', '.join(STATUSES)}")
        return value

    @model_validator(mode="after")
    def _ranges(self) -> LeadQuery:
        if self.score_min is not None and self.score_max is not None and self.score_min > self.score_max:
            raise ValueError("score_min must not exceed score_max")
        if self.created_from and self.created_to and self.created_from > self.created_to:
            raise ValueError("created_from must not be after created_to")
        return self

    def filters(self) -> dict[str, Any]:
        """The filters as api.list_leads takes them: absent ones left out; q as a phone when it parses as one."""
        body = self.model_dump(mode="json", exclude={"limit", "cursor", "sort"}, exclude_none=True)
        if "status" in body:
            body["status"] = [s.strip() for s in body["status"].split(",")]
        if "q" in body:
            phone = _as_phone(body["q"])
            if phone:
                body.pop("q")
                body["phone"] = phone
        return body


def _as_phone(text: str) -> str | None:
    if sum(c.isdigit() for c in text) < 7 or any(c.isalpha() for c in text):
        return None
    try:
        number = phonenumbers.parse(text, DEFAULT_PHONE_REGION)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return str(phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164))


class FollowUpQuery(PageQuery):
    agent_id: UUID | None = None
    lead_id: UUID | None = None
    status: Literal["open", "done", "cancelled"] | None = None
    due_from: dt.datetime | None = None
    due_to: dt.datetime | None = None
    overdue: bool | None = None
    escalated: bool | None = None

    _due = field_validator("due_from", "due_to")(_aware)

    def filters(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude={"limit", "cursor"}, exclude_none=True)


class AgentQuery(PageQuery):
    active: bool | None = None
    role: Literal["agent", "supervisor"] | None = None
    language: Code | None = None
    property_type: Literal["apartment", "villa", "townhouse", "commercial"] | None = None
    area: Code | None = None
    has_capacity: bool | None = None

    def filters(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude={"limit", "cursor"}, exclude_none=True)
