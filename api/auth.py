"""API keys: the route reads the key (X-API-Key, or Authorization: Bearer); the database checks it.

Every call runs as one statement `SELECT api.x(..., ctx.actor) FROM api.begin_request(key) AS ctx`:
api.begin_request hashes the key, finds it by its prefix, refuses a revoked one and makes its holder the caller of
the transaction (for row-level security and the audit trail); api.x then checks the endpoint matrix
(crm.api_permissions) itself. Where no api function runs (a cached dashboard, the analytics reports), the route
names the action and begin_request checks it. Nothing is cached here, so a revoked key fails on its next request.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Security
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from api.errors import PROBLEM_CONTENT, WWW_AUTHENTICATE, Problem

_header = APIKeyHeader(name="X-API-Key", auto_error=False, scheme_name="ApiKey",
                       description="An API key (`trk_<prefix>_<secret>`); `crmctl keys create` makes one.")
_bearer = HTTPBearer(auto_error=False, scheme_name="Bearer", description="The same API key as a bearer token.")

# who may call what, for the OpenAPI descriptions and the README; the database's crm.api_permissions is the rule
# (tests/api/test_access.py checks that the two agree). "own": an agent key, on its own leads or dashboard only.
ENDPOINT_ROLES: dict[str, tuple[str, ...]] = {
    "capture": ("integration", "supervisor", "admin"),
    "update_lead": ("agent (own leads)", "supervisor", "admin"),
    "dashboard": ("agent (own dashboard)", "supervisor", "admin"),
    "reassign_lead": ("supervisor", "admin"),
    "analytics": ("supervisor", "admin"),
    "dead_letters": ("supervisor", "admin"),
    "read_leads": ("agent (own leads)", "supervisor", "admin"),
    "edit_lead": ("agent (own leads)", "supervisor", "admin"),
    "follow_ups": ("agent (own follow-ups)", "supervisor", "admin"),
    "read_agents": ("agent (own record)", "supervisor", "admin"),
    "manage_agents": ("supervisor", "admin"),
    "read_policy": ("supervisor", "admin"),
    "manage_policy": ("admin",),
    "reference": ("integration", "agent", "supervisor", "admin"),
    "manage_webhooks": ("admin",),
    "manage_availability": ("supervisor", "admin"),
    "respond_offer": ("agent (own leads)", "supervisor", "admin"),
    "claim_lead": ("agent (own: claims for itself)",),
    "pond": ("agent", "supervisor", "admin"),
    "pause": ("agent (own)", "supervisor", "admin"),
}


def roles_note(action: str) -> str:
    return "\n\nAllowed API key roles: " + ", ".join(ENDPOINT_ROLES[action]) + "."


def auth_responses(action: str) -> dict[int | str, dict[str, object]]:
    """The 401 and 403 every protected route can answer, for OpenAPI."""
    return {
        401: {"description": "`api_key_missing` (no X-API-Key / Bearer) or `api_key_invalid` (unknown or revoked)",
              **PROBLEM_CONTENT},
        403: {"description": f"`forbidden`: the key's role may not do this ({', '.join(ENDPOINT_ROLES[action])} may)",
              **PROBLEM_CONTENT},
    }


async def api_key(header: Annotated[str | None, Security(_header)] = None,
                  bearer: Annotated[HTTPAuthorizationCredentials | None, Security(_bearer)] = None) -> str:
    """The key the caller sent; a request without one stops here (401), before any work or any dead letter."""
    key = header or (bearer.credentials if bearer else None)
    if not key:
        raise Problem(401, "api_key_missing", "No API key was presented: send X-API-Key (or Authorization: Bearer).",
                      headers={"WWW-Authenticate": WWW_AUTHENTICATE})
    if len(key) > 200:
        raise Problem(401, "api_key_invalid", "The API key is unknown or revoked.",
                      headers={"WWW-Authenticate": WWW_AUTHENTICATE})
    return key


ApiKey = Annotated[str, Depends(api_key)]
