"""The scoring engine (crm.score_lead through api.score_lead and api.capture_lead): the documented examples,
the direction of every factor, clamping, and rules as data."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg.types.json import Jsonb

from tests.db.factories import capture, new_agent

DOCS = Path(__file__).resolve().parents[2] / "docs" / "business-rules.md"


def score(conn: psycopg.Connection, source: str = "website", details: dict[str, Any] | None = None,
          **lead: Any) -> int:
    body = {"source_type": source, "lead_data": lead, "source_details": details or {}}
    row = conn.execute("SELECT api.score_lead(%s)", (Jsonb(body),)).fetchone()
    assert row is not None
    return int(row[0]["score"])


def documented_examples() -> list[dict[str, Any]]:
    block = re.search(r"```json scoring-examples\n(.*?)```", DOCS.read_text(), re.S)
    assert block, "docs/business-rules.md lost its scoring-examples block"
    examples: list[dict[str, Any]] = json.loads(block.group(1))
    assert len(examples) >= 3
    return examples


@pytest.mark.parametrize("example", documented_examples(), ids=lambda e: f"{e['source_type']}-{e['score']}")
def test_documented_examples(db: psycopg.Connection, example: dict[str, Any]) -> None:
    details = dict(example.get("source_details", {}))
    assert score(db, example["source_type"], details, **example["lead_data"]) == example["score"]


def test_capture_stores_the_same_score_and_its_breakdown(db: psycopg.Connection) -> None:
    new_agent(db)
    example = documented_examples()[0]
    body = capture(db, example["source_type"], **example["lead_data"])["body"]
    assert body["lead_score"] == example["score"]
    rules = {item["rule"]: item["points"] for item in body["score_breakdown"]}
    assert rules == {"source_quality": 45, "budget_1m_2m": 20, "nationality_uae": 10, "property_apartment": 5}
    row = db.execute("SELECT score, score_breakdown FROM crm.leads WHERE lead_id = %s", (body["lead_id"],)).fetchone()
    assert row is not None and row[0] == example["score"] and row[1] == body["score_breakdown"]


def test_higher_budget_never_scores_lower(db: psycopg.Connection) -> None:
    budgets = [0, 100_000, 499_999, 500_000, 999_999, 1_000_000, 2_000_000, 5_000_000, 10_000_000, 50_000_000]
    scores = [score(db, budget_max=b) for b in budgets]
    assert scores == sorted(scores) and scores[0] < scores[-1]
    assert score(db, budget_min=3_000_000) == score(db, budget_max=3_000_000)  # min alone is used when max is absent
    assert score(db) < score(db, budget_max=100)  # any budget beats none


def test_source_quality_orders_sources(db: psycopg.Connection) -> None:
    by_source = {s: score(db, s) for s in ("bayut", "propertyFinder", "website", "dubizzle", "walk_in")}
    assert by_source == {"bayut": 45, "propertyFinder": 43, "website": 40, "dubizzle": 38, "walk_in": 35}


@pytest.mark.parametrize(("nationality", "bonus"), [
    ("UAE", 10), ("AE", 10), ("Emirati", 10), ("United Arab Emirates", 10), ("  uae ", 10), ("إماراتي", 10),
    ("Saudi", 5), ("KSA", 5), ("Omani", 5), ("qatari", 5),
    ("Romanian", 0), ("Indian", 0), ("British", 0), ("Martian", 0), ("oman-ish", 0),
])
def test_nationality(db: psycopg.Connection, nationality: str, bonus: int) -> None:
    assert score(db, nationality=nationality) - score(db) == bonus


def test_property_type_referral_and_response_time(db: psycopg.Connection) -> None:
    base = score(db)
    types = ("villa", "commercial", "townhouse", "apartment")
    assert [score(db, property_type=t) - base for t in types] == [8, 7, 6, 5]
    assert score(db, "referral") == 53  # 0.5 x 85 + 10 = 52.5, rounded half up
    agent = new_agent(db)
    assert score(db, details={"referrer_agent_id": agent}) - base == 10
    assert score(db, details={"referrer_agent_id": "00000000-0000-0000-0000-000000000000"}) == base  # unknown agent
    hour = 3600
    deltas = [score(db, response_seconds=s) - base for s in (0, hour - 1, hour, 4 * hour - 1, 4 * hour, 24 * hour)]
    assert deltas == [10, 10, 5, 5, 0, -5]


def test_clamped_to_0_and_100(db: psycopg.Connection) -> None:
    top = {"budget_max": 20_000_000, "property_type": "villa", "nationality": "UAE"}
    assert score(db, "referral", **top) == 100  # 42.5 + 10 + 35 + 8 + 10 = 105.5
    db.execute("UPDATE crm.lead_scoring_rules SET points = -100 WHERE rule_key = 'response_after_24h'")
    assert score(db, "walk_in", response_seconds=30 * 3600) == 0


def test_a_rule_edit_changes_the_next_score_without_a_deploy(db: psycopg.Connection) -> None:
    new_agent(db)
    before = capture(db, "bayut", nationality="UAE")["body"]["lead_score"]
    db.execute("UPDATE crm.lead_scoring_rules SET points = 25 WHERE rule_key = 'nationality_uae'")
    db.execute("UPDATE crm.lead_sources SET quality_score = 50 WHERE source_type = 'bayut'")
    after = capture(db, "bayut", nationality="UAE")["body"]["lead_score"]
    assert (before, after) == (55, 50)  # 45 + 10, then 25 + 25
    db.execute("UPDATE crm.lead_scoring_rules SET is_active = false WHERE factor = 'nationality'")
    assert capture(db, "bayut", nationality="UAE")["body"]["lead_score"] == 25


def mismatches(conn: psycopg.Connection) -> dict[str, dict[str, Any]]:
    return {r[0]: r[1] for r in conn.execute(
        "SELECT entity_id, detail FROM reporting.invariant_violations WHERE rule = 'capture_score_mismatch'")}


def test_a_capture_score_the_rules_did_not_give_is_reported(db: psycopg.Connection) -> None:
    """The invariant capture_score_mismatch: a stored capture score (the score a lead was inserted with, and its
    breakdown) that is not what crm.score_lead gives for the inputs the lead was captured with."""
    new_agent(db)
    captured = capture(db, "bayut", budget_max=1_500_000, nationality="UAE")["body"]["lead_id"]
    assert mismatches(db) == {}
    # an agent's later edit of an input leaves the capture score as it was: compared with the captured inputs
    db.execute("UPDATE crm.leads SET budget_max = 20000000, property_type = 'villa' WHERE lead_id = %s", (captured,))
    assert mismatches(db) == {}
    # an owner's UPDATE that bypasses scoring: a rule dropped from the breakdown
    db.execute("UPDATE crm.leads SET score_breakdown = score_breakdown - 0 WHERE lead_id = %s", (captured,))
    tampered = mismatches(db)[captured]
    assert (tampered["captured_score"], tampered["rules_score"]) == (75, 75)
    assert len(tampered["stored_breakdown"]) == len(tampered["rules_breakdown"]) - 1
    # a lead scored in SQL by a restated rule: the old demo data gave a UAE national the GCC bonus too
    restated = db.execute("""
        INSERT INTO crm.leads (source_type, first_name, last_name, phone, nationality, score, score_breakdown)
        SELECT 'website', 'Hamdan', 'Restated', '+971501230001', 'AE', (s ->> 'score')::smallint + 5,
               s -> 'breakdown' || '[{"rule": "nationality_gcc", "factor": "nationality", "points": 5}]'
          FROM crm.score_lead('website', NULL, NULL, 'AE', NULL, false) AS s
        RETURNING lead_id::text""").fetchone()
    assert restated is not None
    assert {k: (v["captured_score"], v["rules_score"]) for k, v in mismatches(db).items()} == {
        captured: (75, 75), restated[0]: (55, 50)}
    # a rule edited later does not make the leads captured before it wrong (the rules keep no history) ...
    db.execute("UPDATE crm.lead_scoring_rules SET points = 15 WHERE rule_key = 'nationality_uae'")
    assert mismatches(db) == {}
    # ... and the leads captured after it are held to it
    after = capture(db, "bayut", nationality="UAE")["body"]
    assert after["lead_score"] == 60 and mismatches(db) == {}
    db.execute("UPDATE crm.leads SET score_breakdown = '[]' WHERE lead_id = %s", (after["lead_id"],))
    assert list(mismatches(db)) == [after["lead_id"]]


def test_an_unscored_lead_is_reported(db: psycopg.Connection) -> None:
    """A lead inserted without a score (the column defaults: 0, no breakdown) did not get what the rules give."""
    lead = db.execute("INSERT INTO crm.leads (source_type, first_name, last_name, phone) "
                      "VALUES ('walk_in', 'No', 'Score', '+971501230002') RETURNING lead_id::text").fetchone()
    assert lead is not None
    detail = mismatches(db)[lead[0]]
    assert (detail["captured_score"], detail["rules_score"], detail["stored_breakdown"]) == (0, 35, [])
