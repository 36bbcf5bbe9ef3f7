"""Webhook subscriptions (admins): create (the answer shows the signing secret once), list, read, change, delete;
the delivery log of one, a redelivery; the topics. One api function each (44_api_webhooks.sql). Events themselves are
written by the database (27_crm_events.sql) and sent by the dispatcher (api/dispatcher.py); docs/events.md."""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from typing import Annotated
from urllib.parse import urlsplit
from uuid import UUID

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import JSONResponse

from api import queries
from api.auth import ApiKey, auth_responses, roles_note
from api.deps import call_api, get_pool
from api.errors import PROBLEM_CONTENT
from api.schemas.webhooks import (
    Delivery,
    DeliveryPage,
    DeliveryQuery,
    EventTopicList,
    Webhook,
    WebhookCreate,
    WebhookDeleted,
    WebhookList,
    WebhookPatch,
)

router = APIRouter(prefix="/api/v1/webhooks", tags=["webhooks"])
DeliveryId = Annotated[int, Path(ge=1, le=2**63 - 1, description="The delivery's id (its event's id).")]
RESOLVE_TIMEOUT_S = 2.0
URL_PROBLEMS = {"description": "`validation_error`, `unknown_topic`, `webhook_url_refused` (a loopback, private or "
                               "link-local target, unless allowed), `webhook_agent_unknown`", **PROBLEM_CONTENT}


async def resolve_host(url: str) -> list[str] | None:
    """The addresses the url's host name resolves to, for the database's SSRF rule (crm.webhook_target_refusal);
    None for an address literal (the database reads it itself); [] when the name does not resolve in time."""
    host = urlsplit(url).hostname or ""
    try:
        ipaddress.ip_address(host)
        return None
    except ValueError:
        pass
    loop = asyncio.get_running_loop()
    try:
        async with asyncio.timeout(RESOLVE_TIMEOUT_S):
            infos = await loop.getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except (OSError, TimeoutError, UnicodeError, ValueError):
        return []   # unresolvable (or not a name a resolver takes): the database refuses it while it refuses private
    return sorted({str(info[4][0]).split("%")[0] for info in infos})


@router.get("/topics", response_model=EventTopicList, summary="The event topics a subscription may name",
            description="Each with the version of its payload's schema (docs/events.md)."
                        + roles_note("manage_webhooks"),
            responses=auth_responses("manage_webhooks"))
async def event_topics(request: Request, key: ApiKey) -> JSONResponse:
    return JSONResponse(await call_api(await get_pool(request), queries.EVENT_TOPICS, key))


@router.post("", response_model=Webhook, status_code=201, summary="Subscribe a URL to events",
             description="The answer carries the signing `secret` this once (GET shows its last characters only); "
                         "keep it to check `X-ThinkRealty-Signature` (docs/events.md)." + roles_note("manage_webhooks"),
             responses={**auth_responses("manage_webhooks"), 422: URL_PROBLEMS})
async def create_webhook(request: Request, body: WebhookCreate, key: ApiKey) -> JSONResponse:
    addresses = await resolve_host(body.url)
    webhook = await call_api(await get_pool(request), queries.CREATE_WEBHOOK, body.to_sql(), addresses, key)
    return JSONResponse(webhook, status_code=201, headers={"Location": f"/api/v1/webhooks/{webhook['webhook_id']}"})


@router.get("", response_model=WebhookList, summary="Every subscription",
            description="Oldest first, with their state and pending deliveries; never a secret."
                        + roles_note("manage_webhooks"),
            responses=auth_responses("manage_webhooks"))
async def list_webhooks(request: Request, key: ApiKey) -> JSONResponse:
    return JSONResponse(await call_api(await get_pool(request), queries.WEBHOOKS, key))


@router.get("/{webhook_id}", response_model=Webhook, summary="One subscription",
            description=roles_note("manage_webhooks").strip(),
            responses={**auth_responses("manage_webhooks"),
                       404: {"description": "`webhook_not_found`", **PROBLEM_CONTENT}})
async def get_webhook(request: Request, webhook_id: UUID, key: ApiKey) -> JSONResponse:
    return JSONResponse(await call_api(await get_pool(request), queries.GET_WEBHOOK, webhook_id, key))


@router.patch("/{webhook_id}", response_model=Webhook,
              summary="Change a subscription, enable it again, rotate its secret",
              description="`is_active: true` re-enables one a 410 disabled: its pending deliveries resume. "
                          "`rotate_secret: true` answers the new secret this once." + roles_note("manage_webhooks"),
              responses={**auth_responses("manage_webhooks"),
                         404: {"description": "`webhook_not_found`", **PROBLEM_CONTENT}, 422: URL_PROBLEMS})
async def patch_webhook(request: Request, webhook_id: UUID, body: WebhookPatch, key: ApiKey) -> JSONResponse:
    addresses = await resolve_host(body.url) if body.url else None
    return JSONResponse(await call_api(await get_pool(request), queries.PATCH_WEBHOOK, webhook_id, body.to_sql(),
                                       addresses, key))


@router.delete("/{webhook_id}", response_model=WebhookDeleted, summary="Delete a subscription and its delivery log",
               description=roles_note("manage_webhooks").strip(),
               responses={**auth_responses("manage_webhooks"),
                          404: {"description": "`webhook_not_found`", **PROBLEM_CONTENT}})
async def delete_webhook(request: Request, webhook_id: UUID, key: ApiKey) -> JSONResponse:
    return JSONResponse(await call_api(await get_pool(request), queries.DELETE_WEBHOOK, webhook_id, key))


@router.get("/{webhook_id}/deliveries", response_model=DeliveryPage,
            summary="The delivery log: each event sent, its state and every attempt",
            description="Newest first, one keyset page; `state` filters (pending, delivered, dead). Each attempt has "
                        "its HTTP status, duration, error and the next try." + roles_note("manage_webhooks"),
            responses={**auth_responses("manage_webhooks"),
                       404: {"description": "`webhook_not_found`", **PROBLEM_CONTENT},
                       422: {"description": "`validation_error`, `invalid_cursor`", **PROBLEM_CONTENT}})
async def webhook_deliveries(request: Request, webhook_id: UUID, key: ApiKey,
                             query: Annotated[DeliveryQuery, Query()]) -> JSONResponse:
    return JSONResponse(await call_api(await get_pool(request), queries.WEBHOOK_DELIVERIES, webhook_id, query.state,
                                       query.limit, query.cursor, key))


@router.post("/{webhook_id}/deliveries/{delivery_id}/redeliver", status_code=202, response_model=Delivery,
             summary="Send a delivery again (delivered, dead or pending)",
             description="It is due at once; the dispatcher sends it after any earlier pending delivery of its lead."
                         + roles_note("manage_webhooks"),
             responses={**auth_responses("manage_webhooks"),
                        404: {"description": "`webhook_not_found`, `webhook_delivery_not_found`", **PROBLEM_CONTENT},
                        409: {"description": "`webhook_inactive`: enable the subscription first", **PROBLEM_CONTENT}})
async def redeliver(request: Request, webhook_id: UUID, delivery_id: DeliveryId, key: ApiKey) -> JSONResponse:
    return JSONResponse(await call_api(await get_pool(request), queries.REDELIVER_WEBHOOK, webhook_id, delivery_id,
                                       key), status_code=202)
