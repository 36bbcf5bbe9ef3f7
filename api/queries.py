"""Every SQL statement the API sends, in one place. Each calls one function of the `api` (or `jobs`) schema: the
rules live in db/functions/, and these strings only name the call and its parameters.

A call made for an HTTP caller runs as `SELECT api.x(...) FROM api.begin_request($key) AS ctx`: begin_request
checks the key and makes its holder the transaction's caller, and `ctx.actor` names that caller to the audit trail
(api/auth.py). Each statement is its own transaction (api.deps.call_api).
"""

# -- capture and its dead letters (api/routes/capture.py) --------------------------------------------------------------
# store a capture that failed validation: source, payload, raw text, error code, errors, request id, idempotency key
RECORD_CAPTURE_DEAD_LETTER = ("SELECT api.record_capture_dead_letter($1, $2, $3, $4, $5, $6, $7) "
                              "FROM api.begin_request($8) AS ctx")
# capture a lead: normalized body, idempotency key, the dead letter it replays (or NULL) -> {status, replayed, body}
# (suggested listings: how many of our own to put in the body, NULL when an external service suggests) -> status,
# replayed, the body as text (passed to the client as it is)
CAPTURE_LEAD = ("SELECT (r ->> 'status')::integer, (r ->> 'replayed')::boolean, (r -> 'body')::text "
                "FROM api.begin_request($5) AS ctx, api.capture_lead($1, ctx.actor, $2, $3, NULL, $4) AS r")
# list dead letters: pending only?, limit
CAPTURE_DEAD_LETTERS = "SELECT api.capture_dead_letters($1, $2) FROM api.begin_request($3) AS ctx"
# one dead letter by id (NULL when there is none)
CAPTURE_DEAD_LETTER = "SELECT api.capture_dead_letter($1) FROM api.begin_request($2) AS ctx"

# -- a lead's update and reassignment (api/routes/leads.py, api/engine.py) ---------------------------------------------
# status, activity, interests, next follow-up in one transaction: lead id, body -> the lead as it now stands
UPDATE_LEAD = "SELECT api.update_lead($1, $2, ctx.actor) FROM api.begin_request($3) AS ctx"
# move a lead to another agent: lead id, reason, new agent id (NULL: the best ranked other agent)
REASSIGN_LEAD = "SELECT api.reassign_lead($1, $2, $3, ctx.actor) FROM api.begin_request($4) AS ctx"

# -- dashboard (api/routes/agents.py) ----------------------------------------------------------------------------------
# check the key may see this agent's dashboard (before a cached one is served): key, agent id
AUTHORIZE_DASHBOARD = "SELECT 1 FROM api.begin_request($1, 'dashboard', $2) AS ctx"
# build the dashboard: agent id, date range, date from, date to, status filter, source filter
AGENT_DASHBOARD = "SELECT api.agent_dashboard($1, $2, $3, $4, $5, $6) FROM api.begin_request($7) AS ctx"

# -- analytics (api/routes/analytics.py) -------------------------------------------------------------------------------
# the names and questions of every report
ANALYTICS_REPORTS = "SELECT api.analytics_reports() FROM api.begin_request($1) AS ctx"
# one report's rows: report name, date from, date to, dated by, page size, cursor
ANALYTICS_REPORT = "SELECT api.analytics_report($1, $2, $3, $4, $5, $6) FROM api.begin_request($7) AS ctx"

# -- probes and feeds (api/routes/health.py, api/listener.py) ----------------------------------------------------------
# GET /ready: the database's name and version (no key)
READINESS = "SELECT api.readiness()"
# run by every new connection of the primary's pool before it serves (api/deps.py, DB_POOL_WARM): a capture that is
# always rolled back, so the backend is warm
WARM_UP = "SELECT api.warm_up()"
# GET /metrics: the assignment queue's length and age (no key)
METRICS = "SELECT api.metrics()"
# the dashboard cache's change feed (api/listener.py): the previous look's snapshot as text (NULL at the first look)
DASHBOARD_CHANGES = ("SELECT c.agent_ids, c.horizon::text, c.complete "
                     "FROM api.dashboard_changes($1::text::pg_snapshot) AS c")

# -- property suggestions, after the capture committed (api/suggestions.py) --------------------------------------------
# the lead's wishes, sent to the external suggestion service: lead id
LEAD_PROFILE = "SELECT api.lead_profile($1) FROM api.begin_request($2) AS ctx"

