"""Lead capture bodies: what a client sends and what it gets back.

Normalisation happens here (phone to E.164, e-mail lower case, names trimmed, budgets checked); every
business rule (scoring, assignment, duplicates, nationality lookup) happens in SQL (`api.capture_lead`).
"""

from __future__ import annotations

import re
import unicodedata
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Literal
from uuid import UUID

import phonenumbers
from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    EmailStr,
    Field,
    ModelWrapValidatorHandler,
    PrivateAttr,
    StringConstraints,
    field_validator,
    model_validator,
)

# A source is a row of crm.lead_sources: the API checks only its shape (the table's own CHECK
# lead_sources_source_type_format), the database whether it exists and accepts leads (422 unknown_source,
# source_inactive), so a source added as a row is accepted at once.
SourceType = Annotated[str, StringConstraints(pattern=r"^[a-z][A-Za-z_]{1,39}$"), Field(
    description="A source of crm.lead_sources: bayut, propertyFinder, dubizzle, website, walk_in, referral, or any "
                "source added since.", examples=["bayut"])]
PropertyType = Literal["apartment", "villa", "townhouse", "commercial"]

DEFAULT_PHONE_REGION = "AE"
MAX_BUDGET_AED = Decimal("999999999999")  # numeric(14, 2)
_SPACES = re.compile(r"\s+")


def normalize_phone(value: str) -> str:
    """Any common spelling of a phone number as E.164; UAE numbers may omit the country code."""
    raw = value.strip()
    digits = re.sub(r"[\s\-().]", "", raw)
    if digits.startswith("00"):
        digits = "+" + digits[2:]
    elif not digits.startswith("+") and digits.startswith("971") and len(digits) >= 11:
        digits = "+" + digits  # 971501234567: the country code without the plus
    try:
        number = phonenumbers.parse(digits, DEFAULT_PHONE_REGION)
    except phonenumbers.NumberParseException as exc:
        raise ValueError("not a phone number") from exc
    if not phonenumbers.is_valid_number(number):
        raise ValueError("not a valid phone number")
    return str(phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164))


def _no_controls(value: str) -> str:
    if any(unicodedata.category(char) == "Cc" for char in value):
        raise ValueError("must not contain control characters")
    return value


def _clean_text(value: str) -> str:
    return _SPACES.sub(" ", unicodedata.normalize("NFC", _no_controls(value))).strip()


def drop_unstorable(value: str) -> str:
    """`value` without control characters (C0, DEL, C1: Unicode category Cc) and unpaired surrogates (Cs): what a
    name may hold is everything else, as typed (the database's CHECK leads_*_name_printable says the same)."""
    return "".join(char for char in value if unicodedata.category(char) not in ("Cc", "Cs"))


def _person_name(value: str) -> str:
    """A person's name in any script as typed: letters, combining marks, ZWNJ/ZWJ (Persian, Indic scripts),
    digits, apostrophes, brackets, anything printable. Spaces are trimmed and runs of them folded; control
    characters were already dropped (with a warning, LeadData); only a name left blank is refused."""
    value = _SPACES.sub(" ", unicodedata.normalize("NFC", value)).strip()
    if not value:
        raise ValueError("must not be blank")
    return value


Name = Annotated[str, StringConstraints(max_length=100), AfterValidator(_person_name)]
Phone = Annotated[str, StringConstraints(min_length=5, max_length=32), AfterValidator(normalize_phone)]
FreeText = Annotated[str, StringConstraints(max_length=100), AfterValidator(_clean_text)]
Tag = Annotated[
    str, StringConstraints(min_length=1, max_length=200, strip_whitespace=True), AfterValidator(_no_controls)
]
Budget = Annotated[Decimal, Field(ge=0, le=MAX_BUDGET_AED, max_digits=14, decimal_places=2)]


