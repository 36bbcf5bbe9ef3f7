-- What the REST resources (40_api_leads.sql and after) are built from: the lead's version, the lead as one
-- resource, the check of a setting's shape, and the audit of policy changes.

-- BEFORE UPDATE ON crm.leads: every change of the row bumps its version (the ETag of the lead resource); an
-- UPDATE that changes nothing (but the stamp of updated_at) keeps it. A writer whose change lives in another table
-- (the lead's areas) asks for the bump with SET version = version + 1; no other value can be set by hand.
CREATE OR REPLACE FUNCTION crm.leads_bump_version()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = ''
AS $$
DECLARE
    v_same crm.leads := NEW;
BEGIN
    v_same.updated_at := OLD.updated_at;
    v_same.version := OLD.version;
    NEW.version := OLD.version + CASE WHEN v_same IS DISTINCT FROM OLD OR NEW.version > OLD.version THEN 1 ELSE 0 END;
    RETURN NEW;
END
$$;
COMMENT ON FUNCTION crm.leads_bump_version() IS
    'Trigger: a changed lead gets version + 1 (its ETag); a no-op UPDATE keeps it; asking for a higher version bumps '
    'it by one, whatever was asked.';

CREATE OR REPLACE TRIGGER leads_11_version BEFORE UPDATE ON crm.leads
    FOR EACH ROW EXECUTE FUNCTION crm.leads_bump_version();

-- crm.lead_resource(lead): GET /api/v1/leads/{id}, as json in the order of the API's LeadDetail: contact fields,
-- pipeline state, agent, queue and duplicate state, wishes, interests, next follow-up, the score with its
-- breakdown, and the stored assignment decision (the candidates and why the winner won). Reads as its caller:
-- row-level security decides whether the lead exists for them (NULL when not).
CREATE OR REPLACE FUNCTION crm.lead_resource(p_lead_id uuid)
RETURNS json
LANGUAGE plpgsql
STABLE
SET search_path = ''
AS $$
BEGIN
    RETURN (
        SELECT pg_catalog.json_build_object(
            'lead_id', l.lead_id, 'version', l.version, 'source_type', l.source_type, 'external_id', l.external_id,
            'first_name', l.first_name, 'last_name', l.last_name, 'email', l.email, 'phone', l.phone,
            'nationality', l.nationality, 'language_preference', l.language_preference,
            'budget_min', l.budget_min, 'budget_max', l.budget_max, 'property_type', l.property_type,
            'preferred_areas', coalesce((SELECT pg_catalog.json_agg(p.area_code ORDER BY p.area_code)
                                           FROM crm.lead_preferred_areas AS p WHERE p.lead_id = l.lead_id), '[]'::json),
            'status', l.status, 'score', l.score,
            'assigned_agent', CASE WHEN g.agent_id IS NOT NULL THEN
                pg_catalog.json_build_object('agent_id', g.agent_id, 'name', g.full_name, 'phone', g.phone) END,
            'assigned_at', a.assigned_at,
            'queued', l.queued_at IS NOT NULL, 'queued_at', l.queued_at, 'duplicate_of', l.duplicate_of,
            'next_follow_up', (SELECT pg_catalog.json_build_object('task_id', t.task_id, 'task_type', t.task_type,
                                                                  'priority', t.priority, 'due_at', t.due_at)
                                 FROM crm.follow_up_tasks AS t
                                WHERE t.lead_id = l.lead_id AND t.status = 'open' ORDER BY t.due_at LIMIT 1),
            'property_interests', coalesce((SELECT pg_catalog.json_agg(pg_catalog.json_build_object(
                                                'property_id', i.property_id, 'interest_level', i.interest_level)
                                                ORDER BY i.created_at, i.property_id)
                                              FROM crm.lead_property_interests AS i WHERE i.lead_id = l.lead_id),
                                            '[]'::json),
            'first_contacted_at', l.first_contacted_at, 'response_seconds', l.response_seconds,
            'last_activity_at', l.last_activity_at, 'deal_value', l.deal_value_aed, 'lost_reason', l.lost_reason,
            'closed_at', l.closed_at,
            'campaign', pg_catalog.json_build_object('campaign_id', l.campaign_id, 'utm_source', l.utm_source,
                                                     'utm_medium', l.utm_medium, 'utm_campaign', l.utm_campaign),
            'unmatched_input', l.unmatched_input,
            'score_breakdown', l.score_breakdown,
            'assignment_decision', l.assignment_decision,
            'created_at', l.created_at, 'updated_at', l.updated_at)
          FROM crm.leads AS l
          LEFT JOIN crm.lead_assignments AS a ON a.lead_id = l.lead_id AND a.released_at IS NULL
          LEFT JOIN crm.agents AS g ON g.agent_id = a.agent_id
         WHERE l.lead_id = p_lead_id);
END
$$;
COMMENT ON FUNCTION crm.lead_resource(uuid) IS
    'The lead resource (GET /api/v1/leads/{id}): contact, pipeline, agent, queue, duplicate, wishes, interests, next '
    'follow-up, score breakdown and the stored assignment decision; NULL when the caller cannot see the lead.';

-- crm.check_setting_shape(value, shape, path): NULL when the value has the shape, else what is wrong (naming the
-- path). Shapes: a type name (see the comment of crm.settings.shape), an object of keys and shapes (every key
-- required, no other), or a one-element array (a non-empty list of that shape).
CREATE OR REPLACE FUNCTION crm.check_setting_shape(p_value jsonb, p_shape jsonb, p_path text DEFAULT 'value')
RETURNS text
LANGUAGE plpgsql
STABLE
SET search_path = ''
AS $$
DECLARE
    v_type text := p_shape #>> '{}';
    v_key  text;
    v_item jsonb;
    v_text text := CASE WHEN pg_catalog.jsonb_typeof(p_value) = 'string' THEN p_value #>> '{}' END;
    v_num  numeric := CASE WHEN pg_catalog.jsonb_typeof(p_value) = 'number' THEN (p_value #>> '{}')::numeric END;
    v_why  text;
BEGIN
    IF pg_catalog.jsonb_typeof(p_shape) = 'object' THEN
        IF pg_catalog.jsonb_typeof(p_value) IS DISTINCT FROM 'object' THEN
            RETURN p_path || ' must be an object';
        END IF;
        FOR v_key IN SELECT k FROM pg_catalog.jsonb_object_keys(p_shape) AS k ORDER BY k LOOP
            IF NOT p_value ? v_key THEN
                RETURN p_path || '.' || v_key || ' is missing';
            END IF;
            v_why := crm.check_setting_shape(p_value -> v_key, p_shape -> v_key, p_path || '.' || v_key);
            IF v_why IS NOT NULL THEN
                RETURN v_why;
            END IF;
        END LOOP;
        SELECT min(k) INTO v_key FROM pg_catalog.jsonb_object_keys(p_value) AS k WHERE NOT p_shape ? k;
        RETURN CASE WHEN v_key IS NOT NULL THEN p_path || '.' || v_key || ' is not a known key' END;
    ELSIF pg_catalog.jsonb_typeof(p_shape) = 'array' THEN
        IF pg_catalog.jsonb_typeof(p_value) IS DISTINCT FROM 'array' OR pg_catalog.jsonb_array_length(p_value) = 0 THEN
            RETURN p_path || ' must be a non-empty list';
        END IF;
        FOR v_item IN SELECT pg_catalog.jsonb_array_elements(p_value) LOOP
            v_why := crm.check_setting_shape(v_item, p_shape -> 0, p_path || '[]');
            IF v_why IS NOT NULL THEN
                RETURN v_why;
            END IF;
        END LOOP;
        RETURN NULL;
    END IF;
    BEGIN   -- a type name: the casts below raise on a malformed text, which is the answer
        CASE v_type
            WHEN 'interval' THEN
                IF v_text IS NULL OR v_text::interval < interval '0' THEN RETURN p_path || ' must be a duration such as "4 hours"'; END IF;
            WHEN 'time' THEN
                IF v_text IS NULL OR v_text !~ '^\d{2}:\d{2}$' OR v_text::time IS NULL THEN RETURN p_path || ' must be a time such as "09:00"'; END IF;
            WHEN 'date' THEN
                IF v_text IS NULL OR v_text::date IS NULL THEN RETURN p_path || ' must be a date such as "2000-01-01"'; END IF;
            WHEN 'timezone' THEN
                IF v_text IS NULL OR NOT EXISTS (SELECT 1 FROM pg_catalog.pg_timezone_names AS z WHERE z.name = v_text) THEN
                    RETURN p_path || ' must be a time zone name such as "Asia/Dubai"';
                END IF;
            WHEN 'boolean' THEN
                IF pg_catalog.jsonb_typeof(p_value) IS DISTINCT FROM 'boolean' THEN RETURN p_path || ' must be true or false'; END IF;
            WHEN 'fraction' THEN
                IF v_num IS NULL OR v_num NOT BETWEEN 0 AND 1 THEN RETURN p_path || ' must be a number from 0 to 1'; END IF;
            WHEN 'percent', 'points' THEN
                IF v_num IS NULL OR v_num NOT BETWEEN 0 AND 100 THEN RETURN p_path || ' must be a number from 0 to 100'; END IF;
            WHEN 'count' THEN
                IF v_num IS NULL OR v_num <> trunc(v_num) OR v_num < 0 OR v_num > 1000000 THEN RETURN p_path || ' must be a whole number from 0'; END IF;
            WHEN 'capacity' THEN
                IF v_num IS NULL OR v_num <> trunc(v_num) OR v_num NOT BETWEEN 0 AND 50 THEN RETURN p_path || ' must be a whole number from 0 to 50'; END IF;
            WHEN 'isodow' THEN
                IF v_num IS NULL OR v_num NOT IN (1, 2, 3, 4, 5, 6, 7) THEN RETURN p_path || ' must be a weekday number from 1 (Monday) to 7'; END IF;
            WHEN 'task_priority' THEN
                IF v_text IS NULL OR v_text NOT IN (SELECT e::text FROM pg_catalog.unnest(pg_catalog.enum_range(NULL::crm.task_priority)) AS e) THEN
                    RETURN p_path || ' must be a task priority (low, medium, high)';
                END IF;
            WHEN 'task_type' THEN
                IF v_text IS NULL OR v_text NOT IN (SELECT e::text FROM pg_catalog.unnest(pg_catalog.enum_range(NULL::crm.task_type)) AS e) THEN
                    RETURN p_path || ' must be a follow-up task type';
                END IF;
            ELSE
                RETURN p_path || ' has an unknown shape ' || coalesce(v_type, 'null');
        END CASE;
    EXCEPTION WHEN data_exception OR invalid_datetime_format OR datetime_field_overflow THEN
        RETURN p_path || ' is malformed for its type (' || v_type || ')';
    END;
    RETURN NULL;
END
$$;
COMMENT ON FUNCTION crm.check_setting_shape(jsonb, jsonb, text) IS
    'NULL when a setting value has its shape (crm.settings.shape), else a sentence naming what is wrong and where.';

-- BEFORE INSERT OR UPDATE ON crm.settings: the value must have the row's shape; a setting's fraction weights (keys
-- ending in _weight of shape fraction: performance_score's) must add up to 1 (its score stays within 0..100).
-- Errors: PT422 setting_shape (DETAIL: key and reason).
CREATE OR REPLACE FUNCTION crm.settings_check_shape()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = ''
AS $$
DECLARE
    v_why text := crm.check_setting_shape(NEW.value, NEW.shape);
    v_sum  numeric;
    v_keys text;
BEGIN
    IF v_why IS NULL AND pg_catalog.jsonb_typeof(NEW.shape) = 'object' THEN
        -- the fraction weights of one setting (keys ..._weight of shape fraction) are shares of one whole
        SELECT sum((NEW.value ->> w.key)::numeric), pg_catalog.string_agg(w.key, ', ' ORDER BY w.key) INTO v_sum, v_keys
          FROM pg_catalog.jsonb_each_text(NEW.shape) AS w WHERE w.key LIKE '%\_weight' AND w.value = 'fraction';
        IF v_sum <> 1 THEN
            v_why := 'value: the weights (' || v_keys || ') must add up to 1, not ' || v_sum;
        END IF;
    END IF;
    IF v_why IS NOT NULL THEN
        RAISE EXCEPTION 'setting %: %', NEW.setting_key, v_why
            USING ERRCODE = 'PT422', CONSTRAINT = 'setting_shape',
                  DETAIL = pg_catalog.json_build_object('setting_key', NEW.setting_key, 'reason', v_why)::text;
    END IF;
    NEW.updated_at := now();
    NEW.updated_by := crm.actor();
    RETURN NEW;
END
$$;
COMMENT ON FUNCTION crm.settings_check_shape() IS
    'Trigger: a setting''s value must have its shape (and its fraction weights add up to 1); stamps '
    'updated_at / updated_by. Errors: PT422 setting_shape.';

CREATE OR REPLACE TRIGGER settings_20_shape BEFORE INSERT OR UPDATE ON crm.settings
    FOR EACH ROW EXECUTE FUNCTION crm.settings_check_shape();

-- AFTER INSERT OR UPDATE OR DELETE ON crm.settings / crm.lead_scoring_rules: a row of crm.policy_changes.
CREATE OR REPLACE FUNCTION crm.record_policy_change()
RETURNS trigger
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = ''
AS $$
DECLARE
    v_old jsonb := CASE WHEN TG_OP <> 'INSERT' THEN pg_catalog.to_jsonb(OLD) - 'updated_at' - 'updated_by' END;
    v_new jsonb := CASE WHEN TG_OP <> 'DELETE' THEN pg_catalog.to_jsonb(NEW) - 'updated_at' - 'updated_by' END;
BEGIN
    IF v_old IS NOT DISTINCT FROM v_new THEN
        RETURN NULL;
    END IF;
    INSERT INTO crm.policy_changes (kind, policy_key, old_value, new_value, changed_by)
    VALUES (CASE TG_TABLE_NAME WHEN 'settings' THEN 'setting' ELSE 'scoring_rule' END,
            coalesce(v_new, v_old) ->> CASE TG_TABLE_NAME WHEN 'settings' THEN 'setting_key' ELSE 'rule_key' END,
            v_old, v_new, crm.actor());
    RETURN NULL;
END
$$;
COMMENT ON FUNCTION crm.record_policy_change() IS
    'Trigger: audits every change of a setting or a scoring rule (who, when, old and new row) in crm.policy_changes. '
    'SECURITY DEFINER: the audit is the database''s, whoever changes the policy.';

CREATE OR REPLACE TRIGGER settings_90_audit AFTER INSERT OR UPDATE OR DELETE ON crm.settings
    FOR EACH ROW EXECUTE FUNCTION crm.record_policy_change();
CREATE OR REPLACE TRIGGER lead_scoring_rules_90_audit AFTER INSERT OR UPDATE OR DELETE ON crm.lead_scoring_rules
    FOR EACH ROW EXECUTE FUNCTION crm.record_policy_change();

-- crm.page_limit(limit): the size of one page of every list: 50 when not given, never under 1 nor over 200.
CREATE OR REPLACE FUNCTION crm.page_limit(p_limit integer)
RETURNS integer
LANGUAGE sql
IMMUTABLE
SET search_path = ''
AS $$
    SELECT least(greatest(coalesce(p_limit, 50), 1), 200)
$$;
COMMENT ON FUNCTION crm.page_limit(integer) IS 'The page size of every list: 50 by default, 1 to 200.';

-- crm.encode_cursor(position) / crm.decode_cursor(text): the opaque `next` cursor of every list: base64url of the
-- JSON position (the sort key and the id of the last row given). Errors: PT422 invalid_cursor.
CREATE OR REPLACE FUNCTION crm.encode_cursor(p_position jsonb)
RETURNS text
LANGUAGE sql
IMMUTABLE
SET search_path = ''
AS $$
    SELECT pg_catalog.translate(pg_catalog.encode(pg_catalog.convert_to(p_position::text, 'UTF8'), 'base64'),
                                E'+/=\n', '-_')
$$;
COMMENT ON FUNCTION crm.encode_cursor(jsonb) IS 'The opaque cursor of a list position (base64url of its JSON).';

CREATE OR REPLACE FUNCTION crm.decode_cursor(p_cursor text)
RETURNS jsonb
LANGUAGE plpgsql
IMMUTABLE
SET search_path = ''
AS $$
DECLARE
    v_text text := pg_catalog.translate(p_cursor, '-_', '+/');
BEGIN
    IF p_cursor IS NULL THEN
        RETURN NULL;
    END IF;
    v_text := v_text || pg_catalog.repeat('=', (4 - length(v_text) % 4) % 4);
    RETURN pg_catalog.convert_from(pg_catalog.decode(v_text, 'base64'), 'UTF8')::jsonb;
EXCEPTION WHEN OTHERS THEN
    RAISE EXCEPTION 'the cursor is not one this list gave out' USING ERRCODE = 'PT422', CONSTRAINT = 'invalid_cursor';
END
$$;
COMMENT ON FUNCTION crm.decode_cursor(text) IS
    'The list position of a cursor (crm.encode_cursor). Errors: PT422 invalid_cursor.';
