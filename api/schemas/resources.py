"""Models of the REST resources (issue 14): leads read and corrected, their timeline, follow-ups, agents, policy and
reference data. The response models document what SQL builds (json, keys in this order; tests/api/test_contract.py
checks them against real answers); the request models validate and normalise before the one database call."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, EmailStr, Field, StringConstraints, model_validator

from api.schemas.availability import Availability
from api.schemas.leads import (
    AssignedAgent,
    Budget,
    FreeText,
    Name,
    NextFollowUp,
    Phone,
    PropertyInterestOut,
    Reason,
)

PropertyType = Literal["apartment", "villa", "townhouse", "commercial"]
Cursor = Annotated[str, StringConstraints(min_length=1, max_length=500, pattern=r"^[A-Za-z0-9_-]+$")]
Limit = Annotated[int, Field(ge=1, le=200)]


# --- leads -------------------------------------------------------------------------------------------------------

class Campaign(BaseModel):
    campaign_id: str | None
    utm_source: str | None
    utm_medium: str | None
    utm_campaign: str | None


class LeadDetail(BaseModel):
    lead_id: UUID
    version: int = Field(description="The lead's version; also its ETag. Send it in If-Match to PATCH.")
    source_type: str
    external_id: str | None
    first_name: str
    last_name: str
    email: str | None
    phone: str
    nationality: str | None
    language_preference: str | None
    budget_min: float | None
    budget_max: float | None
    property_type: str | None
    preferred_areas: list[str]
    status: str
    score: int
    assigned_agent: AssignedAgent | None
    assigned_at: dt.datetime | None
    queued: bool
    queued_at: dt.datetime | None
    duplicate_of: UUID | None
    next_follow_up: NextFollowUp | None
    property_interests: list[PropertyInterestOut]
    first_contacted_at: dt.datetime | None
    response_seconds: int | None
    last_activity_at: dt.datetime | None
    deal_value: float | None
    lost_reason: str | None
    closed_at: dt.datetime | None
    campaign: Campaign
    unmatched_input: dict[str, Any] = Field(description="What the client typed that mapped to none of our keys.")
    score_breakdown: list[dict[str, Any]] = Field(description="The rules that made the capture score.")
    assignment_decision: dict[str, Any] | None = Field(
        description="Why the lead went to its agent: method, the top five candidates with their points, weights.")
    created_at: dt.datetime
    updated_at: dt.datetime


class LeadSummary(BaseModel):
    lead_id: UUID
    version: int
    first_name: str
    last_name: str
    phone: str
    email: str | None
    source_type: str
    status: str
    score: int
    agent_id: UUID | None
    queued: bool
    duplicate_of: UUID | None
    language_preference: str | None
    property_type: str | None
    created_at: dt.datetime
    last_activity_at: dt.datetime | None
    next_follow_up_at: dt.datetime | None


class LeadPage(BaseModel):
    items: list[LeadSummary]
    next: str | None = Field(description="Pass as `cursor` for the next page; null on the last page.")


class TimelineItem(BaseModel):
    at: dt.datetime
    kind: str = Field(examples=["status_changed"], description="status_changed, activity, assigned, released, "
                      "follow_up_created, follow_up_completed, follow_up_cancelled, follow_up_escalated")
    id: str
    agent_id: UUID | None
    details: dict[str, Any]


class TimelinePage(BaseModel):
    items: list[TimelineItem]
    next: str | None


class LeadPatch(BaseModel):
    """A correction of contact fields and wishes. Status moves only through PUT .../update."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"email": "ahmed@example.com", "budget_max": 2500000, "preferred_areas": ["Dubai Marina", "JBR"]}]})

    first_name: Name | None = None
    last_name: Name | None = None
    email: EmailStr | None = None
    phone: Phone | None = None
    nationality: FreeText | None = None
    language_preference: FreeText | None = None
    budget_min: Budget | None = None
    budget_max: Budget | None = None
    property_type: PropertyType | None = None
    preferred_areas: list[FreeText] | None = Field(default=None, max_length=20)

    @model_validator(mode="after")
    def _something(self) -> LeadPatch:
        if not self.model_fields_set:
            raise ValueError("name at least one field to change")
        for name in ("first_name", "last_name", "phone"):
            if name in self.model_fields_set and getattr(self, name) is None:
                raise ValueError(f"{name} cannot be removed")
        if self.budget_min is not None and self.budget_max is not None and self.budget_min > self.budget_max:
            raise ValueError("budget_min must not exceed budget_max")
        return self

    def to_sql(self) -> dict[str, Any]:
        body = self.model_dump(mode="json", include=self.model_fields_set)
        if body.get("email"):
            body["email"] = body["email"].lower()
        return body


