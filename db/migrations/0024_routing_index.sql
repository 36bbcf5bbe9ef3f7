-- 0024 candidates from an index (issue 18). Ranking scored every eligible agent on every capture (about 1.4 ms at
-- 400 agents, growing with the roster). An agent's points are two parts: the match points of its routing profile
-- (property types, areas, languages: the same for every agent with that profile) and its own base points
-- (performance and free capacity, the same for every lead). So the agents with one profile, in the order of their
-- base points, are one index range (agents_routing_idx), and crm.rank_agents reads the few best of the few best
-- profiles instead of scoring everyone (db/functions/19_crm_assignment.sql says how it knows where to stop).
-- Both new columns of crm.agents are derived, kept by triggers (db/functions/13_crm_workload.sql) and checked by
-- reporting.invariant_violations: routing_profile_id names the profile of the agent's arrays, base_points is
-- performance and workload points under the assignment_weights setting (recomputed for every agent in the
-- transaction that changes the setting). crm.routing_profiles.eligible_agents counts each profile's eligible agents
-- (active, role agent, under capacity) for the decision's eligible_count.

CREATE TABLE crm.routing_profiles (
    profile_id      integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    property_types  crm.property_type[] NOT NULL,
    area_codes      text[] NOT NULL,
    languages       text[] NOT NULL,
    eligible_agents integer NOT NULL DEFAULT 0
                    CONSTRAINT routing_profiles_eligible_agents_nonnegative CHECK (eligible_agents >= 0),
    CONSTRAINT routing_profiles_key UNIQUE (property_types, area_codes, languages)
);
COMMENT ON TABLE crm.routing_profiles IS
    'Each distinct routing profile of the agents (property types, areas, languages as on crm.agents) and how many '
    'eligible agents have it; rows are added by trigger when an agent takes a new profile. Derived: edit the agents'' '
    'specialisation tables, not this.';
COMMENT ON COLUMN crm.routing_profiles.eligible_agents IS
    'Agents with this profile that are active, of role agent and under capacity (kept by trigger).';

ALTER TABLE crm.agents
    ADD COLUMN routing_profile_id integer REFERENCES crm.routing_profiles (profile_id),
    ADD COLUMN base_points float8 NOT NULL DEFAULT 0;
COMMENT ON COLUMN crm.agents.routing_profile_id IS
    'The crm.routing_profiles row of this agent''s property_types, area_codes and languages (kept by trigger).';
COMMENT ON COLUMN crm.agents.base_points IS
    'The agent''s own ranking points under the assignment_weights setting: performance_score/100 x performance plus '
    'the free share of its capacity x workload (kept by trigger; the match points of a lead come on top).';

INSERT INTO crm.routing_profiles (property_types, area_codes, languages)
SELECT DISTINCT g.property_types, g.area_codes, g.languages FROM crm.agents AS g;
UPDATE crm.agents AS g
   SET routing_profile_id = p.profile_id,
       base_points = g.performance_score::float8 / 100 * (w.value ->> 'performance')::float8
                     + CASE WHEN g.max_active_leads > 0
                            THEN (1 - g.active_leads::float8 / g.max_active_leads) * (w.value ->> 'workload')::float8
                            ELSE 0 END
  FROM crm.routing_profiles AS p, crm.settings AS w
 WHERE (p.property_types, p.area_codes, p.languages) = (g.property_types, g.area_codes, g.languages)
   AND w.setting_key = 'assignment_weights';
UPDATE crm.routing_profiles AS p
   SET eligible_agents = (SELECT count(*) FROM crm.agents AS g
                           WHERE g.routing_profile_id = p.profile_id AND g.is_active AND g.role = 'agent'
                             AND g.active_leads < g.max_active_leads);
ALTER TABLE crm.agents ALTER COLUMN routing_profile_id SET NOT NULL;

-- the eligible agents of one profile, best base points first, ties as the ranking breaks them
CREATE INDEX agents_routing_idx ON crm.agents (routing_profile_id, base_points DESC, last_assigned_at NULLS FIRST, agent_id)
    WHERE is_active AND role = 'agent' AND active_leads < max_active_leads;
