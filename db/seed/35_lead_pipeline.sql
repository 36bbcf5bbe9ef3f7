-- Demo data, part 3b: listings the leads are interested in, then the pipeline walk that moves each
-- lead from 'new' to its planned status one allowed step at a time (crm.lead_status_transitions).

-- Interests: the listing a lead asked about, plus the closest matches (same type, a preferred area
-- first, then the price nearest the budget) for leads that got as far as qualification.
-- Converted leads may point at a listing that has since sold; the others see only live listings.
INSERT INTO crm.lead_property_interests (lead_id, property_id, interest_level, created_at, updated_at)
SELECT lead_id, property_id, interest_level, created_at, created_at
  FROM (
        SELECT DISTINCT ON (x.lead_id, x.property_id) x.*
          FROM (
                SELECT p.lead_id, l.source_property_id AS property_id, 0 AS rank,
                       (CASE WHEN p.stage = 6 THEN 'low' WHEN p.reach >= 3 THEN 'high'
                             WHEN p.reach = 2 THEN 'medium' ELSE 'low' END)::crm.interest_level AS interest_level,
                       l.created_at
                  FROM seed_lead AS p
                  JOIN crm.leads AS l USING (lead_id)
                 WHERE l.source_property_id IS NOT NULL
                UNION ALL
                SELECT p.lead_id, m.property_id, m.rank,
                       (CASE WHEN p.stage = 6 THEN 'low'
                             WHEN p.reach >= 3 AND m.rank = 1 THEN 'high'
                             WHEN p.reach >= 3 THEN 'medium'
                             ELSE 'medium' END)::crm.interest_level,
                       l.created_at + interval '1 day' * m.rank
                  FROM seed_lead AS p
                  JOIN crm.leads AS l USING (lead_id)
                 CROSS JOIN LATERAL (
                        SELECT pr.property_id, row_number() OVER (ORDER BY (pr.area_code = ANY (p.areas)) DESC,
                                   abs(pr.price_aed - coalesce((p.budget_min + p.budget_max) / 2, p.budget_max)), pr.reference) AS rank
                          FROM crm.properties AS pr
                         WHERE pr.property_type = p.property_type
                           AND pr.reference LIKE 'TR-%'
                           AND pr.property_id IS DISTINCT FROM l.source_property_id
                           AND (pr.status IN ('available', 'reserved') OR p.stage = 5)
                         ORDER BY rank
                         LIMIT CASE WHEN p.reach >= 3 THEN 2 ELSE 1 END
                       ) AS m
                 WHERE p.reach >= 2
               ) AS x
         ORDER BY x.lead_id, x.property_id, x.rank
       ) AS i
ON CONFLICT (lead_id, property_id) DO NOTHING;

-- The walk. Each UPDATE moves only leads still at the previous step, so a second run moves nothing.
UPDATE crm.leads AS l SET status = 'contacted'
  FROM seed_lead AS p WHERE p.lead_id = l.lead_id AND p.reach >= 1 AND l.status = 'new';

UPDATE crm.leads AS l SET status = 'qualified'
  FROM seed_lead AS p WHERE p.lead_id = l.lead_id AND p.reach >= 2 AND l.status = 'contacted';

UPDATE crm.leads AS l SET status = 'viewing_scheduled'
  FROM seed_lead AS p WHERE p.lead_id = l.lead_id AND p.reach >= 3 AND l.status = 'qualified';

UPDATE crm.leads AS l SET status = 'negotiation'
  FROM seed_lead AS p WHERE p.lead_id = l.lead_id AND p.reach >= 4 AND l.status = 'viewing_scheduled';

-- the outcomes (converted, lost) come after the activities and their scores: db/seed/45_lead_outcomes.sql