# --- follow-ups --------------------------------------------------------------------------------------------------

class FollowUpItem(BaseModel):
    task_id: UUID
    lead_id: UUID
    lead_name: str | None
    agent_id: UUID
    task_type: str
    priority: str
    status: str
    due_at: dt.datetime
    ends_at: dt.datetime
    overdue: bool
    escalated_at: dt.datetime | None
    escalated_to: UUID | None
    completed_at: dt.datetime | None
    notes: str | None
    activity: dict[str, Any] | None = Field(description="The activity a completion with an outcome logged.")


class FollowUpPage(BaseModel):
    items: list[FollowUpItem]
    next: str | None


class FollowUpComplete(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"outcome": "positive", "notes": "Booked a viewing for Saturday"}]})

    outcome: Literal["positive", "negative", "neutral"] | None = Field(
        default=None, description="Given: the contact is logged as an activity of the task's type, and scored.")
    notes: Reason | None = None


class FollowUpReschedule(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"due_at": "2026-12-02T10:00:00+04:00"}]})

    due_at: dt.datetime

    @model_validator(mode="after")
    def _aware(self) -> FollowUpReschedule:
        if self.due_at.tzinfo is None:
            raise ValueError("due_at needs a time zone offset")
        return self


class FollowUpCancel(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"reason": "Client asked to wait"}]})

    reason: Reason


# --- agents ------------------------------------------------------------------------------------------------------

class AgentResource(BaseModel):
    agent_id: UUID
    full_name: str
    full_name_ar: str | None
    email: str
    phone: str
    role: str
    supervisor_id: UUID | None
    is_active: bool
    active_leads: int
    max_active_leads: int
    free_capacity: int
    performance_score: float
    languages: list[str]
    property_types: list[str]
    areas: list[str]
    last_assigned_at: dt.datetime | None
    hired_on: dt.date | None
    availability: Availability
    created_at: dt.datetime
    updated_at: dt.datetime


class AgentPage(BaseModel):
    items: list[AgentResource]
    next: str | None


Capacity = Annotated[int, Field(ge=0, le=50)]
Role = Literal["agent", "supervisor"]


class AgentCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"full_name": "Sara Al Marzouqi", "email": "sara@thinkrealty.ae", "phone": "+971501112233",
         "languages": ["english", "arabic"], "property_types": ["villa"], "areas": ["Arabian Ranches"]}]})

    full_name: Name
    full_name_ar: Name | None = None
    email: EmailStr
    phone: Phone
    role: Role = "agent"
    supervisor_id: UUID | None = None
    max_active_leads: Capacity = 50
    hired_on: dt.date | None = None
    languages: list[FreeText] = Field(default_factory=list, max_length=20)
    property_types: list[PropertyType] = Field(default_factory=list, max_length=4)
    areas: list[FreeText] = Field(default_factory=list, max_length=50)

    def to_sql(self) -> dict[str, Any]:
        body = self.model_dump(mode="json")
        body["email"] = body["email"].lower()
        return body


