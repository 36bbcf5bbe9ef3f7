-- 0009 the agent's routing profile on the agent row. Ranking every eligible agent for every capture read
-- three specialisation tables per agent (about 1.2 ms for 200 agents); with the profile as arrays on the
-- row it is one scan of crm.agents (about 0.3 ms). The tables stay the source of truth: triggers in
-- db/functions/12_crm_workload.sql copy them here, and reporting.invariant_violations checks the copy.
-- The counter UPDATE of every assignment no longer touches an indexed column, so it is a HOT update.

ALTER TABLE crm.agents
    ADD COLUMN property_types crm.property_type[] NOT NULL DEFAULT '{}',
    ADD COLUMN area_codes     text[] NOT NULL DEFAULT '{}',
    ADD COLUMN languages      text[] NOT NULL DEFAULT '{}';
COMMENT ON COLUMN crm.agents.property_types IS
    'Copy of crm.agent_property_types for ranking, kept by trigger; empty = generalist. Edit the table, not this.';
COMMENT ON COLUMN crm.agents.area_codes IS
    'Copy of crm.agent_areas for ranking, kept by trigger; empty = covers every area. Edit the table, not this.';
COMMENT ON COLUMN crm.agents.languages IS 'Copy of crm.agent_languages for ranking, kept by trigger. Edit the table, not this.';

UPDATE crm.agents AS g
   SET property_types = coalesce((SELECT array_agg(t.property_type ORDER BY t.property_type)
                                    FROM crm.agent_property_types AS t WHERE t.agent_id = g.agent_id), '{}'),
       area_codes = coalesce((SELECT array_agg(a.area_code ORDER BY a.area_code)
                                FROM crm.agent_areas AS a WHERE a.agent_id = g.agent_id), '{}'),
       languages = coalesce((SELECT array_agg(l.language ORDER BY l.language)
                               FROM crm.agent_languages AS l WHERE l.agent_id = g.agent_id), '{}');

-- no index reads last_assigned_at (ranking scans the few hundred agents), and one on it made every
-- assignment's counter UPDATE a non-HOT update
DROP INDEX crm.agents_eligible_idx;
-- room on each page for HOT updates of the hot counter rows
ALTER TABLE crm.agents SET (fillfactor = 70);
