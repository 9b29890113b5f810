-- POST /oauth2/token/ refresh grants. Every request spends a refresh token of its
-- own from the pool in BENCH_REFRESH_TOKENS (one per line), which the threads split by
-- their numbers. A thread that runs out sends a token that does not exist, so those
-- responses count as HTTP errors in the report.
dofile(os.getenv("BENCH_LUA_DIR") .. "/report.lua")

-- Counts threads in the setup state. Each thread's own state gets its number as the
-- global `thread_number`, because a local of that name would hide it in init.
local threads_created = 0

function setup(thread)
  thread:set("thread_number", threads_created)
  threads_created = threads_created + 1
end

function init(args)
  local threads = tonumber(os.getenv("BENCH_THREADS"))
  tokens = {}
  local line_number = 0
  for line in io.lines(os.getenv("BENCH_REFRESH_TOKENS")) do
    if line_number % threads == thread_number then
      tokens[#tokens + 1] = line
    end
    line_number = line_number + 1
  end
  next_token = 1
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
  wrk.headers["Authorization"] = "Basic " .. os.getenv("BENCH_BASIC_AUTH")
end

function request()
  local token = tokens[next_token] or "pool-exhausted"
  next_token = next_token + 1
  return wrk.format(nil, nil, nil, "grant_type=refresh_token&refresh_token=" .. token)
end