# -- the brief's classes (api/engine.py): as a key's holder, or on an owner's pool (a DBA's script, no key) ------------
# score a lead from the rules without storing it: body -> {score, raw, breakdown}
SCORE_LEAD = "SELECT api.score_lead($1) FROM api.begin_request($2) AS ctx"
SCORE_LEAD_AS_OWNER = "SELECT api.score_lead($1)"
# assign a stored lead without an agent: lead id -> the decision (agent id or NULL: queued)
ASSIGN_LEAD = "SELECT api.assign_lead($1, ctx.actor) FROM api.begin_request($2) AS ctx"
ASSIGN_LEAD_AS_OWNER = "SELECT api.assign_lead($1, $2)"
# UPDATE_LEAD and REASSIGN_LEAD above, with the actor passed in instead of a key
UPDATE_LEAD_AS_OWNER = "SELECT api.update_lead($1, $2, $3)"
REASSIGN_LEAD_AS_OWNER = "SELECT api.reassign_lead($1, $2, $3, $4)"

# -- the background sweeper, as the job login (api/sweeper.py) ---------------------------------------------------------
# escalations, no-response reassignment, decay, queue, balancing, metrics (skipped while another process sweeps)
RUN_SWEEPS = "SELECT jobs.run_sweeps()"
# the analytics snapshot, when analytics_refresh_interval has passed
REFRESH_ANALYTICS = "SELECT jobs.refresh_analytics()"

# -- the REST resources (api/routes/leads.py, follow_ups.py, agents.py, policy.py) -------------------------------------
# one lead: lead id
GET_LEAD = "SELECT api.get_lead($1) FROM api.begin_request($2) AS ctx"
# a page of leads: filters, sort, limit, cursor
LIST_LEADS = "SELECT api.list_leads($1, $2, $3, $4) FROM api.begin_request($5) AS ctx"
# a page of a lead's timeline: lead id, limit, cursor
LEAD_TIMELINE = "SELECT api.lead_timeline($1, $2, $3) FROM api.begin_request($4) AS ctx"
# correct a lead: lead id, changes, the version it was read at (If-Match)
PATCH_LEAD = "SELECT api.patch_lead($1, $2, $3, ctx.actor) FROM api.begin_request($4) AS ctx"
# a page of follow-ups: filters, limit, cursor
LIST_FOLLOW_UPS = "SELECT api.list_follow_ups($1, $2, $3) FROM api.begin_request($4) AS ctx"
# complete / reschedule / cancel a follow-up: task id, and its outcome body, new time or reason
COMPLETE_FOLLOW_UP = "SELECT api.complete_follow_up($1, $2, ctx.actor) FROM api.begin_request($3) AS ctx"
RESCHEDULE_FOLLOW_UP = "SELECT api.reschedule_follow_up($1, $2, ctx.actor) FROM api.begin_request($3) AS ctx"
CANCEL_FOLLOW_UP = "SELECT api.cancel_follow_up($1, $2, ctx.actor) FROM api.begin_request($3) AS ctx"
# agents: a page (filters, limit, cursor); one (agent id); a new one (body); a change (agent id, changes)
LIST_AGENTS = "SELECT api.list_agents($1, $2, $3) FROM api.begin_request($4) AS ctx"
GET_AGENT = "SELECT api.get_agent($1) FROM api.begin_request($2) AS ctx"
CREATE_AGENT = "SELECT api.create_agent($1, ctx.actor) FROM api.begin_request($2) AS ctx"
PATCH_AGENT = "SELECT api.patch_agent($1, $2, ctx.actor) FROM api.begin_request($3) AS ctx"
# policy: the rules; change one (rule key, body); preview (lead body, proposed rules); the settings; change one
# (key, value); the audit (limit, cursor); reference rows (sources | areas | languages)
SCORING_RULES = "SELECT api.scoring_rules() FROM api.begin_request($1) AS ctx"
PUT_SCORING_RULE = "SELECT api.put_scoring_rule($1, $2, ctx.actor) FROM api.begin_request($3) AS ctx"
PREVIEW_SCORING = "SELECT api.preview_scoring($1, $2) FROM api.begin_request($3) AS ctx"
SETTINGS = "SELECT api.settings() FROM api.begin_request($1) AS ctx"
PUT_SETTING = "SELECT api.put_setting($1, $2, ctx.actor) FROM api.begin_request($3) AS ctx"
POLICY_CHANGES = "SELECT api.policy_changes($1, $2) FROM api.begin_request($3) AS ctx"
REFERENCE = "SELECT api.reference($1) FROM api.begin_request($2) AS ctx"