class AgentPatch(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"max_active_leads": 30, "languages": ["english", "hindi"]}, {"is_active": False}]})

    full_name: Name | None = None
    full_name_ar: Name | None = None
    email: EmailStr | None = None
    phone: Phone | None = None
    role: Role | None = None
    supervisor_id: UUID | None = None
    max_active_leads: Capacity | None = None
    is_active: bool | None = None
    languages: list[FreeText] | None = Field(default=None, max_length=20)
    property_types: list[PropertyType] | None = Field(default=None, max_length=4)
    areas: list[FreeText] | None = Field(default=None, max_length=50)

    @model_validator(mode="after")
    def _something(self) -> AgentPatch:
        if not self.model_fields_set:
            raise ValueError("name at least one field to change")
        for name in ("full_name", "email", "phone", "role", "max_active_leads", "is_active", "languages",
                     "property_types", "areas"):
            if name in self.model_fields_set and getattr(self, name) is None:
                raise ValueError(f"{name} cannot be null")
        return self

    def to_sql(self) -> dict[str, Any]:
        body = self.model_dump(mode="json", include=self.model_fields_set)
        if body.get("email"):
            body["email"] = body["email"].lower()
        return body


# --- policy and reference data -----------------------------------------------------------------------------------

class ScoringRule(BaseModel):
    rule_key: str
    factor: str
    match_value: str | None
    min_value: float | None
    max_value: float | None
    points: float | None
    weight: float | None
    description: str
    is_active: bool
    updated_at: dt.datetime
    updated_by: str


class ScoringRuleList(BaseModel):
    items: list[ScoringRule]


RuleValue = Annotated[Decimal, Field(ge=-1_000_000_000_000, le=1_000_000_000_000, max_digits=16, decimal_places=3)]


class ScoringRulePut(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"points": 25}, {"is_active": False}]})

    factor: Literal["source_quality", "budget", "nationality", "property_type", "response_time", "referral",
                    "activity"] | None = Field(default=None, description="Required to create a rule.")
    match_value: FreeText | None = None
    min_value: RuleValue | None = None
    max_value: RuleValue | None = None
    points: RuleValue | None = None
    weight: RuleValue | None = None
    description: Annotated[str, StringConstraints(min_length=1, max_length=500)] | None = None
    is_active: bool | None = None

    def to_sql(self) -> dict[str, Any]:
        return self.model_dump(mode="json", include=self.model_fields_set)


class ProposedRule(ScoringRulePut):
    rule_key: Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,62}$")]


class ScoringPreviewRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{
        "lead": {"source_type": "bayut", "lead_data": {"budget_max": 2500000, "nationality": "AE",
                                                          "property_type": "villa"}},
        "rules": [{"rule_key": "budget_2m_5m", "points": 30}]}]})

    lead: dict[str, Any] = Field(description="A capture-shaped body: source_type, lead_data, source_details.")
    rules: list[ProposedRule] = Field(max_length=50)


class ScoreResult(BaseModel):
    score: int
    raw: float
    breakdown: list[dict[str, Any]]


class ScoringPreview(BaseModel):
    current: ScoreResult
    proposed: ScoreResult
    change: int


class Setting(BaseModel):
    setting_key: str
    value: Any
    shape: Any = Field(description="The shape the value must have (docs/api.md).")
    description: str
    updated_at: dt.datetime
    updated_by: str


class SettingList(BaseModel):
    items: list[Setting]


class SettingPut(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"value": "2 hours"}]})

    value: Any = Field(description="The new value; it must have the setting's shape.")


class PolicyChange(BaseModel):
    change_id: int
    kind: str
    policy_key: str
    old_value: dict[str, Any] | None
    new_value: dict[str, Any] | None
    changed_by: str
    changed_at: dt.datetime


class PolicyChangePage(BaseModel):
    items: list[PolicyChange]
    next: str | None


class SourceRef(BaseModel):
    source_type: str
    display_name: str
    is_portal: bool
    is_active: bool


class AreaRef(BaseModel):
    area_code: str
    name: str
    aliases: list[str]


class LanguageRef(BaseModel):
    language: str
    iso_code: str | None
    display_name: str
    native_name: str | None


class SourceList(BaseModel):
    items: list[SourceRef]


class AreaList(BaseModel):
    items: list[AreaRef]


class LanguageList(BaseModel):
    items: list[LanguageRef]
