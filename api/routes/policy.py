"""Policy as data over HTTP: scoring rules and settings (GET for supervisors and admins, PUT for admins; each change
audited by the database, GET /api/v1/policy/changes), the preview of a rule change, and the reference data a form
needs (GET /api/v1/sources | areas | languages). One api function each (43_api_policy.sql)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import JSONResponse

from api import queries
from api.auth import ApiKey, auth_responses, roles_note
from api.deps import call_api, get_pool
from api.errors import PROBLEM_CONTENT
from api.schemas.queries import PageQuery
from api.schemas.resources import (
    AreaList,
    LanguageList,
    PolicyChangePage,
    ScoringPreview,
    ScoringPreviewRequest,
    ScoringRule,
    ScoringRuleList,
    ScoringRulePut,
    Setting,
    SettingList,
    SettingPut,
    SourceList,
)

router = APIRouter(prefix="/api/v1/policy", tags=["policy"])
reference = APIRouter(prefix="/api/v1", tags=["reference"])

RuleKey = Annotated[str, Path(pattern=r"^[a-z][a-z0-9_]{0,62}$", description="The rule's key, e.g. budget_1m_2m.")]
SettingKey = Annotated[str, Path(pattern=r"^[a-z][a-z0-9_]{0,62}$", description="The setting's key.")]


@router.get("/scoring-rules", response_model=ScoringRuleList, summary="Every scoring rule",
            description=roles_note("read_policy").strip(), responses=auth_responses("read_policy"))
async def scoring_rules(request: Request, key: ApiKey) -> JSONResponse:
    return JSONResponse(await call_api(await get_pool(request), queries.SCORING_RULES, key))


@router.post("/scoring-rules/preview", response_model=ScoringPreview,
             summary="Score a sample lead under today's rules and under proposed changes, saving nothing",
             description=roles_note("read_policy").strip(),
             responses={**auth_responses("read_policy"),
                        404: {"description": "`scoring_rule_not_found`", **PROBLEM_CONTENT},
                        422: {"description": "`validation_error`, `unknown_source`, a rule CHECK", **PROBLEM_CONTENT}})
async def preview_scoring(request: Request, body: ScoringPreviewRequest, key: ApiKey) -> JSONResponse:
    rules = [rule.to_sql() | {"rule_key": rule.rule_key} for rule in body.rules]
    return JSONResponse(await call_api(await get_pool(request), queries.PREVIEW_SCORING, body.lead, rules, key))


@router.put("/scoring-rules/{rule}", response_model=ScoringRule, summary="Change a scoring rule (or create it)",
            description="Points and conditions are validated by the database (the CHECKs of the rules table). A new "
                        "rule needs its `factor` (201)." + roles_note("manage_policy"),
            responses={**auth_responses("manage_policy"), 201: {"model": ScoringRule, "description": "Created."},
                       404: {"description": "`scoring_rule_not_found` (new and no factor)", **PROBLEM_CONTENT},
                       422: {"description": "`validation_error`, `lead_scoring_rules_*`", **PROBLEM_CONTENT}})
async def put_scoring_rule(request: Request, rule: RuleKey, body: ScoringRulePut, key: ApiKey) -> JSONResponse:
    result = await call_api(await get_pool(request), queries.PUT_SCORING_RULE, rule, body.to_sql(), key)
    return JSONResponse(result["body"], status_code=result["status"])


@router.get("/settings", response_model=SettingList, summary="Every setting with its value, shape and meaning",
            description=roles_note("read_policy").strip(), responses=auth_responses("read_policy"))
async def settings(request: Request, key: ApiKey) -> JSONResponse:
    return JSONResponse(await call_api(await get_pool(request), queries.SETTINGS, key))


@router.put("/settings/{setting}", response_model=Setting, summary="Change a setting",
            description="The value must have the setting's shape (docs/api.md): a bad one is 422 `setting_shape` "
                        "naming what is wrong, and nothing changes." + roles_note("manage_policy"),
            responses={**auth_responses("manage_policy"),
                       404: {"description": "`setting_not_found`", **PROBLEM_CONTENT},
                       422: {"description": "`validation_error`, `setting_shape`", **PROBLEM_CONTENT}})
async def put_setting(request: Request, setting: SettingKey, body: SettingPut, key: ApiKey) -> JSONResponse:
    return JSONResponse(await call_api(await get_pool(request), queries.PUT_SETTING, setting, body.value, key))


@router.get("/changes", response_model=PolicyChangePage, summary="Who changed which policy when, old and new",
            description="Newest first, one keyset page." + roles_note("read_policy"),
            responses={**auth_responses("read_policy"),
                       422: {"description": "`validation_error`, `invalid_cursor`", **PROBLEM_CONTENT}})
async def policy_changes(request: Request, key: ApiKey, query: Annotated[PageQuery, Query()]) -> JSONResponse:
    return JSONResponse(await call_api(await get_pool(request), queries.POLICY_CHANGES, query.limit, query.cursor,
                                       key))


@reference.get("/sources", response_model=SourceList, summary="Lead sources (for forms)",
               description=roles_note("reference").strip(), responses=auth_responses("reference"))
async def sources(request: Request, key: ApiKey) -> JSONResponse:
    return JSONResponse(await call_api(await get_pool(request), queries.REFERENCE, "sources", key))


@reference.get("/areas", response_model=AreaList, summary="Dubai areas with their aliases (for forms)",
               description=roles_note("reference").strip(), responses=auth_responses("reference"))
async def areas(request: Request, key: ApiKey) -> JSONResponse:
    return JSONResponse(await call_api(await get_pool(request), queries.REFERENCE, "areas", key))


@reference.get("/languages", response_model=LanguageList, summary="Languages we route on (for forms)",
               description=roles_note("reference").strip(), responses=auth_responses("reference"))
async def languages(request: Request, key: ApiKey) -> JSONResponse:
    return JSONResponse(await call_api(await get_pool(request), queries.REFERENCE, "languages", key))
