-- Exact lookups that turn what a client typed into our reference keys. Equality on a lower-cased,
-- trimmed, space-collapsed text: never LIKE or substring, so "Romanian" can never become Oman.
-- (Functions called per request are plpgsql rather than sql throughout: a SQL function with SET search_path
-- is never inlined and is planned on every call, while plpgsql keeps its plans for the session.)

CREATE OR REPLACE FUNCTION crm.lookup_key(p_text text)
RETURNS text
LANGUAGE plpgsql
IMMUTABLE
SET search_path = ''
AS $$
BEGIN
    RETURN nullif(pg_catalog.lower(pg_catalog.regexp_replace(pg_catalog.btrim(p_text), '\s+', ' ', 'g')), '');
END
$$;
COMMENT ON FUNCTION crm.lookup_key(text) IS 'The form a free-text value is looked up by: trimmed, spaces collapsed, lower case.';

-- crm.country_code('Emirati') = 'AE'; NULL when the text names no known country.
CREATE OR REPLACE FUNCTION crm.country_code(p_text text)
RETURNS char(2)
LANGUAGE plpgsql
STABLE
SET search_path = ''
AS $$
BEGIN
    RETURN (
    SELECT a.country_code FROM crm.country_aliases AS a WHERE a.alias = crm.lookup_key(p_text));
END
$$;
COMMENT ON FUNCTION crm.country_code(text) IS
    'ISO country code for a nationality as typed (code, country name, demonym, Arabic spelling), by exact match on '
    'crm.country_aliases; NULL when unknown.';

-- crm.language_key('AR') = 'arabic'; by key, ISO code, English or native name.
CREATE OR REPLACE FUNCTION crm.language_key(p_text text)
RETURNS text
LANGUAGE plpgsql
STABLE
SET search_path = ''
AS $$
DECLARE
    v_key    text := crm.lookup_key(p_text);
    v_result text;
BEGIN
    SELECT l.language INTO v_result
      FROM crm.languages AS l
     WHERE v_key IN (l.language, l.iso_code, pg_catalog.lower(l.display_name), pg_catalog.lower(l.native_name))
     LIMIT 1;
    RETURN v_result;
END
$$;
COMMENT ON FUNCTION crm.language_key(text) IS
    'Language key (crm.languages) for a language as typed: key, ISO 639-1 code, English or native name; NULL when unknown.';

-- crm.area_code('Marina') = 'dubai_marina'; by code, name or alias.
CREATE OR REPLACE FUNCTION crm.area_code(p_text text)
RETURNS text
LANGUAGE plpgsql
STABLE
SET search_path = ''
AS $$
DECLARE
    v_key    text := crm.lookup_key(p_text);
    v_result text;
BEGIN
    SELECT a.area_code INTO v_result
      FROM crm.areas AS a
     WHERE v_key = a.area_code OR v_key = pg_catalog.lower(a.name) OR v_key = ANY (a.aliases)
     ORDER BY (v_key = a.area_code) DESC, (v_key = pg_catalog.lower(a.name)) DESC
     LIMIT 1;
    RETURN v_result;
END
$$;
COMMENT ON FUNCTION crm.area_code(text) IS 'Area code (crm.areas) for an area as typed: code, name or one of its aliases; NULL when unknown.';
