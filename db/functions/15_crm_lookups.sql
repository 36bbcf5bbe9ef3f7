-- Exact lookups that turn what a client typed into our reference keys. Equality on a lower-cased,
-- trimmed, space-collapsed text: never LIKE or substring, so "Romanian" can never become Oman.

CREATE OR REPLACE FUNCTION crm.lookup_key(p_text text)
RETURNS text
LANGUAGE sql
IMMUTABLE
SET search_path = ''
AS $$
    SELECT nullif(pg_catalog.lower(pg_catalog.regexp_replace(pg_catalog.btrim(p_text), '\s+', ' ', 'g')), '')
$$;
COMMENT ON FUNCTION crm.lookup_key(text) IS 'The form a free-text value is looked up by: trimmed, spaces collapsed, lower case.';

-- crm.country_code('Emirati') = 'AE'; NULL when the text names no known country.
CREATE OR REPLACE FUNCTION crm.country_code(p_text text)
RETURNS char(2)
LANGUAGE sql
STABLE
SET search_path = ''
AS $$
    SELECT a.country_code FROM crm.country_aliases AS a WHERE a.alias = crm.lookup_key(p_text)
$$;
COMMENT ON FUNCTION crm.country_code(text) IS
    'ISO country code for a nationality as typed (code, country name, demonym, Arabic spelling), by exact match on '
    'crm.country_aliases; NULL when unknown.';

-- crm.language_key('AR') = 'arabic'; by key, ISO code, English or native name.
CREATE OR REPLACE FUNCTION crm.language_key(p_text text)
RETURNS text
LANGUAGE sql
STABLE
SET search_path = ''
AS $$
    SELECT l.language
      FROM crm.languages AS l
     WHERE crm.lookup_key(p_text) IN (l.language, l.iso_code, pg_catalog.lower(l.display_name), pg_catalog.lower(l.native_name))
     LIMIT 1
$$;
COMMENT ON FUNCTION crm.language_key(text) IS
    'Language key (crm.languages) for a language as typed: key, ISO 639-1 code, English or native name; NULL when unknown.';

-- crm.area_code('Marina') = 'dubai_marina'; by code, name or alias.
CREATE OR REPLACE FUNCTION crm.area_code(p_text text)
RETURNS text
LANGUAGE sql
STABLE
SET search_path = ''
AS $$
    SELECT a.area_code
      FROM crm.areas AS a
     WHERE crm.lookup_key(p_text) = a.area_code
        OR crm.lookup_key(p_text) = pg_catalog.lower(a.name)
        OR crm.lookup_key(p_text) = ANY (a.aliases)
     ORDER BY (crm.lookup_key(p_text) = a.area_code) DESC, (crm.lookup_key(p_text) = pg_catalog.lower(a.name)) DESC
     LIMIT 1
$$;
COMMENT ON FUNCTION crm.area_code(text) IS 'Area code (crm.areas) for an area as typed: code, name or one of its aliases; NULL when unknown.';