class LeadData(BaseModel):
    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)

    first_name: Name = Field(examples=["Ahmed"])
    last_name: Name = Field(examples=["Al Mansouri"])
    email: EmailStr | None = Field(default=None, max_length=255, examples=["ahmed@email.com"])
    phone: Phone = Field(
        description="Any common format; UAE numbers may be local (0501234567). Stored as E.164.",
        examples=["+971501234567"],
    )
    nationality: FreeText | None = Field(
        default=None, description="Country code, country name or demonym (UAE, AE, Emirati, ...).", examples=["UAE"]
    )
    language_preference: FreeText | None = Field(default=None, examples=["arabic"])
    budget_min: Budget | None = Field(default=None, description="AED", examples=[800000])
    budget_max: Budget | None = Field(default=None, description="AED", examples=[1500000])
    property_type: PropertyType | None = Field(default=None, examples=["apartment"])
    preferred_areas: list[FreeText] = Field(default_factory=list, max_length=20,
                                            examples=[["Downtown Dubai", "Marina", "JBR"]])

    _dropped_from: list[str] = PrivateAttr(default_factory=list)

    @model_validator(mode="wrap")
    @classmethod
    def _drop_controls_from_names(cls, data: Any, handler: ModelWrapValidatorHandler[LeadData]) -> LeadData:
        """A lead is not lost over how a name was typed: control characters are dropped from the names (and
        reported as a warning, see CaptureRequest.to_sql) instead of refusing the lead."""
        dropped: list[str] = []
        if isinstance(data, dict):
            data = dict(data)
            for field in ("first_name", "last_name"):
                value = data.get(field)
                if isinstance(value, str) and drop_unstorable(value) != value:
                    data[field] = drop_unstorable(value)
                    dropped.append(field)
        model = handler(data)
        model._dropped_from = dropped
        return model

    @field_validator("email")
    @classmethod
    def _lower_email(cls, value: str | None) -> str | None:
        return value.lower() if value else value

    @field_validator("nationality", "language_preference", mode="before")
    @classmethod
    def _blank_is_absent(cls, value: Any) -> Any:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("preferred_areas")
    @classmethod
    def _no_blank_areas(cls, value: list[str]) -> list[str]:
        return [area for area in value if area]

    @model_validator(mode="after")
    def _budget_order(self) -> LeadData:
        if self.budget_min is not None and self.budget_max is not None and self.budget_min > self.budget_max:
            raise ValueError("budget_min must not be greater than budget_max")
        return self


class SourceDetails(BaseModel):
    model_config = ConfigDict(extra="ignore")

    campaign_id: Tag | None = Field(default=None, examples=["spring_campaign_2024"])
    referrer_agent_id: UUID | None = Field(default=None, description="The referring agent, for referrals.")
    property_id: UUID | None = Field(default=None, description="The listing the lead inquired about.")
    utm_source: Tag | None = Field(default=None, examples=["google_ads"])
    utm_medium: Tag | None = None
    utm_campaign: Tag | None = None
    external_id: Tag | None = Field(
        default=None, description="The portal's own lead id: a lead re-sent with the same id is not captured twice.",
        examples=["BAY-2024-118812"],
    )


class CaptureRequest(BaseModel):
    model_config = ConfigDict(
        extra="ignore",
        json_schema_extra={
            "examples": [{
                "source_type": "bayut",
                "lead_data": {
                    "first_name": "Ahmed", "last_name": "Al Mansouri", "email": "ahmed@email.com",
                    "phone": "+971501234567", "nationality": "UAE", "language_preference": "arabic",
                    "budget_min": 800000, "budget_max": 1500000, "property_type": "apartment",
                    "preferred_areas": ["Downtown Dubai", "Marina", "JBR"],
                },
                "source_details": {"campaign_id": "spring_campaign_2024", "utm_source": "google_ads"},
            }]
        },
    )

    source_type: SourceType
    lead_data: LeadData
    source_details: SourceDetails = Field(default_factory=SourceDetails)

    def to_sql(self) -> dict[str, Any]:
        """The normalised body as api.capture_lead reads it (JSON types only, absent fields left out), with the
        warnings of the normalisation (control characters dropped from a name) for the answer's `warnings`."""
        body = self.model_dump(mode="json", exclude_none=True)
        warnings = [{"code": "control_characters_removed", "field": f"lead_data.{field}",
                     "detail": f"Control characters were removed from {field}; the rest is kept as typed."}
                    for field in self.lead_data._dropped_from]
        if warnings:
            body["warnings"] = warnings
        return body


