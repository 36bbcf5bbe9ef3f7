-- Policy as data over HTTP: scoring rules and settings (read by supervisors, changed by admins, every change
-- audited in crm.policy_changes by trigger), the preview of a rule change, and the reference data forms need.

-- crm.scoring_rule_resource(rule): one rule as json.
CREATE OR REPLACE FUNCTION crm.scoring_rule_resource(p_rule crm.lead_scoring_rules)
RETURNS json
LANGUAGE sql
STABLE
SET search_path = ''
AS $$
    SELECT pg_catalog.json_build_object(
        'rule_key', p_rule.rule_key, 'factor', p_rule.factor, 'match_value', p_rule.match_value,
        'min_value', p_rule.min_value, 'max_value', p_rule.max_value, 'points', p_rule.points,
        'weight', p_rule.weight, 'description', p_rule.description, 'is_active', p_rule.is_active,
        'updated_at', p_rule.updated_at, 'updated_by', p_rule.updated_by)
$$;
COMMENT ON FUNCTION crm.scoring_rule_resource(crm.lead_scoring_rules) IS 'One scoring rule as the API shows it.';

-- api.scoring_rules(): every rule, by rule_id. Supervisors and admins. Errors: crm.authorize's.
CREATE OR REPLACE FUNCTION api.scoring_rules()
RETURNS json
LANGUAGE plpgsql
STABLE
SECURITY DEFINER
SET search_path = ''
AS $$
BEGIN
    PERFORM crm.authorize('read_policy');
    RETURN (SELECT pg_catalog.json_build_object('items', coalesce(pg_catalog.json_agg(crm.scoring_rule_resource(r)
                                                                   ORDER BY r.rule_id), '[]'::json))
              FROM crm.lead_scoring_rules AS r);
END
$$;
COMMENT ON FUNCTION api.scoring_rules() IS
    'GET /api/v1/policy/scoring-rules. Errors: crm.authorize''s. SECURITY DEFINER: reads the rules for a caller allowed.';

-- crm.apply_scoring_rule(rule_key, input): updates the rule (the fields given), or creates it when it does not
-- exist and the input names its factor. Returns the rule and whether it was created. The table's CHECKs validate
-- it (lead_scoring_rules_*). Errors: PT404 scoring_rule_not_found (new and no factor).
CREATE OR REPLACE FUNCTION crm.apply_scoring_rule(p_rule_key text, p_input jsonb, OUT rule crm.lead_scoring_rules,
                                                  OUT created boolean)
LANGUAGE plpgsql
SET search_path = ''
AS $$
BEGIN
    UPDATE crm.lead_scoring_rules AS r SET
        match_value = CASE WHEN p_input ? 'match_value' THEN p_input ->> 'match_value' ELSE r.match_value END,
        min_value = CASE WHEN p_input ? 'min_value' THEN (p_input ->> 'min_value')::numeric ELSE r.min_value END,
        max_value = CASE WHEN p_input ? 'max_value' THEN (p_input ->> 'max_value')::numeric ELSE r.max_value END,
        points = CASE WHEN p_input ? 'points' THEN (p_input ->> 'points')::numeric ELSE r.points END,
        weight = CASE WHEN p_input ? 'weight' THEN (p_input ->> 'weight')::numeric ELSE r.weight END,
        description = coalesce(p_input ->> 'description', r.description),
        is_active = coalesce((p_input ->> 'is_active')::boolean, r.is_active),
        updated_at = now(), updated_by = crm.actor()
     WHERE r.rule_key = p_rule_key
    RETURNING * INTO rule;
    created := false;
    IF rule.rule_id IS NULL THEN
        IF p_input ->> 'factor' IS NULL THEN
            RAISE EXCEPTION 'no scoring rule %; give its factor to create it', p_rule_key
                USING ERRCODE = 'PT404', CONSTRAINT = 'scoring_rule_not_found';
        END IF;
        INSERT INTO crm.lead_scoring_rules (rule_key, factor, match_value, min_value, max_value, points, weight,
                                            description, is_active, updated_by)
        VALUES (p_rule_key, p_input ->> 'factor', p_input ->> 'match_value', (p_input ->> 'min_value')::numeric,
                (p_input ->> 'max_value')::numeric, (p_input ->> 'points')::numeric, (p_input ->> 'weight')::numeric,
                coalesce(p_input ->> 'description', p_rule_key), coalesce((p_input ->> 'is_active')::boolean, true),
                crm.actor())
        RETURNING * INTO rule;
        created := true;
    END IF;
END
$$;
COMMENT ON FUNCTION crm.apply_scoring_rule(text, jsonb) IS
    'Updates a scoring rule (or creates it, given its factor); the CHECKs of crm.lead_scoring_rules validate it. '
    'Errors: PT404 scoring_rule_not_found.';

