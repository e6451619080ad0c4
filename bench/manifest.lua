-- wrk script: GET a manifest, asking for the OCI image manifest media type, with the
-- Authorization header from BENCH_AUTH when it is set (bench.py sets it for Berth only).
wrk.method = "GET"
wrk.headers["Accept"] = "application/vnd.oci.image.manifest.v1+json"
local auth = os.getenv("BENCH_AUTH")
if auth and auth ~= "" then
    wrk.headers["Authorization"] = auth
end
