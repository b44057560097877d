-- wrk script: POST /passcode/verify with a wrong code, cycling through prepared challenges.
-- TOKENS_FILE names a file with one challenge token per line (written by benches/gateway.rs).
-- With WITHOUT_CHALLENGE set, the same requests go without the challenge cookie: the gateway
-- answers 400 (no-challenge) before calling the engine, so that run measures a verify's HTTP
-- work alone, with the client's work the same as in the verify run.
-- Each request is a full verify in a component instance: the token is opened and checked,
-- the subject's record read under compare-and-swap, and (for the first 5 tries of a
-- challenge) the failed try written back; later tries are refused as too-many-attempts.
--
-- The requests are formatted once, in init, and the script has no `response` callback (with
-- one, wrk builds a Lua table of every answer's headers and body): wrk shares the machine's
-- cores with the gateway, so what it spends per request is taken from the gateway's rate.
-- The bench reads the answers' statuses from the gateway's own metrics instead.
local tokens = {}
for line in io.lines(os.getenv("TOKENS_FILE")) do tokens[#tokens + 1] = line end

local threads = {}

function setup(thread)
  thread:set("id", #threads)
  table.insert(threads, thread)
end

local without_challenge = os.getenv("WITHOUT_CHALLENGE") ~= nil

function init(args)
  requests = {}
  for i, token in ipairs(tokens) do
    local headers = { ["Content-Type"] = "application/json" }
    if not without_challenge then headers["Cookie"] = "passcode_challenge=" .. token end
    requests[i] = wrk.format("POST", "/passcode/verify", headers, '{"code":"000000"}')
  end
  -- The two threads start at different challenges.
  counter = id * 7919
end

function request()
  counter = counter + 1
  return requests[(counter % #requests) + 1]
end
