-- wrk script: POST /api/v1/leads/capture with a unique, valid lead per request.
-- Phones are +971569NNNNNN / +971568NNNNNN UAE mobiles: a per-thread prefix and a per-thread counter, so no two
-- requests of a run share a phone (a same-source duplicate would be a 409 and count as an error).
local INTEGRATION_KEY = "trk_de000001_demo-integration-portals-and-website"  -- demo data (db/seed/60_api_keys.sql)
local threads = {}
local counter = 0
local offset = 0
local sources = {"bayut", "propertyFinder", "dubizzle", "website", "walk_in", "referral"}
local types = {"apartment", "villa", "townhouse", "commercial"}
local languages = {"english", "arabic", "russian", "hindi"}
local areas = {'["Marina", "JBR"]', '["Downtown Dubai"]', '["JVC", "JLT"]', '[]'}

function setup(thread)
    thread:set("thread_no", #threads)
    table.insert(threads, thread)
end

-- wrk ... -- OFFSET: the warm-up and the measured run use different phones
function init(args)
    offset = tonumber(args[1]) or 0
end

function request()
    counter = counter + 1
    local n = offset + counter
    local phone = string.format("+97156%d%06d", 9 - thread_no % 4, math.floor(thread_no / 4) * 250000 + n % 1000000)
    local body = string.format(
        '{"source_type": "%s", "lead_data": {"first_name": "Bench", "last_name": "Lead", "phone": "%s", ' ..
        '"email": "bench%d.%d@example.com", "nationality": "UAE", "language_preference": "%s", ' ..
        '"budget_min": %d, "budget_max": %d, "property_type": "%s", "preferred_areas": %s}, ' ..
        '"source_details": {"campaign_id": "bench"}}',
        sources[n % 6 + 1], phone, thread_no, n, languages[n % 4 + 1], 500000 + (n % 40) * 50000,
        900000 + (n % 40) * 100000, types[n % 4 + 1], areas[n % 4 + 1])
    return wrk.format("POST", "/api/v1/leads/capture", {["Content-Type"] = "application/json",
                                                        ["X-API-Key"] = INTEGRATION_KEY}, body)
end

function done(summary, latency, requests)
    io.write(string.format("JSON {\"requests\": %d, \"duration_us\": %d, \"errors_status\": %d, " ..
        "\"errors_connect\": %d, \"errors_read\": %d, \"errors_write\": %d, \"errors_timeout\": %d, " ..
        "\"p50_us\": %d, \"p90_us\": %d, \"p99_us\": %d, \"max_us\": %d, \"mean_us\": %.1f}\n",
        summary.requests, summary.duration, summary.errors.status, summary.errors.connect, summary.errors.read,
        summary.errors.write, summary.errors.timeout, latency:percentile(50), latency:percentile(90),
        latency:percentile(99), latency.max, latency.mean))
end
