-- wrk script: GET a manifest, asking for the OCI image manifest media type.
wrk.method = "GET"
wrk.headers["Accept"] = "application/vnd.oci.image.manifest.v1+json"
