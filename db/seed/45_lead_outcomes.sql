-- Demo data, part 4b: the outcomes. Leads planned to convert or be lost close here, after their activities (and
-- the scores those gave) are in: a closed lead's score is frozen (leads_score_frozen), as it is for every path.

-- converted: the deal is the lead's favourite listing at 94-99 % of its asking price
UPDATE crm.leads AS l
   SET status = 'converted',
       closed_at = p.closed_at,
       deal_value_aed = coalesce(
           (SELECT round(pr.price_aed * (0.94 + 0.05 * pg_temp.frac(p.lead_key || '/deal')) / 1000) * 1000
              FROM crm.lead_property_interests AS i
              JOIN crm.properties AS pr USING (property_id)
             WHERE i.lead_id = l.lead_id
             ORDER BY i.interest_level, abs(pr.price_aed - coalesce(l.budget_max, l.budget_min)), pr.reference
             LIMIT 1),
           round(coalesce(l.budget_max, l.budget_min) * 0.95 / 1000) * 1000)
  FROM seed_lead AS p
 WHERE p.lead_id = l.lead_id AND p.stage = 5 AND l.status = 'negotiation';

-- lost: from the stage the lead had reached, with its reason in the same UPDATE
UPDATE crm.leads AS l
   SET status = 'lost', closed_at = p.closed_at, lost_reason = p.lost_reason
  FROM seed_lead AS p
 WHERE p.lead_id = l.lead_id AND p.stage = 6
   AND l.status = (ARRAY['new', 'contacted', 'qualified', 'viewing_scheduled', 'negotiation']::crm.lead_status[])[p.reach + 1];
