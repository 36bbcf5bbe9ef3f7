-- wrk script: GET /api/v1/agents/{id}/dashboard.
--   wrk -t T ... -- miss AGENTS_FILE T    every request a filter set not asked before in the run (cache misses)
--   wrk -t T ... -- hit AGENTS_FILE T K   the first K filter sets over and over (warmed first: cache hits)
-- AGENTS_FILE holds "agent_id api_key" per line: each agent asks for its own dashboard with its own agent key (the
-- path of the agents' app: key check, endpoint matrix, row-level security). Each thread counts the X-Cache values.
local threads = {}
local agents = {}
local keys_of = {}
local mode = "miss"
local keys = 0
local nthreads = 1
local counter = 0
hits, misses = 0, 0  -- globals: done() reads them with thread:get
local ranges = {"30d", "7d", "90d"}
local statuses = {"all", "active", "converted", "lost"}
local sources = {"all", "bayut", "propertyFinder", "dubizzle", "website", "walk_in", "referral"}

function setup(thread)
    thread:set("thread_no", #threads)
    table.insert(threads, thread)
end

function init(args)
    mode = args[1] or "miss"
    for line in io.lines(args[2]) do
        local id, key = line:match("^(%S+)%s+(%S+)$")
        if id then
            table.insert(agents, id)
            keys_of[id] = key
        end
    end
    nthreads = tonumber(args[3]) or 1
    keys = tonumber(args[4]) or 0
end

-- the n-th filter set: agent first, then date range, status and source, so n < #agents * 84 are all distinct
local function path(n)
    local a = #agents
    local combo = math.floor(n / a)
    local agent = agents[n % a + 1]
    return agent, string.format("/api/v1/agents/%s/dashboard?date_range=%s&status_filter=%s&source_filter=%s",
        agent, ranges[combo % 3 + 1], statuses[math.floor(combo / 3) % 4 + 1],
        sources[math.floor(combo / 12) % 7 + 1])
end

function request()
    local n
    if mode == "hit" then
        n = (counter * nthreads + thread_no) % keys
    else
        n = counter * nthreads + thread_no
    end
    counter = counter + 1
    local agent, url = path(n)
    return wrk.format("GET", url, {["X-API-Key"] = keys_of[agent]})
end

function response(status, headers, body)
    local cache = headers["x-cache"] or headers["X-Cache"]
    if cache == "hit" then hits = hits + 1 elseif cache == "miss" then misses = misses + 1 end
end

function done(summary, latency, requests)
    local h, m = 0, 0
    for _, t in ipairs(threads) do
        h = h + (t:get("hits") or 0)
        m = m + (t:get("misses") or 0)
    end
    io.write(string.format("JSON {\"requests\": %d, \"duration_us\": %d, \"errors_status\": %d, " ..
        "\"errors_other\": %d, \"p50_us\": %d, \"p99_us\": %d, \"hits\": %d, \"misses\": %d}\n",
        summary.requests, summary.duration, summary.errors.status,
        summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
        latency:percentile(50), latency:percentile(99), h, m))
end
