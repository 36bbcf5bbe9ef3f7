"""GET /api/v1/analytics/...: the reporting schema's answers to the brief's Task 4, as JSON for REST clients.

The same objects serve psql users (db/queries/4_*.sql) and BI tools (docs/analytics.md); here each report is one
SELECT over one reporting object, with the optional date window passed through.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, model_validator

from api.auth import ApiKey, auth_responses, roles_note
from api.deps import call_api, get_pool
from api.errors import PROBLEM_CONTENT, Problem

router = APIRouter(prefix="/api/v1/analytics", tags=["analytics"])

# name -> (question, SQL over reporting with $1 = date_from, $2 = date_to when it takes a window)
REPORTS: dict[str, tuple[str, str]] = {
    "conversion-by-source": ("4.1 Conversion rates by lead source",
                             "SELECT * FROM reporting.conversion_by_source($1, $2)"),
    "conversion-by-agent": ("4.1 Conversion rates by agent", "SELECT * FROM reporting.conversion_by_agent($1, $2)"),
    "time-to-conversion": ("4.1 Days to conversion by property type",
                           "SELECT * FROM reporting.time_to_conversion_by_property_type($1, $2)"),
    "monthly-volume": ("4.1 Monthly lead volume by source",
                       "SELECT * FROM reporting.monthly_lead_volume WHERE ($1::date IS NULL OR month >= "
                       "date_trunc('month', $1::date)) AND ($2::date IS NULL OR month <= $2::date) "
                       "ORDER BY month, source_type"),
    "agent-rankings": ("4.1 Agent performance rankings", "SELECT * FROM reporting.agent_rankings($1, $2)"),
    "revenue-by-source": ("4.1 Revenue attribution by source", "SELECT * FROM reporting.revenue_by_source($1, $2)"),
    "high-score-not-converted": ("4.2 High-scoring leads that did not convert, and why",
                                 "SELECT * FROM reporting.high_score_not_converted($1, $2, p_limit => 500)"),
    "low-score-converted": ("4.2 Low-scoring leads that converted",
                            "SELECT * FROM reporting.low_score_converted($1, $2, p_limit => 500)"),
    "source-quality": ("4.2 Source quality by month",
                       "SELECT * FROM reporting.source_quality_monthly WHERE ($1::date IS NULL OR month >= "
                       "date_trunc('month', $1::date)) AND ($2::date IS NULL OR month <= $2::date) "
                       "ORDER BY source_type, month"),
    "response-time-conversion": ("4.2/4.3 Conversion by first-response window, and the correlation",
                                 "SELECT * FROM reporting.response_time_conversion($1, $2)"),
    "workload": ("4.3 Current workload distribution (now: dates do not apply)",
                 "SELECT * FROM reporting.agent_workload ORDER BY utilisation_pct DESC NULLS LAST"),
    "near-capacity": ("4.3 Agents approaching capacity (now: dates do not apply)",
                      "SELECT * FROM reporting.agents_near_capacity ORDER BY utilisation_pct DESC"),
    "specialist-vs-generalist": ("4.3 Specialised versus general agents",
                                 "SELECT * FROM reporting.specialist_vs_generalist($1, $2)"),
}

# current-state reports read crm live; every other report reads the analytics snapshot (as_of says when it was taken)
LIVE_REPORTS = frozenset({"workload", "near-capacity"})


class Window(BaseModel):
    model_config = ConfigDict(extra="forbid")

    date_from: dt.date | None = None
    date_to: dt.date | None = None

    @model_validator(mode="after")
    def _order(self) -> Window:
        if self.date_from and self.date_to and self.date_from > self.date_to:
            raise ValueError("date_from must not be after date_to")
        return self


@router.get("", summary="The available reports", description="The names and questions of every report."
            + roles_note("analytics"), responses=auth_responses("analytics"))
async def list_reports(request: Request, key: ApiKey) -> dict[str, Any]:
    await call_api(await get_pool(request), "SELECT 1 FROM api.begin_request($1, 'analytics') AS ctx", key)
    return {"reports": [{"name": name, "question": question, "path": f"/api/v1/analytics/{name}"}
                        for name, (question, _) in REPORTS.items()]}


@router.get(
    "/{report}",
    summary="One report: rows of a reporting view or function, for leads captured between date_from and date_to",
    description="Dates are Asia/Dubai days, inclusive, both optional (all time). docs/analytics.md defines each."
                + roles_note("analytics"),
    responses={**auth_responses("analytics"), 404: {"description": "`report_not_found`", **PROBLEM_CONTENT}},
)
async def report(request: Request, report: str, key: ApiKey, window: Annotated[Window, Query()]) -> JSONResponse:
    if report not in REPORTS:
        raise Problem(404, "report_not_found", f"no report named {report!r}; GET /api/v1/analytics lists them")
    question, query = REPORTS[report]
    args = (window.date_from, window.date_to) if "$1" in query else ()
    live = report in LIVE_REPORTS
    as_of = "now()" if live else "(SELECT refreshed_at FROM reporting.analytics_freshness)"
    result = await call_api(await get_pool(request),
                            f"SELECT jsonb_build_object('as_of', {as_of}, 'rows', "
                            f"(SELECT coalesce(jsonb_agg(to_jsonb(r)), '[]'::jsonb) FROM ({query}) AS r)) "
                            f"FROM api.begin_request(${len(args) + 1}, 'analytics') AS ctx", *args, key)
    return JSONResponse({"report": report, "question": question,
                         "filters": {"date_from": window.date_from and window.date_from.isoformat(),
                                     "date_to": window.date_to and window.date_to.isoformat()},
                         "as_of": result["as_of"], "live": live, "rows": result["rows"]})