class AssignedAgent(BaseModel):
    agent_id: UUID
    name: str = Field(examples=["Sarah Johnson"])
    phone: str = Field(examples=["+971501234568"])


class DuplicateOf(BaseModel):
    lead_id: UUID
    source_type: str
    created_at: datetime


class ScoreItem(BaseModel):
    rule: str = Field(examples=["budget_1m_2m"])
    factor: str = Field(examples=["budget"])
    points: float = Field(examples=[20])


class AssignmentSummary(BaseModel):
    method: str = Field(description="preferred, ranked, ranked_after_wait or queued", examples=["ranked"])
    kind: str | None = Field(default=None, examples=["auto"])
    winner_rank: int | None = None
    eligible_count: int | None = None


class FollowUp(BaseModel):
    task_id: UUID
    task_type: str = Field(examples=["call"])
    priority: str = Field(examples=["high"])
    due_at: datetime
    ends_at: datetime
    sla: str = Field(examples=["sla_hot_lead"])
    sla_deadline: datetime
    moved: bool = Field(description="True when the SLA slot was taken and the task moved to the next free slot.")
    within_sla: bool = Field(description="False when no slot before the SLA deadline was free.")


class Warning(BaseModel):
    code: str = Field(examples=["area_unrecognized"])
    field: str | None = Field(default=None, examples=["lead_data.preferred_areas"])
    detail: str


class Offer(BaseModel):
    respond_by: datetime = Field(description="When the agent's availability starts plus first_response_sla (5 min).")
    offer_round: int = Field(ge=1, description="1, then 2 after an expiry or decline, up to max_offers.")
    accepted_at: datetime | None
    available_now: bool = Field(description="False at night: the clock starts when the agent's shift does.")


class CaptureResponse(BaseModel):
    success: bool = True
    lead_id: UUID
    assigned_agent: AssignedAgent | None = Field(description="Null while the lead waits in the queue (202).")
    lead_score: int = Field(ge=0, le=100, examples=[85])
    next_follow_up: datetime | None
    suggested_properties: list[UUID] = Field(default_factory=list, max_length=3)
    queued: bool = Field(description="True when no agent had capacity: stored, and assigned when capacity frees.")
    duplicate_of: DuplicateOf | None = Field(
        default=None,
        description="The earlier lead of the same client from another source (within the setting duplicate_window).")
    score_breakdown: list[ScoreItem] = Field(default_factory=list)
    assignment: AssignmentSummary | None = None
    offer: Offer | None = Field(default=None, description="The agent must accept by respond_by (issue 16); null "
                                "when queued.")
    follow_up: FollowUp | None = None
    warnings: list[Warning] = Field(default_factory=list)


class DeadLetter(BaseModel):
    dead_letter_id: UUID
    received_at: datetime
    source_type: str | None = Field(description="As sent, when the body named one.")
    payload: Any = Field(description="The body as parsed JSON, when it was JSON.")
    raw_body: str | None = Field(description="The body as received, when it was not JSON (at most 64 KiB).")
    error_code: str = Field(examples=["validation_error"])
    error_detail: Any = Field(description="The problem's errors, as the client was told.")
    request_id: str | None
    idempotency_key: str | None
    replayed_at: datetime | None
    replayed_lead_id: UUID | None


# --- updates and reassignment -------------------------------------------------------------------------------