-- api.put_scoring_rule(rule_key, input, actor): PUT /api/v1/policy/scoring-rules/{rule}. Admins. Returns
-- {"status": 200 | 201, "body": rule}. Errors: crm.apply_scoring_rule's, the CHECKs (422); crm.authorize's.
CREATE OR REPLACE FUNCTION api.put_scoring_rule(p_rule_key text, p_input jsonb, p_actor text)
RETURNS json
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = ''
AS $$
DECLARE
    v_result record;
BEGIN
    PERFORM crm.authorize('manage_policy');
    PERFORM crm.set_actor(p_actor);
    SELECT * INTO v_result FROM crm.apply_scoring_rule(p_rule_key, p_input);
    RETURN pg_catalog.json_build_object('status', CASE WHEN v_result.created THEN 201 ELSE 200 END,
                                        'body', crm.scoring_rule_resource(v_result.rule));
END
$$;
COMMENT ON FUNCTION api.put_scoring_rule(text, jsonb, text) IS
    'PUT /api/v1/policy/scoring-rules/{rule}: change (or create) a rule; audited. Errors: PT404 scoring_rule_not_found, '
    'the CHECKs of crm.lead_scoring_rules; crm.authorize''s (admins). SECURITY DEFINER: writes the policy.';

-- api.preview_scoring(input, rules): the score of a capture-shaped body under today's rules and under the proposed
-- rule changes [{"rule_key", ...fields}], computed in a subtransaction that is rolled back: nothing is saved.
-- Admins and supervisors. Errors: crm.apply_scoring_rule's, the CHECKs; crm.authorize's.
CREATE OR REPLACE FUNCTION api.preview_scoring(p_input jsonb, p_rules jsonb)
RETURNS json
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = ''
AS $$
DECLARE
    v_current  jsonb;
    v_proposed jsonb;
    v_rule     jsonb;
BEGIN
    PERFORM crm.authorize('read_policy');
    v_current := api.score_lead(p_input);
    BEGIN
        FOR v_rule IN SELECT pg_catalog.jsonb_array_elements(coalesce(p_rules, '[]')) LOOP
            PERFORM crm.apply_scoring_rule(v_rule ->> 'rule_key', v_rule - 'rule_key');
        END LOOP;
        v_proposed := api.score_lead(p_input);
        RAISE EXCEPTION USING ERRCODE = 'TR002';   -- roll the proposed rules back
    EXCEPTION WHEN SQLSTATE 'TR002' THEN
        NULL;
    END;
    RETURN pg_catalog.json_build_object(
        'current', pg_catalog.json_build_object('score', v_current -> 'score', 'raw', v_current -> 'raw',
                                                'breakdown', v_current -> 'breakdown'),
        'proposed', pg_catalog.json_build_object('score', v_proposed -> 'score', 'raw', v_proposed -> 'raw',
                                                 'breakdown', v_proposed -> 'breakdown'),
                                        'change', (v_proposed ->> 'score')::integer - (v_current ->> 'score')::integer);
END
$$;
COMMENT ON FUNCTION api.preview_scoring(jsonb, jsonb) IS
    'POST /api/v1/policy/scoring-rules/preview: a sample lead scored under today''s rules and under proposed changes, '
    'which are rolled back. Errors: PT404 scoring_rule_not_found, CHECKs, unknown_source; crm.authorize''s. SECURITY '
    'DEFINER: tries the rule changes in a subtransaction it rolls back.';

-- api.settings(): every setting with its shape and description. Supervisors and admins.
CREATE OR REPLACE FUNCTION api.settings()
RETURNS json
LANGUAGE plpgsql
STABLE
SECURITY DEFINER
SET search_path = ''
AS $$
BEGIN
    PERFORM crm.authorize('read_policy');
    RETURN (SELECT pg_catalog.json_build_object('items', coalesce(pg_catalog.json_agg(pg_catalog.json_build_object(
                       'setting_key', s.setting_key, 'value', s.value, 'shape', s.shape, 'description', s.description,
                       'updated_at', s.updated_at, 'updated_by', s.updated_by) ORDER BY s.setting_key), '[]'::json))
              FROM crm.settings AS s);
END
$$;
COMMENT ON FUNCTION api.settings() IS
    'GET /api/v1/policy/settings. Errors: crm.authorize''s. SECURITY DEFINER: reads the policy for a caller allowed.';

-- api.put_setting(key, value, actor): PUT /api/v1/policy/settings/{key}. Admins. The value must have the
-- setting's shape (trigger settings_20_shape). Errors: PT404 setting_not_found, PT422 setting_shape; crm.authorize's.
CREATE OR REPLACE FUNCTION api.put_setting(p_key text, p_value jsonb, p_actor text)
RETURNS json
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = ''
AS $$
DECLARE
    v_row crm.settings;
