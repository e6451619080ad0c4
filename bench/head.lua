-- wrk script: HEAD a blob (existence check, as clients do before pushing a layer).
wrk.method = "HEAD"
