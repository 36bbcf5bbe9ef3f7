"""Agent availability (api/routes/agents.py: schedule, absences, pause; the rules in 28_crm_availability.sql
and 45_api_availability.sql). Validated here so a bad range is a 422 naming its field; the database checks again."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints, model_validator

from api.schemas.queries import PageQuery

HHMM = r"^([01][0-9]|2[0-3]):[0-5][0-9]$|^24:00$"


def _minutes(value: str) -> int:
    hours, minutes = value.split(":")
    return int(hours) * 60 + int(minutes)


def _aware(value: dt.datetime) -> dt.datetime:
    if value.tzinfo is None:
        raise ValueError("give a time zone offset (e.g. +04:00 or Z)")
    if not 1970 <= value.year <= 2200:
        raise ValueError("give a time between 1970 and 2200")
    return value


AwareTime = Annotated[dt.datetime, AfterValidator(_aware)]
ClockTime = Annotated[str, StringConstraints(pattern=HHMM), Field(examples=["09:00", "24:00"])]


class WorkingRange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    day: int = Field(ge=1, le=7, description="ISO weekday: 1 Monday ... 7 Sunday")
    start: ClockTime = Field(description="HH:MM, local time of the business time zone (00:00 to 23:59)")
    end: ClockTime = Field(description="HH:MM, after start; 24:00 runs to midnight")

    @model_validator(mode="after")
    def _order(self) -> WorkingRange:
        if self.start == "24:00" or _minutes(self.end) <= _minutes(self.start):
            raise ValueError("end must come after start, within the day (00:00 to 24:00)")
        return self


SPLIT_SHIFTS: list[Any] = [{"day": d, "start": "09:00", "end": "13:00"} for d in range(1, 6)] + [
    {"day": d, "start": "16:00", "end": "20:00"} for d in range(1, 6)]


class ScheduleBody(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"hours": SPLIT_SHIFTS}, {"hours": []}]})

    hours: list[WorkingRange] = Field(max_length=100, description="Every working range; [] = the office's hours.")

    @model_validator(mode="after")
    def _no_overlap(self) -> ScheduleBody:
        for i, late in enumerate(self.hours):
            for early in self.hours[:i]:
                if early.day == late.day and _minutes(early.start) < _minutes(late.end) \
                        and _minutes(late.start) < _minutes(early.end):
                    raise ValueError(f"hours.{i} overlaps another range of day {late.day}")
        return self

    def to_sql(self) -> list[dict[str, Any]]:
        return [r.model_dump() for r in self.hours]


class Availability(BaseModel):
    available_now: bool
    reason: Literal["inactive", "paused", "absent", "off_shift"] | None
    available_from: dt.datetime | None
    paused_until: dt.datetime | None
    pause_reason: str | None
    uses_office_hours: bool


class Schedule(BaseModel):
    agent_id: UUID
    timezone: str
    uses_office_hours: bool
    hours: list[WorkingRange]
    availability: Availability


class AbsenceBody(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"starts_at": "2026-12-20T00:00:00+04:00", "ends_at": "2026-12-27T00:00:00+04:00", "reason": "leave",
         "note": "Annual leave"}]})

    starts_at: AwareTime
    ends_at: AwareTime
    reason: Literal["leave", "sick", "training", "other"]
    note: Annotated[str, StringConstraints(strip_whitespace=True, max_length=500)] | None = None

    @model_validator(mode="after")
    def _order(self) -> AbsenceBody:
        if self.ends_at <= self.starts_at:
            raise ValueError("ends_at must come after starts_at")
        return self


class Absence(BaseModel):
    absence_id: UUID
    agent_id: UUID
    starts_at: dt.datetime
    ends_at: dt.datetime
    reason: str
    note: str | None
    created_at: dt.datetime
    created_by: str


class AbsencePage(BaseModel):
    items: list[Absence]
    next: str | None


class AbsenceDeleted(BaseModel):
    absence_id: UUID
    deleted: bool


class AbsenceQuery(PageQuery):
    include_past: bool = Field(default=False, description="true: also the absences that are over")


class PauseBody(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"minutes": 45, "reason": "viewing in Dubai Marina"}, {"until": "2026-12-01T15:30:00+04:00"}]})

    minutes: int | None = Field(default=None, ge=1, le=720, description="How long; or give `until`. Neither: 30.")
    until: AwareTime | None = None
    reason: Annotated[str, StringConstraints(strip_whitespace=True, max_length=200)] | None = None

    @model_validator(mode="after")
    def _one(self) -> PauseBody:
        if self.minutes is not None and self.until is not None:
            raise ValueError("give minutes or until, not both")
        return self

    def ends(self, now: dt.datetime) -> dt.datetime:
        return self.until or now + dt.timedelta(minutes=self.minutes or 30)
