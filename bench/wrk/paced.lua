-- Paces every connection: one request per DELAY_MS milliseconds, so connections x 1000/DELAY_MS
-- is a fixed request rate. wrk starts a request's latency clock after the delay.
local d = tonumber(os.getenv("DELAY_MS"))
function delay()
  return d
end
