-- wrk script: POST /passcode/verify with a wrong code, cycling through prepared challenges.
-- TOKENS_FILE names a file with one challenge token per line (written by benches/gateway.rs).
-- Each request is a full verify in a component instance: the token is opened and checked,
-- the subject's record read under compare-and-swap, and (for the first 5 tries of a
-- challenge) the failed try written back; later tries are refused as too-many-attempts.
local tokens = {}
for line in io.lines(os.getenv("TOKENS_FILE")) do tokens[#tokens + 1] = line end

local counter = 0
local threads = {}

function setup(thread)
  thread:set("id", #threads)
  table.insert(threads, thread)
end

function init(args)
  statuses = {}
  counter = id * 7919
end

function request()
  counter = counter + 1
  local token = tokens[(counter % #tokens) + 1]
  return wrk.format("POST", "/passcode/verify", {
    ["Content-Type"] = "application/json",
    ["Cookie"] = "passcode_challenge=" .. token,
  }, '{"code":"000000"}')
end

function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
end

function done(summary, latency, requests)
  local total = {}
  for _, t in ipairs(threads) do
    local s = t:get("statuses")
    for k, v in pairs(s) do total[k] = (total[k] or 0) + v end
  end
  for k, v in pairs(total) do io.write(string.format("status %d: %d\n", k, v)) end
end
