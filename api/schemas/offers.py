"""Offers and the pond (api/routes/leads.py: accept, decline, claim, the pond; rules: 29_crm_offers.sql)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated
from uuid import UUID

from pydantic import BaseModel, ConfigDict, StringConstraints


class OfferState(BaseModel):
    lead_id: UUID
    agent_id: UUID | None
    offer_round: int | None
    respond_by: dt.datetime | None
    accepted_at: dt.datetime | None
    pooled_at: dt.datetime | None


class DeclineBody(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"reason": "in a viewing until 6"}]})

    reason: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)] | None = None


class PondLead(BaseModel):
    lead_id: UUID
    source_type: str
    property_type: str | None
    budget_min: float | None
    budget_max: float | None
    language_preference: str | None
    score: int
    pooled_at: dt.datetime
    created_at: dt.datetime


class Pond(BaseModel):
    items: list[PondLead]