LeadStatus = Literal["new", "contacted", "qualified", "viewing_scheduled", "negotiation", "converted", "lost"]
ActivityType = Literal["call", "email", "whatsapp", "sms", "viewing", "meeting", "offer_made"]
DealValue = Annotated[Decimal, Field(gt=0, le=MAX_BUDGET_AED, max_digits=14, decimal_places=2)]
Reason = Annotated[str, StringConstraints(min_length=1, max_length=500, strip_whitespace=True),
                   AfterValidator(_no_controls)]


class ActivityIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: ActivityType = Field(examples=["call"])
    notes: Annotated[str, StringConstraints(max_length=5000), AfterValidator(_no_controls)] | None = Field(
        default=None, examples=["Lead showed interest in 2BR apartment in Marina"])
    outcome: Literal["positive", "negative", "neutral"] | None = Field(default=None, examples=["positive"])
    next_follow_up: AwareDatetime | None = Field(
        default=None, description="When to follow up (with a time zone); 409 follow_up_conflict if the agent is busy.",
        examples=["2024-01-18T14:00:00Z"])


class PropertyInterestIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    property_id: UUID
    interest_level: Literal["high", "medium", "low"] = Field(examples=["high"])


class UpdateRequest(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{
            "status": "contacted",
            "activity": {"type": "call", "notes": "Lead showed interest in 2BR apartment in Marina",
                         "outcome": "positive", "next_follow_up": "2024-01-18T14:00:00Z"},
            "property_interests": [{"property_id": "6b9394c2-f820-cf2d-f3a4-4878350e4868", "interest_level": "high"}],
        }]},
    )

    status: LeadStatus | Literal["conversion"] | None = Field(
        default=None, description="The next pipeline stage; `conversion` (the brief's spelling) means `converted`.")
    lost_reason: Reason | None = Field(default=None, description="Required with status lost, refused otherwise.")
    deal_value: DealValue | None = Field(default=None, description="AED; only with status converted.")
    activity: ActivityIn | None = None
    property_interests: list[PropertyInterestIn] = Field(default_factory=list, max_length=50)

    @field_validator("status")
    @classmethod
    def _alias(cls, value: str | None) -> str | None:
        return "converted" if value == "conversion" else value

    @model_validator(mode="after")
    def _consistent(self) -> UpdateRequest:
        if self.status is None and self.activity is None and not self.property_interests:
            raise ValueError("nothing to update: send status, activity or property_interests")
        if (self.status == "lost") != (self.lost_reason is not None):
            raise ValueError("lost_reason is required with status lost, and only then")
        if self.deal_value is not None and self.status != "converted":
            raise ValueError("deal_value goes with status converted (or conversion)")
        ids = [i.property_id for i in self.property_interests]
        if len(ids) != len(set(ids)):
            raise ValueError("each property_id may appear once")
        return self

    def to_sql(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude_none=True)


class ReassignRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"reason": "Client asked for a Russian-speaking agent", "new_agent_id": None}]})

    reason: Reason
    new_agent_id: UUID | None = Field(default=None, description="Omit to let the ranking pick the best other agent.")


class NextFollowUp(BaseModel):
    task_id: UUID
    task_type: str
    priority: str
    due_at: datetime


class PropertyInterestOut(BaseModel):
    property_id: UUID
    interest_level: str


class LeadState(BaseModel):
    lead_id: UUID
    status: LeadStatus
    score: int = Field(ge=0, le=100)
    assigned_agent: AssignedAgent | None
    queued: bool
    next_follow_up: NextFollowUp | None
    first_contacted_at: datetime | None
    response_seconds: int | None
    last_activity_at: datetime | None
    deal_value: float | None
    lost_reason: str | None
    closed_at: datetime | None
    property_interests: list[PropertyInterestOut]
    updated_at: datetime
    changes: dict[str, Any] | None = Field(default=None, description="What this request changed.")
    reassignment: dict[str, Any] | None = Field(default=None, description="From which agent to which, and why.")
