-- Demo data, part 0: session-local helpers used by the other seed files.
--
-- The seed files run in name order in ONE transaction on ONE connection (db/apply.py seed), so
-- functions in pg_temp and ON COMMIT DROP temp tables made here are visible to the later files
-- and vanish afterwards. Nothing here is stored in the database.
--
-- Determinism: every "random" choice is derived from md5 of a fixed key, never from random(),
-- so two runs compute the same rows (ids, names, phones, statuses); times are relative to now().

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

-- workday(from, k): the k-th (0-based) working day on or after `from`; Sunday is off
-- (crm.settings business_hours: ISO days 1-6).
CREATE OR REPLACE FUNCTION pg_temp.workday(p_from date, p_k integer)
RETURNS date
LANGUAGE sql IMMUTABLE
AS $$
    SELECT d::date
      FROM generate_series(p_from::timestamp, p_from + (p_k * 2 + 7), interval '1 day') AS d
     WHERE extract(isodow FROM d) <> 7
     ORDER BY d
    OFFSET p_k LIMIT 1
$$;

-- slot(day_offset, j): the j-th 90-minute follow-up slot of an agent, counted in working days from
-- today + day_offset (Asia/Dubai): six slots a day from 09:00 to 16:30. Distinct j give disjoint slots.
CREATE OR REPLACE FUNCTION pg_temp.slot(p_day_offset integer, p_j integer)
RETURNS timestamptz
LANGUAGE sql STABLE
AS $$
    SELECT (pg_temp.workday((now() AT TIME ZONE 'Asia/Dubai')::date + p_day_offset, p_j / 6)
            + time '09:00' + (p_j % 6) * interval '90 minutes') AT TIME ZONE 'Asia/Dubai'
$$;
