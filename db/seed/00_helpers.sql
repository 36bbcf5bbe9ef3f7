-- Demo data, part 0: session-local helpers used by the other seed files.
--
-- The seed files run in name order in ONE transaction on ONE connection (crmctl/database.py seed), so
-- functions in pg_temp and ON COMMIT DROP temp tables made here are visible to the later files
-- and vanish afterwards. Nothing here is stored in the database.
--
-- Determinism: every "random" choice is derived from md5 of a fixed key, never from random(),
-- so two runs compute the same plan (names, phones, stages, times); times are relative to now().

-- h(key): a stable non-negative integer (0 .. 2^28-1) from a text key.
CREATE OR REPLACE FUNCTION pg_temp.h(p_key text)
RETURNS integer
LANGUAGE sql IMMUTABLE
AS $$ SELECT ('x' || substr(md5(p_key), 1, 7))::bit(28)::integer $$;

-- frac(key): a stable number in [0, 1) from a text key.
CREATE OR REPLACE FUNCTION pg_temp.frac(p_key text)
RETURNS double precision
LANGUAGE sql IMMUTABLE
AS $$ SELECT pg_temp.h(p_key) / 268435456.0 $$;

-- pick(array, key): a stable element of a non-empty array.
CREATE OR REPLACE FUNCTION pg_temp.pick(p_items anyarray, p_key text)
RETURNS anyelement
LANGUAGE sql IMMUTABLE
AS $$ SELECT p_items[array_lower(p_items, 1) + pg_temp.h(p_key) % cardinality(p_items)] $$;
