"""Webhook subscriptions and their deliveries (api/routes/webhooks.py; rules: db/functions/44_api_webhooks.sql)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit
from uuid import UUID

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints, model_validator

from api.schemas.queries import PageQuery

Topic = Annotated[str, StringConstraints(min_length=1, max_length=100, pattern=r"^(\*|[a-z_]+\.[a-z_]+)$")]
Description = Annotated[str, StringConstraints(strip_whitespace=True, max_length=500)]


def _host_name_ok(host: str) -> bool:
    """A host name whose labels are 1 to 63 characters once IDNA-encoded (what a resolver accepts)."""
    try:
        encoded = host.rstrip(".").encode("idna")
    except UnicodeError:
        return False
    return all(0 < len(label) <= 63 for label in encoded.split(b".")) and len(encoded) <= 253


def _web_url(value: str) -> str:
    """http or https, a valid host, a port 1-65535, no user name or password, no fragment. Normalised: scheme and
    host in lower case, a "/" before a query that follows the host. The database decides what the host may be."""
    parts = urlsplit(value)
    if parts.scheme.lower() not in ("http", "https"):
        raise ValueError("the url must be http or https")
    if not parts.hostname:
        raise ValueError("the url has no host")
    if parts.username is not None or parts.password is not None or "@" in parts.netloc:
        raise ValueError("the url may not carry a user name or password")
    if parts.fragment or "#" in value:
        raise ValueError("the url may not have a fragment")
    try:
        port = parts.port
    except ValueError as exc:
        raise ValueError("the url's port is not valid") from exc
    if port == 0:
        raise ValueError("the url's port is not valid")
    if not parts.netloc.startswith("[") and not _host_name_ok(parts.hostname):
        raise ValueError("the url's host is not a valid name")
    netloc = parts.netloc.lower()
    return f"{parts.scheme.lower()}://{netloc}{parts.path or ('/' if parts.query else '')}" + (
        f"?{parts.query}" if parts.query else "")


WebUrl = Annotated[str, StringConstraints(strip_whitespace=True, min_length=10, max_length=2000,
                                          pattern=r"^[^\s]+$"), AfterValidator(_web_url)]

EXAMPLE: dict[str, Any] = {"url": "https://hooks.example-gateway.ae/thinkrealty",
                           "topics": ["lead.assigned", "lead.reassigned"],
                           "description": "WhatsApp gateway: tell the agent at once", "agent_id": None}


class WebhookCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [dict(EXAMPLE)]})

    url: WebUrl = Field(description="Where events are POSTed (http or https). Loopback, link-local and private "
                                    "addresses are refused unless the setting webhook_allow_private_targets is true.")
    topics: list[Topic] = Field(min_length=1, max_length=50,
                                description="Topics to receive (GET /api/v1/webhooks/topics), or [\"*\"] for all.")
    description: Description | None = None
    agent_id: UUID | None = Field(default=None, description="Only events about this agent's leads, tasks and capacity.")
    is_active: bool = True

    def to_sql(self) -> dict[str, Any]:
        return self.model_dump(mode="json")


class WebhookPatch(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"is_active": True}, {"topics": ["*"]}, {"rotate_secret": True}]})

    url: WebUrl | None = None
    topics: list[Topic] | None = Field(default=None, min_length=1, max_length=50)
    description: Description | None = None
    agent_id: UUID | None = Field(default=None, description="null: events about every agent")
    is_active: bool | None = None
    rotate_secret: bool | None = Field(default=None, description="true: a new signing secret, answered this once")

    @model_validator(mode="after")
    def _something(self) -> WebhookPatch:
        if not self.model_fields_set:
            raise ValueError("name at least one field to change")
        for name in ("url", "topics", "is_active", "rotate_secret"):
            if name in self.model_fields_set and getattr(self, name) is None:
                raise ValueError(f"{name} cannot be null")
        return self

    def to_sql(self) -> dict[str, Any]:
        return self.model_dump(mode="json", include=self.model_fields_set)


class Webhook(BaseModel):
    webhook_id: UUID
    url: str
    topics: list[str]
    agent_id: UUID | None
    description: str | None
    is_active: bool
    disabled_at: datetime | None
    disabled_reason: str | None
    secret: str | None = Field(description="The signing secret: only in the answer to a creation or a rotation.")
    secret_hint: str
    pending_deliveries: int
    created_at: datetime
    created_by: str
    updated_at: datetime


class WebhookList(BaseModel):
    items: list[Webhook]


class WebhookDeleted(BaseModel):
    webhook_id: UUID
    deleted: bool


class EventTopic(BaseModel):
    topic: str
    version: int
    description: str


class EventTopicList(BaseModel):
    items: list[EventTopic]


class DeliveryAttempt(BaseModel):
    attempt: int
    attempted_at: datetime
    outcome: Literal["delivered", "failed", "gone", "dead"]
    status_code: int | None
    duration_ms: float | None
    error: str | None
    next_attempt_at: datetime | None


class Delivery(BaseModel):
    delivery_id: int = Field(description="The delivery's id: its event's id (one delivery per event and subscription)")
    event_id: int
    topic: str
    lead_id: UUID | None
    occurred_at: datetime
    state: Literal["pending", "delivered", "dead"]
    attempts: int
    next_attempt_at: datetime | None
    delivered_at: datetime | None
    dead_at: datetime | None
    attempt_log: list[DeliveryAttempt]


class DeliveryPage(BaseModel):
    items: list[Delivery]
    next: str | None


class DeliveryQuery(PageQuery):
    state: Literal["pending", "delivered", "dead"] | None = Field(default=None,
                                                                 description="Only deliveries in this state.")
