"""The brief's service classes, as thin facades over the SQL that does the work.

`LeadScoringEngine.calculate_lead_score` calls `api.score_lead` and `LeadAssignmentManager.assign_lead`
calls `api.assign_lead`; the rules themselves live in `db/functions/17_crm_scoring.sql` and
`db/functions/19_crm_assignment.sql`. They let Python code (scripts, workers, a notebook) use the same rules
as the HTTP API and psql, without a second implementation.

Pass an API key (`api_key=`) when the pool logs in as the API's login: every call then runs as that key's holder,
through the same endpoint matrix and row-level security as HTTP (api.begin_request); without a key the API's login
is refused (401 api_key_missing). A pool of the owner (a DBA's script) needs no key.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

import asyncpg
from pydantic import BaseModel, ConfigDict, Field

from api import queries
from api.deps import call_api
from api.schemas.leads import ActivityIn, Budget, FreeText, PropertyType, SourceType


class _ScoringLead(BaseModel):
    model_config = ConfigDict(extra="ignore")

    nationality: FreeText | None = None
    budget_min: Budget | None = None
    budget_max: Budget | None = None
    property_type: PropertyType | None = None
    response_seconds: int | None = Field(default=None, ge=0, description="Time to the first agent contact, if any.")


class _ScoringSource(BaseModel):
    model_config = ConfigDict(extra="ignore")

    source_type: SourceType
    referrer_agent_id: UUID | None = None


class LeadScoringEngine:
    def __init__(self, pool: asyncpg.Pool, api_key: str | None = None) -> None:
        self.pool = pool
        self.api_key = api_key

    async def score(self, lead_data: dict[str, Any], source_details: dict[str, Any]) -> dict[str, Any]:
        """{"score", "raw", "breakdown"}. `source_details` carries `source_type` (the capture body's top level)."""
        lead = _ScoringLead.model_validate(lead_data)
        source = _ScoringSource.model_validate(source_details)
        body = {
            "source_type": source.source_type,
            "lead_data": lead.model_dump(mode="json", exclude_none=True),
            "source_details": source.model_dump(mode="json", exclude_none=True),
        }
        if self.api_key:
            result: dict[str, Any] = await call_api(self.pool, queries.SCORE_LEAD, body, self.api_key)
        else:
            result = await call_api(self.pool, queries.SCORE_LEAD_AS_OWNER, body)
        return result

    async def update_lead_score(self, lead_id: UUID, activity_data: dict[str, Any], actor: str = "python") -> int:
        """Logs the activity on the lead (as PUT /leads/{id}/update does) and returns the lead's new score:
        positive +5, viewing +10, offer made +20, clamped to 0-100 (crm.activity_points in SQL). The 7-day
        no-response penalty is the sweep's (jobs.run_sweeps)."""
        activity = ActivityIn.model_validate(activity_data)
        body = {"activity": activity.model_dump(mode="json", exclude_none=True)}
        if self.api_key:
            state: dict[str, Any] = await call_api(self.pool, queries.UPDATE_LEAD, lead_id, body, self.api_key)
        else:
            state = await call_api(self.pool, queries.UPDATE_LEAD_AS_OWNER, lead_id, body, actor)
        return int(state["score"])

    async def calculate_lead_score(self, lead_data: dict[str, Any], source_details: dict[str, Any]) -> int:
        """The lead's score 0-100 from the active rules (budget, source quality, nationality, property type,
        response time, referral). Raises pydantic.ValidationError for malformed input."""
        return int((await self.score(lead_data, source_details))["score"])


class LeadAssignmentManager:
    def __init__(self, pool: asyncpg.Pool, actor: str = "python", api_key: str | None = None) -> None:
        self.pool = pool
        self.actor = actor
        self.api_key = api_key

    async def assign_lead(self, lead_data: dict[str, Any]) -> UUID | None:
        """Assigns the stored lead `lead_data["lead_id"]` (one without an agent, e.g. queued) to the best
        available agent and returns that agent's id, or None when nobody has capacity (it stays queued).
        Ranking, SKIP LOCKED locking and the queue are `crm.choose_agent` / `crm.assign_lead` in SQL."""
        lead_id = UUID(str(lead_data["lead_id"]))
        if self.api_key:
            decision: dict[str, Any] = await call_api(self.pool, queries.ASSIGN_LEAD, lead_id, self.api_key)
        else:
            decision = await call_api(self.pool, queries.ASSIGN_LEAD_AS_OWNER, lead_id, self.actor)
        agent = decision.get("agent_id")
        return UUID(agent) if agent else None

    async def reassign_lead(self, lead_id: UUID, reason: str, new_agent_id: UUID | None = None) -> UUID:
        """Moves the lead to new_agent_id, or to the best ranked other agent, and returns the new agent's id.
        Raises Problem (agent_full, agent_inactive, no_agent_available, ...). The automatic kinds (no response
        within 24 hours, workload balancing) are run by the sweeps."""
        if self.api_key:
            state: dict[str, Any] = await call_api(self.pool, queries.REASSIGN_LEAD, lead_id, reason, new_agent_id,
                                                   self.api_key)
        else:
            state = await call_api(self.pool, queries.REASSIGN_LEAD_AS_OWNER, lead_id, reason, new_agent_id,
                                   self.actor)
        return UUID(state["assigned_agent"]["agent_id"])