BEGIN
    PERFORM crm.authorize('manage_policy');
    PERFORM crm.set_actor(p_actor);
    UPDATE crm.settings SET value = p_value WHERE setting_key = p_key RETURNING * INTO v_row;
    IF v_row.setting_key IS NULL THEN
        RAISE EXCEPTION 'no setting %', p_key USING ERRCODE = 'PT404', CONSTRAINT = 'setting_not_found';
    END IF;
    RETURN pg_catalog.json_build_object('setting_key', v_row.setting_key, 'value', v_row.value, 'shape', v_row.shape,
                                        'description', v_row.description, 'updated_at', v_row.updated_at,
                                        'updated_by', v_row.updated_by);
END
$$;
COMMENT ON FUNCTION api.put_setting(text, jsonb, text) IS
    'PUT /api/v1/policy/settings/{key}: a new value, checked against the setting''s shape; audited. Errors: PT404 '
    'setting_not_found, PT422 setting_shape; crm.authorize''s (admins). SECURITY DEFINER: writes the policy.';

-- api.policy_changes(limit, cursor): the audit of policy changes, newest first, one page {"items", "next"}.
CREATE OR REPLACE FUNCTION api.policy_changes(p_limit integer DEFAULT 50, p_cursor text DEFAULT NULL)
RETURNS json
LANGUAGE plpgsql
STABLE
SECURITY DEFINER
SET search_path = ''
AS $$
DECLARE
    v_after bigint := (crm.decode_cursor(p_cursor) ->> 'id')::bigint;
    v_limit integer := crm.page_limit(p_limit);
    v_rows  json;
    v_last  bigint;
    v_count integer;
BEGIN
    PERFORM crm.authorize('read_policy');
    WITH page AS (
        SELECT * FROM crm.policy_changes AS c WHERE v_after IS NULL OR c.change_id < v_after
         ORDER BY c.change_id DESC LIMIT v_limit
    )
    SELECT coalesce(pg_catalog.json_agg(pg_catalog.json_build_object(
               'change_id', p.change_id, 'kind', p.kind, 'policy_key', p.policy_key, 'old_value', p.old_value,
               'new_value', p.new_value, 'changed_by', p.changed_by, 'changed_at', p.changed_at)
               ORDER BY p.change_id DESC), '[]'::json), min(p.change_id), count(*)
      INTO v_rows, v_last, v_count
      FROM page AS p;
    RETURN pg_catalog.json_build_object('items', v_rows, 'next', CASE WHEN v_count = v_limit
                                        THEN crm.encode_cursor(pg_catalog.jsonb_build_object('id', v_last)) END);
END
$$;
COMMENT ON FUNCTION api.policy_changes(integer, text) IS
    'GET /api/v1/policy/changes: who changed which setting or rule when, old and new, newest first. Errors: PT422 '
    'invalid_cursor; crm.authorize''s. SECURITY DEFINER: reads the audit for a caller allowed.';

-- api.reference(kind): the reference data a client builds its forms from: sources | areas | languages.
-- Every role; another kind answers NULL (the API's routes name the three). Errors: crm.authorize's.
CREATE OR REPLACE FUNCTION api.reference(p_kind text)
RETURNS json
LANGUAGE plpgsql
STABLE
SECURITY DEFINER
SET search_path = ''
AS $$
BEGIN
    PERFORM crm.authorize('reference');
    RETURN CASE p_kind
        WHEN 'sources' THEN (SELECT pg_catalog.json_build_object('items', pg_catalog.json_agg(pg_catalog.json_build_object(
                'source_type', s.source_type, 'display_name', s.display_name, 'is_portal', s.is_portal,
                'is_active', s.is_active) ORDER BY s.source_type)) FROM crm.lead_sources AS s)
        WHEN 'areas' THEN (SELECT pg_catalog.json_build_object('items', pg_catalog.json_agg(pg_catalog.json_build_object(
                'area_code', a.area_code, 'name', a.name, 'aliases', pg_catalog.to_json(a.aliases)) ORDER BY a.name))
              FROM crm.areas AS a)
        WHEN 'languages' THEN (SELECT pg_catalog.json_build_object('items', pg_catalog.json_agg(pg_catalog.json_build_object(
                'language', l.language, 'iso_code', l.iso_code, 'display_name', l.display_name,
                'native_name', l.native_name) ORDER BY l.display_name)) FROM crm.languages AS l)
    END;
END
$$;
COMMENT ON FUNCTION api.reference(text) IS
    'GET /api/v1/sources | areas | languages: the reference rows a form needs. Every role. Errors: crm.authorize''s. '
    'SECURITY DEFINER: reads reference tables for any caller with a key.';