# -- the webhook dispatcher, as the job login (api/dispatcher.py) -----------------------------------------------------
# claim up to N due deliveries under a lease: subscription, event, lead, url, secret, attempt, topic, body, occurred_at
CLAIM_DELIVERIES = "SELECT * FROM jobs.claim_deliveries($1)"
# what each request answered: a JSON array of results -> counts by outcome
RECORD_DELIVERIES = "SELECT jobs.record_deliveries($1::jsonb)"
# when the next pending delivery falls due (NULL: none)
NEXT_DELIVERY_AT = "SELECT jobs.next_delivery_at()"

# -- webhook subscriptions (api/routes/webhooks.py) --------------------------------------------------------------------
# the topics; every subscription; one (id); a new one (body, the url host's resolved addresses); a change (id, body,
# addresses); a deletion (id); a page of deliveries (id, state, limit, cursor); a redelivery (id, delivery id)
EVENT_TOPICS = "SELECT api.event_topics() FROM api.begin_request($1) AS ctx"
WEBHOOKS = "SELECT api.webhooks() FROM api.begin_request($1) AS ctx"
GET_WEBHOOK = "SELECT api.get_webhook($1) FROM api.begin_request($2) AS ctx"
CREATE_WEBHOOK = "SELECT api.create_webhook($1, $2::inet[], ctx.actor) FROM api.begin_request($3) AS ctx"
PATCH_WEBHOOK = "SELECT api.patch_webhook($1, $2, $3::inet[], ctx.actor) FROM api.begin_request($4) AS ctx"
DELETE_WEBHOOK = "SELECT api.delete_webhook($1, ctx.actor) FROM api.begin_request($2) AS ctx"
WEBHOOK_DELIVERIES = "SELECT api.webhook_deliveries($1, $2, $3, $4) FROM api.begin_request($5) AS ctx"
REDELIVER_WEBHOOK = "SELECT api.redeliver_webhook($1, $2, ctx.actor) FROM api.begin_request($3) AS ctx"

# -- agent availability (api/routes/agents.py) -------------------------------------------------------------------------
# the weekly hours: read (agent id); replace (agent id, hours); absences: add (agent id, body); a page (agent id,
# include past, limit, cursor); delete (agent id, absence id); the pause: set (agent id, until, reason); end (agent id)
AGENT_SCHEDULE = "SELECT api.agent_schedule($1) FROM api.begin_request($2) AS ctx"
PUT_AGENT_SCHEDULE = "SELECT api.put_agent_schedule($1, $2, ctx.actor) FROM api.begin_request($3) AS ctx"
ADD_AGENT_ABSENCE = "SELECT api.add_agent_absence($1, $2, ctx.actor) FROM api.begin_request($3) AS ctx"
AGENT_ABSENCES = "SELECT api.agent_absences($1, $2, $3, $4) FROM api.begin_request($5) AS ctx"
DELETE_AGENT_ABSENCE = "SELECT api.delete_agent_absence($1, $2, ctx.actor) FROM api.begin_request($3) AS ctx"
PAUSE_AGENT = "SELECT api.pause_agent($1, $2, $3, ctx.actor) FROM api.begin_request($4) AS ctx"
RESUME_AGENT = "SELECT api.resume_agent($1, ctx.actor) FROM api.begin_request($2) AS ctx"

# -- offers and the pond (api/routes/leads.py, api/offer_timer.py) ----------------------------------------------------
# accept / decline (lead id, reason) / claim the lead; the pond
ACCEPT_LEAD = "SELECT api.accept_lead($1, ctx.actor) FROM api.begin_request($2) AS ctx"
DECLINE_LEAD = "SELECT api.decline_lead($1, $2, ctx.actor) FROM api.begin_request($3) AS ctx"
CLAIM_LEAD = "SELECT api.claim_lead($1, ctx.actor) FROM api.begin_request($2) AS ctx"
POND = "SELECT api.pond() FROM api.begin_request($1) AS ctx"
# the offer timer, as the job login: expire what is due (limit) -> counts; when something is due next
EXPIRE_OFFERS = "SELECT jobs.expire_offers($1)"
NEXT_OFFER_DEADLINE = "SELECT jobs.next_offer_deadline()"
