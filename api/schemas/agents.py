"""Agent dashboard: query parameters and the answer (the brief's shape, plus a few clearly named extras)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

# "all", or a source of crm.lead_sources (its shape here; the dashboard function checks that it exists)
SourceFilter = Annotated[str, StringConstraints(pattern=r"^(all|[a-z][A-Za-z_]{1,39})$")]
MAX_CUSTOM_DAYS = 731


class DashboardQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    date_range: Literal["7d", "30d", "90d", "custom"] = Field(
        default="30d", description="The last 7, 30 or 90 days (Asia/Dubai, today included), or custom.")
    date_from: dt.date | None = Field(default=None, description="First day of a custom range (inclusive).")
    date_to: dt.date | None = Field(default=None, description="Last day of a custom range (inclusive).")
    status_filter: Literal["all", "active", "converted", "lost"] = "all"
    source_filter: SourceFilter = "all"

    @model_validator(mode="after")
    def _range(self) -> DashboardQuery:
        if self.date_range == "custom":
            if self.date_from is None or self.date_to is None:
                raise ValueError("a custom date_range needs date_from and date_to")
            if self.date_from > self.date_to:
                raise ValueError("date_from must not be after date_to")
            if (self.date_to - self.date_from).days >= MAX_CUSTOM_DAYS:
                raise ValueError(f"a custom range spans at most {MAX_CUSTOM_DAYS} days")
        elif self.date_from is not None or self.date_to is not None:
            raise ValueError("date_from and date_to go with date_range=custom")
        return self

    def cache_field(self) -> str:
        dates = f"{self.date_from or ''}|{self.date_to or ''}"
        return f"{self.date_range}|{dates}|{self.status_filter}|{self.source_filter}"


class PendingOffer(BaseModel):
    lead_id: UUID
    respond_by: dt.datetime
    offer_round: int


class AgentSummary(BaseModel):
    total_active_leads: int = Field(examples=[23])
    overdue_follow_ups: int = Field(examples=[5])
    this_month_conversions: int = Field(examples=[8])
    average_response_time: str | None = Field(
        examples=["4.5 hours"], description="The agent's mean response time: from when each lead was assigned to them "
                                            "to their first contact on it; null when they contacted none.")
    average_response_seconds: int | None = Field(examples=[16200], description="The same, in seconds.")
    lead_score_average: int | None = Field(examples=[67])
    pending_offers: list[PendingOffer] = Field(
        default_factory=list, description="Offers awaiting the agent's acceptance, the nearest deadline first.")
    first_response_p50_seconds: int | None = Field(
        examples=[240], description="Median time from capture to first contact of the range's leads; null: none yet.")


class RecentLead(BaseModel):
    lead_id: UUID
    name: str = Field(examples=["Ahmed Al Mansouri"])
    phone: str = Field(examples=["+971501234567"])
    source: str = Field(examples=["bayut"])
    status: str = Field(examples=["qualified"])
    score: int = Field(examples=[85])
    last_activity: dt.datetime | None
    next_follow_up: dt.datetime | None


class PendingTask(BaseModel):
    task_id: UUID
    lead_name: str = Field(examples=["Fatima Hassan"])
    task_type: str = Field(examples=["call"])
    due_date: dt.datetime
    priority: Literal["high", "medium", "low"] = Field(
        examples=["high"], description="The priority now: from the lead's current score (the SLA classes), one level "
                                       "higher when overdue by more than follow_up_overdue_raise. The list is ordered "
                                       "by it, then by due_date.")


class PerformanceMetrics(BaseModel):
    conversion_rate: float | None = Field(
        examples=[15.5], description="converted / (converted + lost) x 100, one decimal; null when nothing has closed "
                                     "(crm.conversion_rate: no rate, not 0 %).")
    average_deal_size: float = Field(examples=[1200000], description="AED.")
    response_time_rank: int | None = Field(
        examples=[3], description="1 = fastest mean response (assignment to first contact) over the months the range "
                                  "touches; null: see response_time_rank_reason.")
    ranked_agents: int = Field(examples=[12], description="How many agents the rank is among (those with at least "
                                                          "ranking_min_responses responses in those months).")
    response_time_rank_reason: Literal["no_metrics_for_range", "no_responses", "too_few_responses"] | None = Field(
        examples=[None], description="Why there is no rank: the monthly metrics cover none of the range's months, the "
                                     "agent made no first contact in them, or fewer than ranking_min_responses.")
    response_time_rank_months: list[str] = Field(
        examples=[["2026-11", "2026-12"]], description="The months (YYYY-MM) the rank was computed over.")
    offer_accept_rate: float | None = Field(
        default=None, examples=[85.0], description="Of the offers made to the agent in the range and answered "
                                                   "(accepted, declined or expired), the accepted share (%).")


class AgentDashboard(BaseModel):
    agent_summary: AgentSummary
    recent_leads: list[RecentLead]
    pending_tasks: list[PendingTask]
    performance_metrics: PerformanceMetrics
    filters: dict[str, object] = Field(description="The filters as applied (dates resolved).")
    generated_at: dt.datetime
