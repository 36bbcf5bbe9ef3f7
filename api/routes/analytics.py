"""GET /api/v1/analytics/...: the reporting schema's answers to the brief's Task 4, as JSON for REST clients.

With REPORTING_DATABASE_URL set, both read a streaming hot standby instead of the primary (api.deps.reporting_pool):
the key check and the report are reads, and the snapshot they read is refreshed on the primary by the sweep.

The same objects serve psql users (db/queries/4_*.sql) and BI tools (docs/analytics.md). The API's login may not read
the reporting schema itself: api.analytics_reports / api.analytics_report (db/functions/39_api_analytics.sql) hold
the catalog, authorize the caller first and run the report.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, model_validator

from api import queries
from api.auth import ApiKey, auth_responses, roles_note
from api.deps import call_api, reporting_pool
from api.errors import PROBLEM_CONTENT

router = APIRouter(prefix="/api/v1/analytics", tags=["analytics"])

DatedBy = Literal["capture", "close"]


class ReportEntry(BaseModel):
    name: str = Field(examples=["conversion-by-source"])
    question: str
    path: str = Field(examples=["/api/v1/analytics/conversion-by-source"])
    live: bool = Field(description="True: computed at the request; false: read from the analytics snapshot.")
    dated_by: list[DatedBy] = Field(
        examples=[["capture", "close"]],
        description="The dates the window may apply to (`dated_by`), the default first; empty for a live report.")
    paged: bool = Field(description="True: a list, answered in pages (`limit`, `cursor`); false: every row at once.")


class ReportCatalog(BaseModel):
    reports: list[ReportEntry]


class ReportFilters(BaseModel):
    date_from: dt.date | None
    date_to: dt.date | None
    dated_by: DatedBy | None = Field(description="What the window dated: capture (cohorts) or close; null if live.")
    limit: int | None = Field(description="The page size of a list (null for the other reports).")
    cursor: str | None = Field(description="The cursor this page was asked with.")


class Report(BaseModel):
    report: str = Field(examples=["conversion-by-source"])
    question: str
    filters: ReportFilters
    as_of: dt.datetime | None = Field(description="When the data was taken: the snapshot's refresh, or now if live.")
    live: bool
    replica_lag_s: float | None = Field(
        default=None, description="How far behind the primary the database that answered is, in seconds: 0 on the "
                                  "primary or a caught-up hot standby (REPORTING_DATABASE_URL).")
    rows: list[dict[str, Any]] = Field(description="The report's rows, each with its columns in the report's order "
                                                   "(docs/analytics.md defines them).")
    next: str | None = Field(description="A list's cursor for the next page (pass it as `cursor`), or null: no more.",
                             examples=["cO_TAeXi4eVbpQzgvC4J075nUmKkxdI9"])
    total: int = Field(description="How many rows the whole answer has, every page.", examples=[4208])


class Window(BaseModel):
    model_config = ConfigDict(extra="forbid")

    date_from: dt.date | None = None
    date_to: dt.date | None = None
    dated_by: DatedBy | None = Field(
        default=None, description="capture (default): leads captured in the window; close: leads closed in it. "
                                  "Only for the reports whose `dated_by` in the catalogue lists it.")
    limit: int | None = Field(default=None, description="Rows per page of a list: 1 to 500, default 100. "
                                                        "Lists only (paged: true).")
    cursor: str | None = Field(default=None, max_length=200,
                               description="The `next` of the page before; the same report and filters.")

    @model_validator(mode="after")
    def _order(self) -> Window:
        if self.date_from and self.date_to and self.date_from > self.date_to:
            raise ValueError("date_from must not be after date_to")
        return self


@router.get("", summary="The available reports", description="The names and questions of every report."
            + roles_note("analytics"), response_model=ReportCatalog, responses=auth_responses("analytics"))
async def list_reports(request: Request, key: ApiKey) -> JSONResponse:
    reports = await call_api(await reporting_pool(request), queries.ANALYTICS_REPORTS, key)
    return JSONResponse({"reports": reports})


@router.get(
    "/{report}",
    summary="One report: rows of a reporting view or function, for leads captured (or closed) in a window",
    description="Dates are Asia/Dubai days, inclusive, both optional (all time); `dated_by=close` dates the window by "
                "the close date where the report offers it. Lists come in pages: `limit` rows (default 100, at most "
                "500), then `cursor` = the `next` of the page before; `total` counts every row. docs/analytics.md "
                "defines each report and figure. The key is checked before the name: without a valid key every name "
                "answers 401." + roles_note("analytics"),
    response_model=Report,
    responses={**auth_responses("analytics"), 404: {"description": "`report_not_found`", **PROBLEM_CONTENT},
               422: {"description": "`validation_error`; `invalid_report_parameter` (a `dated_by` the report does "
                                    "not offer, `limit` out of range, `limit` or `cursor` on a report that is not a "
                                    "list); `invalid_cursor`", **PROBLEM_CONTENT}},
)
async def report(request: Request, report: str, key: ApiKey, window: Annotated[Window, Query()]) -> JSONResponse:
    result = await call_api(await reporting_pool(request), queries.ANALYTICS_REPORT, report, window.date_from,
                            window.date_to, window.dated_by, window.limit, window.cursor, key)
    return JSONResponse(result)
