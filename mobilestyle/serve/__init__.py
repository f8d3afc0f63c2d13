"""`mobilestyle serve`: the meta network as an HTTP service (docs/serve.md).

Data flow, one way: app.py (HTTP: FastAPI routes, upload limit, token, metrics) -> service.py (the work: upload ->
picture -> StyleNets -> export -> cache entry; no HTTP in it) -> jobs.py (the bounded worker pool that runs it) and
cache.py (content-addressed, atomic, size-capped entries on disk). errors.py: the JSON errors every layer raises.
FastAPI, uvicorn, python-multipart and prometheus-client are the optional extra ``serve``; only app.py and the
command import them.
"""
