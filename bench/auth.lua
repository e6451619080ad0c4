-- wrk script: a plain GET, with the Authorization header from BENCH_AUTH when it is set
-- (bench.py sets it for Berth only; nginx and the reference get none).
wrk.method = "GET"
local auth = os.getenv("BENCH_AUTH")
if auth and auth ~= "" then
    wrk.headers["Authorization"] = auth
end
