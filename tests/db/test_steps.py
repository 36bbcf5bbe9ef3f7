"""The steps the entry points are outlines of, each alone: capture (24_crm_capture.sql), update (25_crm_update.sql),
the dashboard (37_api_dashboard.sql), agent choice (19_crm_assignment.sql) and performance (22_crm_performance.sql).
The entry points' own tests (test_capture.py, test_lifecycle.py, test_reporting.py) show the steps composed."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from typing import Any

import psycopg
import pytest
from psycopg.types.json import Jsonb

from tests.db.factories import assign, capture, db_error, new_agent, new_lead

NOW = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)  # a Monday, 13:00 in Dubai
DAYTIME = NOW
# the availability clock the routing steps take (t, its minute of the week, the office's hours): by day, at night
CLOCK = f"'{DAYTIME.isoformat()}'::timestamptz, crm.minute_of_week('{DAYTIME.isoformat()}'), crm.office_week()"
NIGHT = datetime(2026, 11, 30, 19, 0, tzinfo=UTC)  # 23:00 in Dubai
NIGHT_CLOCK = f"'{NIGHT.isoformat()}'::timestamptz, crm.minute_of_week('{NIGHT.isoformat()}'), crm.office_week()"


def one(conn: psycopg.Connection, sql: str, *args: Any) -> Any:
    row = conn.execute(sql, args).fetchone()
    assert row is not None
    return row[0]


def row(conn: psycopg.Connection, sql: str, *args: Any) -> dict[str, Any]:
    cur = conn.cursor(row_factory=psycopg.rows.dict_row)
    result = cur.execute(sql, args).fetchone()
    assert result is not None
    return dict(result)


# --- capture -----------------------------------------------------------------------------------------------------

def test_claim_dead_letter_refuses_a_missing_or_replayed_letter(db: psycopg.Connection) -> None:
    with db_error("PT404", "dead_letter_not_found"):
        db.execute("SELECT crm.claim_dead_letter(gen_random_uuid())")
    letter = one(db, "INSERT INTO crm.capture_dead_letters (raw_body, error_code) VALUES ('{}', 'test') "
                     "RETURNING dead_letter_id")
    db.execute("SELECT crm.claim_dead_letter(%s)", (letter,))  # a fresh one is claimed
    lead = new_lead(db)
    db.execute("UPDATE crm.capture_dead_letters SET replayed_at = now(), replayed_lead_id = %s "
               "WHERE dead_letter_id = %s", (lead, letter))
    with pytest.raises(psycopg.Error) as info:
        db.execute("SELECT crm.claim_dead_letter(%s)", (letter,))
    assert info.value.diag.constraint_name == "dead_letter_replayed"
    assert json.loads(info.value.diag.message_detail or "{}") == {"lead_id": lead}


def test_capture_receipt_answers_a_retry_and_refuses_a_reused_key(db: psycopg.Connection) -> None:
    assert one(db, "SELECT crm.capture_receipt(NULL, 'h')") is None
    assert one(db, "SELECT crm.capture_receipt('k-1', 'h')") is None
    lead = new_lead(db)
    db.execute("INSERT INTO crm.idempotency_keys (scope, idempotency_key, request_hash, response_status, "
               "response_body, lead_id) VALUES ('capture', 'k-1', 'h', 201, '{\"lead_id\": 1}', %s)", (lead,))
    assert one(db, "SELECT crm.capture_receipt('k-1', 'h')") == {"status": 201, "replayed": True,
                                                                  "body": {"lead_id": 1}}
    with db_error("PT422", "idempotency_key_reused"):
        db.execute("SELECT crm.capture_receipt('k-1', 'other')")


def test_require_source_refuses_unknown_and_inactive_unless_only_existence_is_asked(db: psycopg.Connection) -> None:
    assert one(db, "SELECT crm.require_source('bayut')") is True   # its is_active
    with db_error("PT422", "unknown_source"):
        db.execute("SELECT crm.require_source('nope')")
    db.execute("UPDATE crm.lead_sources SET is_active = false WHERE source_type = 'bayut'")
    with db_error("PT422", "source_inactive"):
        db.execute("SELECT crm.require_source('bayut')")
    assert one(db, "SELECT crm.require_source('bayut', false)") is False


def test_portal_resend_finds_the_first_lead_of_an_external_id(db: psycopg.Connection) -> None:
    new_agent(db)
    first = capture(db, "bayut", details={"external_id": "BY-1"})
    assert one(db, "SELECT crm.portal_resend('bayut', NULL)") is None
    assert one(db, "SELECT crm.portal_resend('dubizzle', 'BY-1')") is None
    again = one(db, "SELECT crm.portal_resend('bayut', 'BY-1')")
    assert again["replayed"] is True and again["body"]["lead_id"] == first["body"]["lead_id"]


def test_claim_phone_refuses_the_same_phone_from_the_same_source_only(db: psycopg.Connection) -> None:
    lead = new_lead(db, source="bayut", phone="+971501112233")
    assert one(db, "SELECT crm.claim_phone('website', '+971501112233')") is True
    with pytest.raises(psycopg.Error) as info:
        db.execute("SELECT crm.claim_phone('bayut', '+971501112233')")
    assert info.value.diag.constraint_name == "duplicate_lead"
    assert json.loads(info.value.diag.message_detail or "{}")["existing_lead_id"] == lead


def test_claim_phone_holds_the_phone_until_commit(db_url: str) -> None:
    with psycopg.connect(db_url) as first, psycopg.connect(db_url, autocommit=True) as second:
        first.execute("SELECT crm.claim_phone('bayut', '+971501112233')")
        second.execute("SET lock_timeout = '200ms'")
        with pytest.raises(psycopg.errors.LockNotAvailable):
            second.execute("SELECT crm.claim_phone('website', '+971501112233')")
        second.execute("SELECT crm.claim_phone('website', '+971509999999')")  # another phone is free
        first.rollback()
        second.execute("SELECT crm.claim_phone('website', '+971501112233')")


def test_map_capture_input_maps_exactly_and_keeps_what_does_not_map(db: psycopg.Connection) -> None:
    agent = new_agent(db)
    mapped = row(db, "SELECT * FROM crm.map_capture_input(%s, %s)",
                 Jsonb({"nationality": "Emirati", "language_preference": "Klingon",
                        "preferred_areas": ["Marina", "Dubai Marina", "Atlantis"]}),
                 Jsonb({"referrer_agent_id": agent, "property_id": "00000000-0000-0000-0000-000000000001"}))
    assert mapped["nationality"] == "AE" and mapped["language_preference"] is None
    assert mapped["preferred_areas"] == ["dubai_marina"]  # two spellings of one area count once
    assert str(mapped["referrer_agent_id"]) == agent and mapped["source_property_id"] is None
    assert mapped["unmatched_input"] == {"language_preference": "Klingon", "preferred_areas": ["Atlantis"],
                                         "property_id": "00000000-0000-0000-0000-000000000001"}
    assert [w["code"] for w in mapped["warnings"]] == ["language_unrecognized", "area_unrecognized",
                                                       "property_unknown"]
    empty = row(db, "SELECT * FROM crm.map_capture_input('{}', '{}')")
    assert (empty["preferred_areas"], empty["unmatched_input"], empty["warnings"]) == ([], {}, [])


def test_capture_score_counts_a_known_referrer_as_a_referral(db: psycopg.Connection) -> None:
    agent = new_agent(db)
    plain = one(db, "SELECT crm.capture_score('website', NULL, NULL, NULL, NULL, NULL)")
    referred = one(db, "SELECT crm.capture_score('website', NULL, NULL, NULL, NULL, %s)", agent)
    by_source = one(db, "SELECT crm.capture_score('referral', NULL, NULL, NULL, NULL, NULL)")
    assert "referral" in {r["factor"] for r in referred["breakdown"]}
    assert "referral" not in {r["factor"] for r in plain["breakdown"]}
    assert "referral" in {r["factor"] for r in by_source["breakdown"]}
    assert referred["score"] > plain["score"]


def test_earlier_inquiry_is_the_first_lead_of_the_phone_from_another_source_in_the_window(
        db: psycopg.Connection) -> None:
    agent = new_agent(db)
    first = new_lead(db, source="bayut", phone="+971501112233", created_at=NOW - timedelta(hours=5))
    assign(db, first, agent)
    second = new_lead(db, source="dubizzle", phone="+971501112233", created_at=NOW - timedelta(hours=2),
                      duplicate_of=first)
    found = row(db, "SELECT * FROM crm.earlier_inquiry('+971501112233', 'website', %s)", NOW)
    assert (str(found["lead_id"]), str(found["agent_id"])) == (first, agent)
    # from dubizzle itself, the bayut lead; a duplicate's match is its own first lead
    assert str(one(db, "SELECT lead_id FROM crm.earlier_inquiry('+971501112233', 'bayut', %s)", NOW)) == first
    assert second != first
    outside = row(db, "SELECT * FROM crm.earlier_inquiry('+971501112233', 'website', %s)", NOW + timedelta(days=2))
    assert outside == {"lead_id": None, "agent_id": None}


def test_choose_capture_agent_prefers_the_earlier_agent_and_warns_when_full(db: psycopg.Connection) -> None:
    free = new_agent(db)
    full = new_agent(db, max_active_leads=1)
    assign(db, new_lead(db), full)
    linked = row(db, "SELECT * FROM crm.choose_capture_agent(NULL, '{}', NULL, %s, %s)", free, NOW)
    assert (linked["decision"]["agent_id"], linked["decision"]["kind"]) == (free, "duplicate_link")
    assert linked["warnings"] == []
    moved = row(db, "SELECT * FROM crm.choose_capture_agent(NULL, '{}', NULL, %s, %s)", full, NOW)
    assert (moved["decision"]["agent_id"], moved["decision"]["kind"]) == (free, "auto")
    assert [w["code"] for w in moved["warnings"]] == ["duplicate_agent_unavailable"]
    fresh = row(db, "SELECT * FROM crm.choose_capture_agent(NULL, '{}', NULL, NULL, %s)", NOW)
    assert (fresh["decision"]["kind"], fresh["warnings"]) == ("auto", [])


def _store(db: psycopg.Connection, phone: str, decision: dict[str, Any]) -> Any:
    body = {"source_type": "bayut", "lead_data": {"first_name": "Sara", "last_name": "Store", "phone": phone},
            "source_details": {}}
    return one(db, "SELECT crm.store_captured_lead(%s, NULL, NULL, '{jvc,jvc_x}'::text[], NULL, NULL, '{}', "
                   "'{\"score\": 40, \"breakdown\": []}', %s, NULL, %s, 'step-test')",
               Jsonb(body), Jsonb(decision), NOW)


def test_store_captured_lead_queues_without_an_agent_and_yields_to_a_concurrent_twin(db: psycopg.Connection) -> None:
    db.execute("INSERT INTO crm.areas (area_code, name) VALUES ('jvc_x', 'JVC test') ON CONFLICT DO NOTHING")
    lead = _store(db, "+971501112233", {"agent_id": None, "method": "queued"})
    stored = row(db, "SELECT score, queued_at, created_at, created_by FROM crm.leads WHERE lead_id = %s", lead)
    assert stored == {"score": 40, "queued_at": NOW, "created_at": NOW, "created_by": "step-test"}  # the actor given
    assert one(db, "SELECT array_agg(area_code ORDER BY area_code) FROM crm.lead_preferred_areas "
                   "WHERE lead_id = %s", lead) == ["jvc", "jvc_x"]
    assert _store(db, "+971501112233", {"agent_id": None}) is None  # same source and phone: the other won
    assert one(db, "SELECT count(*) FROM crm.leads") == 1


def test_capture_race_lost_replays_a_portal_lead_or_names_the_winner(db: psycopg.Connection) -> None:
    new_agent(db)
    first = capture(db, "bayut", phone="+971501112233", details={"external_id": "BY-7"})
    assert one(db, "SELECT crm.capture_race_lost('bayut', 'BY-7', '+971501112233')")["body"]["lead_id"] == \
        first["body"]["lead_id"]
    with db_error("PT409", "duplicate_lead"):
        db.execute("SELECT crm.capture_race_lost('bayut', NULL, '+971501112233')")


def test_assign_captured_lead_records_the_decision_and_books_the_first_follow_up(db: psycopg.Connection) -> None:
    agent = new_agent(db)
    earlier, lead, queued = new_lead(db), new_lead(db), new_lead(db)
    follow = one(db, "SELECT crm.assign_captured_lead(%s, %s, %s, 85, %s, 'step-test')", lead,
                 Jsonb({"agent_id": agent, "kind": "duplicate_link"}), earlier, NOW)
    assert follow["sla"] == "sla_hot_lead" and follow["within_sla"] is True
    assigned = row(db, "SELECT agent_id::text, kind::text, reason, assigned_by FROM crm.lead_assignments "
                       "WHERE lead_id = %s", lead)
    assert assigned == {"agent_id": agent, "kind": "duplicate_link", "reason": f"same client as lead {earlier}",
                        "assigned_by": "step-test"}   # the actor the capture asked once, for both rows
    assert one(db, "SELECT created_by FROM crm.follow_up_tasks WHERE lead_id = %s", lead) == "step-test"
    assert one(db, "SELECT crm.assign_captured_lead(%s, '{\"agent_id\": null}', NULL, 85, %s, NULL)", queued,
               NOW) is None
    assert one(db, "SELECT count(*) FROM crm.lead_assignments WHERE lead_id = %s", queued) == 0


def test_note_duplicate_inquiry_tells_the_earlier_lead(db: psycopg.Connection) -> None:
    earlier, lead = new_lead(db), new_lead(db)
    assert one(db, "SELECT crm.note_duplicate_inquiry(NULL, %s, 'website', NULL, %s)", lead, NOW) is None
    assert one(db, "SELECT count(*) FROM crm.lead_activities") == 0
    noted = one(db, "SELECT crm.note_duplicate_inquiry(%s, %s, 'website', NULL, %s)", earlier, lead, NOW)
    assert noted == one(db, "SELECT activity_id FROM crm.lead_activities")   # the activity's id
    note = row(db, "SELECT lead_id::text, activity_type::text, details FROM crm.lead_activities")
    assert note == {"lead_id": earlier, "activity_type": "duplicate_inquiry",
                    "details": {"duplicate_lead_id": lead, "source_type": "website", "agent_id": None}}


def test_remember_capture_keeps_both_receipts_and_closes_the_dead_letter(db: psycopg.Connection) -> None:
    lead = new_lead(db)
    letter = one(db, "INSERT INTO crm.capture_dead_letters (raw_body, error_code) VALUES ('{}', 'test') "
                     "RETURNING dead_letter_id")
    assert one(db, "SELECT crm.remember_capture('k-9', 'bayut', 'BY-9', 'h', 201, '{}', %s, %s, %s)",
               lead, letter, NOW) is True   # receipts kept
    scopes = [r[0] for r in db.execute("SELECT scope FROM crm.idempotency_keys ORDER BY scope")]
    assert scopes == ["capture", "capture_external:bayut"]
    assert str(one(db, "SELECT replayed_lead_id FROM crm.capture_dead_letters WHERE dead_letter_id = %s", letter)) \
        == lead
    db.execute("SELECT crm.remember_capture(NULL, 'bayut', 'BY-9', 'h', 201, '{}', %s, NULL, %s)", (lead, NOW))
    assert one(db, "SELECT count(*) FROM crm.idempotency_keys") == 2  # a second receipt of one id is not an error


# --- agent choice ------------------------------------------------------------------------------------------------

def test_lock_preferred_agent_only_when_free(db: psycopg.Connection) -> None:
    free = new_agent(db)
    full = new_agent(db, max_active_leads=1)
    assign(db, new_lead(db), full)
    inactive = new_agent(db, is_active=False)
    paused = new_agent(db)
    db.execute("UPDATE crm.agents SET paused_until = %s WHERE agent_id = %s", (DAYTIME + timedelta(hours=1), paused))
    assert str(one(db, f"SELECT crm.lock_preferred_agent(%s, NULL, {CLOCK})", free)) == free
    for agent in (full, inactive, paused):
        assert one(db, f"SELECT crm.lock_preferred_agent(%s, NULL, {CLOCK})", agent) is None
    assert one(db, f"SELECT crm.lock_preferred_agent(%s, %s, {CLOCK})", free, free) is None  # excluded
    assert one(db, f"SELECT crm.lock_preferred_agent(NULL, NULL, {CLOCK})") is None
    # at night nobody is free; the night's pass takes an agent off shift, never a paused one
    assert one(db, f"SELECT crm.lock_preferred_agent(%s, NULL, {NIGHT_CLOCK})", free) is None
    assert str(one(db, f"SELECT crm.lock_preferred_agent(%s, NULL, {NIGHT_CLOCK}, false)", free)) == free


def test_lock_ranked_agent_skips_a_locked_agent(db_url: str) -> None:
    with psycopg.connect(db_url, autocommit=True) as setup:
        first, second = new_agent(setup), new_agent(setup)
    with psycopg.connect(db_url) as holder, psycopg.connect(db_url) as other:
        holder.execute("SELECT 1 FROM crm.agents WHERE agent_id = %s FOR NO KEY UPDATE", (first,))
        got = row(other, f"SELECT * FROM crm.lock_ranked_agent(%s::uuid[], false, {CLOCK})", [first, second])
        assert (str(got["agent_id"]), got["method"]) == (second, "ranked")
        other.rollback()
        holder.execute("SELECT 1 FROM crm.agents WHERE agent_id = %s FOR NO KEY UPDATE", (second,))
        nobody = row(other, f"SELECT * FROM crm.lock_ranked_agent(%s::uuid[], false, {CLOCK})", [first, second])
        assert nobody == {"agent_id": None, "method": None}


# --- update ------------------------------------------------------------------------------------------------------

def _lead_row(db: psycopg.Connection, lead: str) -> str:
    return "(SELECT l FROM crm.leads AS l WHERE l.lead_id = '" + lead + "')"


def test_log_activity_scores_the_activity_and_fulfils_the_due_follow_up(db: psycopg.Connection) -> None:
    agent = new_agent(db)
    lead = new_lead(db, created_at=NOW - timedelta(minutes=30))
    assign(db, lead, agent)
    task = one(db, "INSERT INTO crm.follow_up_tasks (lead_id, agent_id, task_type, priority, due_at) "
                   "VALUES (%s, %s, 'call', 'high', %s) RETURNING task_id::text", lead, agent, NOW + timedelta(hours=2))
    before = one(db, "SELECT score FROM crm.leads WHERE lead_id = %s", lead)
    logged = one(db, f"SELECT crm.log_activity({_lead_row(db, lead)}, %s, %s, %s)", agent,
                 Jsonb({"type": "call", "outcome": "positive"}), NOW)
    assert logged["score"]["from"] == before and logged["score"]["delta"] > 0
    assert logged["completed_follow_up"] == task
    assert one(db, "SELECT score FROM crm.leads WHERE lead_id = %s", lead) == logged["score"]["to"]
    with db_error("PT409", "lead_has_no_agent"):
        db.execute(f"SELECT crm.log_activity({_lead_row(db, new_lead(db))}, NULL, %s, %s)",
                   (Jsonb({"type": "call"}), NOW))


def test_fulfil_follow_up_needs_an_interaction_and_a_task_due_within_the_window(db: psycopg.Connection) -> None:
    agent = new_agent(db)
    lead = new_lead(db)
    assign(db, lead, agent)
    db.execute("INSERT INTO crm.follow_up_tasks (lead_id, agent_id, task_type, priority, due_at) "
               "VALUES (%s, %s, 'call', 'high', %s)", (lead, agent, NOW + timedelta(days=3)))
    assert one(db, "SELECT crm.fulfil_follow_up(%s, 'call', %s)", lead, NOW) is None  # not due within a day
    assert one(db, "SELECT crm.fulfil_follow_up(%s, 'note', %s)", lead, NOW + timedelta(days=3)) is None
    assert one(db, "SELECT crm.fulfil_follow_up(%s, 'call', %s)", lead, NOW + timedelta(days=3)) is not None


def test_book_next_follow_up_follows_the_activity_and_refuses_a_closed_lead(db: psycopg.Connection) -> None:
    agent = new_agent(db)
    lead = new_lead(db)
    assign(db, lead, agent)
    at = NOW + timedelta(days=1)
    booked = one(db, "SELECT crm.book_next_follow_up(%s, %s, 'whatsapp', 85, %s, 'contacted', %s)",
                 lead, agent, at, NOW)
    assert (booked["task_type"], booked["priority"]) == ("whatsapp", "high")
    note = one(db, "SELECT crm.book_next_follow_up(%s, %s, 'note', 10, %s, 'contacted', %s)",
               lead, agent, at + timedelta(hours=2), NOW)
    assert note["task_type"] == "call" and note["priority"] != "high"
    with db_error("PT409", "lead_closed"):
        db.execute("SELECT crm.book_next_follow_up(%s, %s, 'call', 50, %s, 'lost', %s)",
                   (lead, agent, at + timedelta(hours=4), NOW))


def test_record_property_interests_upserts_and_names_an_unknown_listing(db: psycopg.Connection) -> None:
    lead = new_lead(db)
    listing = one(db, "INSERT INTO crm.properties (reference, title, property_type, area_code, price_aed) "
                      "VALUES ('T-1', 'Test flat', 'apartment', 'dubai_marina', 1500000) RETURNING property_id::text")
    interests = [{"property_id": listing, "interest_level": "high"}]
    assert one(db, "SELECT crm.record_property_interests(%s, %s)", lead, Jsonb(interests)) == 1
    interests[0]["interest_level"] = "low"
    assert one(db, "SELECT crm.record_property_interests(%s, %s)", lead, Jsonb(interests)) == 1
    assert one(db, "SELECT interest_level::text FROM crm.lead_property_interests WHERE lead_id = %s", lead) == "low"
    assert one(db, "SELECT crm.record_property_interests(%s, NULL)", lead) == 0
    with db_error("PT422", "unknown_property"):
        db.execute("SELECT crm.record_property_interests(%s, %s)",
                   (lead, Jsonb([{"property_id": "00000000-0000-0000-0000-000000000001", "interest_level": "low"}])))


def test_move_status_sets_the_outcome_fields_and_reports_the_move(db: psycopg.Connection) -> None:
    agent = new_agent(db)
    lead = new_lead(db)
    assign(db, lead, agent)
    assert one(db, f"SELECT crm.move_status({_lead_row(db, lead)}, 'new', NULL, NULL)") is None
    assert one(db, f"SELECT crm.move_status({_lead_row(db, lead)}, 'lost', 'bought elsewhere', 99)") == \
        {"from": "new", "to": "lost"}
    assert row(db, "SELECT lost_reason, deal_value_aed FROM crm.leads WHERE lead_id = %s", lead) == \
        {"lost_reason": "bought elsewhere", "deal_value_aed": None}
    with db_error("PT409", "lead_status_transition"):
        db.execute(f"SELECT crm.move_status({_lead_row(db, lead)}, 'contacted', NULL, NULL)")


# --- dashboard ---------------------------------------------------------------------------------------------------

def test_dashboard_window_covers_dubai_days_and_refuses_bad_filters(db: psycopg.Connection) -> None:
    late = datetime(2026, 11, 30, 21, 0, tzinfo=UTC)  # already 1 December in Dubai
    window = row(db, "SELECT * FROM crm.dashboard_window('7d', NULL, NULL, 'all', 'all', %s)", late)
    assert (str(window["date_from"]), str(window["date_to"])) == ("2026-11-25", "2026-12-01")
    assert window["tz"] == "Asia/Dubai"
    assert window["starts_at"] == datetime(2026, 11, 24, 20, 0, tzinfo=UTC)
    assert window["ends_at"] == datetime(2026, 12, 1, 20, 0, tzinfo=UTC)
    assert window["month_start"] == datetime(2026, 11, 30, 20, 0, tzinfo=UTC)
    for args in (("14d", None, None, "all", "all"), ("custom", "2026-11-10", "2026-11-01", "all", "all"),
                 ("30d", None, None, "open", "all"), ("30d", None, None, "all", "nope")):
        with db_error("PT422", "invalid_dashboard_filter"):
            db.execute("SELECT crm.dashboard_window(%s, %s, %s, %s, %s, now())", args)
    with db_error("PT422", "date_range_out_of_bounds"):
        db.execute("SELECT crm.dashboard_window('custom', '1900-01-01', '2026-11-01', 'all', 'all', now())")


def test_dashboard_leads_are_the_agents_current_leads_in_range_and_filter(db: psycopg.Connection) -> None:
    agent, other = new_agent(db), new_agent(db)
    mine = new_lead(db, source="bayut", created_at=NOW - timedelta(days=1))
    assign(db, mine, agent)
    theirs = new_lead(db, created_at=NOW - timedelta(days=1))
    assign(db, theirs, other)
    old = new_lead(db, created_at=NOW - timedelta(days=40))
    db.execute("INSERT INTO crm.lead_assignments (lead_id, agent_id, kind, assigned_at) VALUES (%s, %s, 'manual', %s)",
               (old, agent, NOW - timedelta(days=40)))

    def ids(status: str, source: str) -> list[str]:
        return [str(r[0]) for r in db.execute(
            "SELECT (lead).lead_id FROM crm.dashboard_leads(%s, %s, %s, %s, %s)",
            (agent, NOW - timedelta(days=30), NOW + timedelta(days=1), status, source))]
    assert ids("all", "all") == [mine]
    assert ids("active", "bayut") == [mine]
    assert ids("converted", "all") == [] and ids("all", "website") == []


def test_response_time_ranks_order_everyone_with_enough_responses_by_mean_response(db: psycopg.Connection) -> None:
    fast, slow, gone, boss, once = (new_agent(db), new_agent(db), new_agent(db, is_active=False),
                                    new_agent(db, role="supervisor"), new_agent(db))
    for agent, seconds, n in ((fast, 600, 5), (slow, 7200, 5), (gone, 60, 5), (boss, 3600, 5), (once, 1, 1)):
        db.execute("INSERT INTO crm.agent_performance_metrics (agent_id, period_month, leads_contacted, "
                   "avg_response_seconds) VALUES (%s, '2026-11-01', %s, %s)", (agent, n, seconds))
    ranks = {str(r[0]): (r[1], r[3]) for r in
             db.execute("SELECT * FROM crm.response_time_ranks('2026-11-01', '2026-11-30')")}
    # who left and a supervisor are ranked like anyone; one response is too few (ranking_min_responses: 5)
    assert ranks == {gone: (5, 1), fast: (5, 2), boss: (5, 3), slow: (5, 4), once: (1, None)}
    assert db.execute("SELECT * FROM crm.response_time_ranks('2026-09-01', '2026-09-30')").fetchall() == []
    assert one(db, "SELECT crm.dashboard_rank_months('2026-09-15', '2026-12-31')") == [date(2026, 11, 1)]


def test_dashboard_pending_tasks_and_conversions(db: psycopg.Connection) -> None:
    agent = new_agent(db)
    lead = new_lead(db, source="bayut")
    assign(db, lead, agent)
    for hours in (5, 1, 3):
        db.execute("INSERT INTO crm.follow_up_tasks (lead_id, agent_id, task_type, priority, due_at) "
                   "VALUES (%s, %s, 'call', 'medium', %s)", (lead, agent, NOW + timedelta(hours=hours)))
    due = [t["due_date"] for t in one(db, "SELECT crm.dashboard_pending_tasks(%s, now())", agent)]
    assert due == sorted(due) and len(due) == 3
    assert one(db, "SELECT crm.dashboard_conversions(%s, now() - interval '1 day', now(), 'all')", agent) == 0
    for status in ("contacted", "qualified", "viewing_scheduled", "negotiation"):
        db.execute("UPDATE crm.leads SET status = %s WHERE lead_id = %s", (status, lead))
    db.execute("UPDATE crm.leads SET status = 'converted', deal_value_aed = 1000000 WHERE lead_id = %s", (lead,))
    assert one(db, "SELECT crm.dashboard_conversions(%s, now() - interval '1 day', now(), 'all')", agent) == 1
    assert one(db, "SELECT crm.dashboard_conversions(%s, now() - interval '1 day', now(), 'website')", agent) == 0
    assert one(db, "SELECT crm.dashboard_pending_tasks(%s, now())", agent) == []  # closing cancelled them


# --- performance -------------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("rate", "hours", "accepted", "p90", "expected"), [
    (None, None, None, None, 50), (100, 0, 100, 0, 100), (0, 48, 0, 300, 0), (50, 24, 50, 150, 50),
    (100, 96, None, None, 60), (None, 0, None, None, 62.5), (None, None, 80, 60, 59), (0, 0, 0, 900, 25)])
def test_performance_score_weights_conversion_response_accepts_and_offer_response(
        db: psycopg.Connection, rate: float | None, hours: float | None, accepted: float | None, p90: int | None,
        expected: float) -> None:
    # 0.45 conversion + 0.25 first contact (0 at 48 h) + 0.15 accept rate + 0.15 offer p90 (0 at the 5-minute SLA)
    assert float(one(db, "SELECT crm.performance_score(%s, %s, %s, %s)", rate, hours, accepted, p90)) == expected


def test_refresh_steps_fill_the_months_and_the_scores(db: psycopg.Connection) -> None:
    agent = new_agent(db, performance=10)
    lead = new_lead(db, created_at=NOW - timedelta(hours=3))
    db.execute("INSERT INTO crm.lead_assignments (lead_id, agent_id, kind, assigned_at, first_activity_at) "
               "VALUES (%s, %s, 'manual', %s, %s)", (lead, agent, NOW - timedelta(hours=3), NOW - timedelta(hours=2)))
    assert one(db, "SELECT crm.refresh_monthly_metrics(%s)", NOW) >= 4  # four months for each agent
    month = row(db, "SELECT leads_assigned, leads_contacted, avg_response_seconds FROM crm.agent_performance_metrics "
                    "WHERE agent_id = %s AND period_month = '2026-11-01'", agent)
    assert month == {"leads_assigned": 1, "leads_contacted": 1, "avg_response_seconds": 3600}
    assert one(db, "SELECT crm.refresh_monthly_metrics(%s)", NOW) == 0  # nothing changed: nothing written
    assert one(db, "SELECT crm.refresh_performance_scores(%s)", NOW) >= 1
    expected = one(db, "SELECT crm.performance_score(NULL, 1, NULL, NULL)")
    assert one(db, "SELECT performance_score FROM crm.agents WHERE agent_id = %s", agent) == expected
