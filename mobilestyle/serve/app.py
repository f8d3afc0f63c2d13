"""The HTTP layer: FastAPI routes over service.Service, the upload limit, the bearer token, Prometheus metrics.

Routes (OpenAPI page at /docs): POST /v1/models, GET /v1/models/{id}, GET /v1/models/{id}/files/{name},
POST /v1/stylize, GET /healthz, /readyz, /metrics. Every error is JSON ``{"error": {"code", "message"}}``.
"""

from __future__ import annotations

import hmac
import logging
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping, Sequence
from contextlib import asynccontextmanager
from typing import Any

from fastapi import Depends, FastAPI, File, Form, Request, UploadFile
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from starlette.exceptions import HTTPException as StarletteHTTPException

from mobilestyle import __version__
from mobilestyle.serve.errors import ApiError, TooLarge, Unauthorized
from mobilestyle.serve.service import STYLE_FILE, BuildResult, Service, parse_options

log = logging.getLogger(__name__)
Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

CONTENT_TYPES = {".tflite": "application/octet-stream", ".onnx": "application/octet-stream", ".zip": "application/zip", ".png": "image/png"}
FORM_SLACK = 64 << 10  # multipart headers and the small form fields beside the files


def _json_error(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status, headers=headers)


class BodyLimit:
    """ASGI middleware: a request body over ``max_bytes`` is answered 413 (by Content-Length before anything is read,
    else as soon as the streamed body passes the limit), whatever the route does with the body."""

    def __init__(self, app: Callable[[Scope, Receive, Send], Awaitable[None]], max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    def _refusal(self) -> JSONResponse:
        return _json_error(413, TooLarge.code, f"request body over the {self.max_bytes / (1 << 20):.0f} MiB upload limit")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = dict(scope.get("headers") or []).get(b"content-length")
        if length is not None and length.isdigit() and int(length) > self.max_bytes:
            await self._refusal()(scope, receive, send)
            return
        received = 0
        over = False
        refused = False

        async def limited_receive() -> Message:
            nonlocal received, over
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    over = True
                    raise TooLarge("request body too large")
            return message

        async def checked_send(message: Message) -> None:
            nonlocal refused
            if over:  # whatever the route made of the broken body, the answer is 413
                if message["type"] == "http.response.start" and not refused:
                    refused = True
                    await self._refusal()(scope, receive, send)
                return
            await send(message)

        try:
            await self.app(scope, limited_receive, checked_send)
        except TooLarge:
            if not refused:
                await self._refusal()(scope, receive, send)


def _file_record(request: Request, result_entry: Any, info: dict) -> dict:
    url = str(request.url_for("model_file", model_id=result_entry.id, name=info["name"]))
    return {
        "format": info["format"],
        "url": url,
        "bytes": info["bytes"],
        "sha256": info["sha256"],
        "precision": info["precision"],
        "sizes": info["sizes"],
        "verification": info["verification"],
        "max_abs_error": info["max_abs_error"],
        "psnr_db": info["psnr_db"],
    }


def _model_body(request: Request, entry: Any, cached: bool | None = None, timings: dict | None = None) -> dict:
    body: dict[str, Any] = {"id": entry.id}
    if cached is not None:
        body["cached"] = cached
    body["options"] = entry.meta["options"]
    body["model_version"] = entry.meta["model_version"]
    body["files"] = [_file_record(request, entry, info) for info in entry.meta["files"]]
    body["style_url"] = str(request.url_for("model_file", model_id=entry.id, name=STYLE_FILE))
    if timings is not None:
        body["timings"] = timings
    return body


def create_app(
    make_service: Callable[[], Service],
    *,
    token: str | None = None,
    max_upload_bytes: int = 20 << 20,
    cors_origins: Sequence[str] = (),
) -> FastAPI:
    """The app; ``make_service`` runs at start-up (loads the model), then the templates warm on the pool.
    ``cors_origins``: web pages (``http://host:port``, or ``*``) allowed to call the API from a browser."""
    registry = CollectorRegistry()
    requests = Counter("mobilestyle_http_requests", "HTTP requests", ["method", "route", "status"], registry=registry)
    latency = Histogram(
        "mobilestyle_http_request_seconds",
        "HTTP request latency",
        ["method", "route"],
        buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
        registry=registry,
    )
    models = Counter("mobilestyle_models", "POST /v1/models answers by outcome", ["outcome"], registry=registry)
    state: dict[str, Service] = {}

    def service() -> Service:
        return state["service"]

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        svc = make_service()
        state["service"] = svc
        app.state.service = svc
        for name, doc, fn in (
            ("mobilestyle_pool_pending", "jobs running or queued", lambda: svc.pool.pending),
            ("mobilestyle_pool_running", "jobs running", lambda: svc.pool.running),
            ("mobilestyle_pool_rejected", "jobs refused with 503 (queue full), since start", lambda: svc.pool.rejected),
            ("mobilestyle_cache_bytes", "bytes in the model cache", lambda: svc.cache.total_bytes),
            ("mobilestyle_cache_entries", "entries in the model cache", lambda: svc.cache.entries),
            ("mobilestyle_cache_evictions", "entries evicted (LRU), since start", lambda: svc.cache.evictions),
            ("mobilestyle_cache_corrupt", "corrupt entries found and removed, since start", lambda: svc.cache.corrupt),
            ("mobilestyle_ready", "1 when the conversion templates are warm", lambda: int(svc.ready)),
        ):
            Gauge(name, doc, registry=registry).set_function(fn)
        warming = threading.Thread(target=_warm, args=(svc,), name="mobilestyle-warm", daemon=True)
        warming.start()
        try:
            yield
        finally:
            svc.close()  # the jobs already accepted finish; their requests were answered before uvicorn got here

    app = FastAPI(
        title="mobilestyle",
        version=__version__,
        summary="Upload a style picture, get verified TFLite / ONNX / CoreML style-transfer models.",
        lifespan=lifespan,
    )

    @app.exception_handler(ApiError)
    async def api_error(request: Request, exc: ApiError) -> JSONResponse:
        return _json_error(exc.status, exc.code, exc.message, exc.headers)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        parts = []
        for error in exc.errors():
            where = ".".join(str(p) for p in error.get("loc", ()) if p not in ("body", "query", "path"))
            parts.append(f"{where}: {error.get('msg', 'invalid')}" if where else str(error.get("msg", "invalid")))
        return _json_error(422, "bad_input", "; ".join(parts) or "invalid request")

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "bad_request")
        return _json_error(exc.status_code, code, str(exc.detail), getattr(exc, "headers", None))

    @app.exception_handler(Exception)
    async def internal_error(request: Request, exc: Exception) -> JSONResponse:
        log.exception("internal error on %s %s", request.method, request.url.path)
        return _json_error(500, "internal", f"internal error: {type(exc).__name__}")

    @app.middleware("http")
    async def measure(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        start = time.perf_counter()
        response = await call_next(request)
        route = getattr(request.scope.get("route"), "path", "other")
        latency.labels(request.method, route).observe(time.perf_counter() - start)
        requests.labels(request.method, route, str(response.status_code)).inc()
        return response

    app.add_middleware(BodyLimit, max_bytes=max_upload_bytes + FORM_SLACK)
    if cors_origins:  # outermost: refusals (413, 401) carry the CORS headers too, so the page can read them
        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(cors_origins),
            allow_methods=["GET", "POST"],
            allow_headers=["Authorization"],
            expose_headers=["ETag", "Location"],
        )

    def authorize(request: Request) -> None:
        if token is None:
            return
        given = request.headers.get("authorization", "")
        scheme, _, value = given.partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(value.strip().encode(), token.encode()):
            raise Unauthorized("this service needs 'Authorization: Bearer <token>' on POST requests")

    async def read_upload(upload: UploadFile, what: str) -> bytes:
        data = await upload.read(max_upload_bytes + 1)
        if len(data) > max_upload_bytes:
            raise TooLarge(f"{what} is over the {max_upload_bytes / (1 << 20):.0f} MiB upload limit")
        return data

    @app.post("/v1/models", status_code=201, dependencies=[Depends(authorize)], summary="Style picture -> verified model files")
    async def create_model(
        request: Request,
        style: UploadFile = File(..., description="the style picture (JPEG, PNG, WebP, ...)"),
        formats: str | None = Form(None, description="comma list of onnx, tflite, coreml, or all (default tflite)"),
        size: int | None = Form(None, description="square side of the TFLite signature / CoreML default (default 256)"),
        precision: str | None = Form(None, description="fp32, fp16 or int8 (default fp16; ONNX is always fp32)"),
    ) -> JSONResponse:
        options = parse_options(formats, size, precision)
        data = await read_upload(style, "style")
        result: BuildResult = await service().model(data, options)
        models.labels("cached" if result.cached else "built").inc()
        body = _model_body(request, result.entry, result.cached, result.timings)
        return JSONResponse(body, status_code=200 if result.cached else 201, headers={"Location": f"/v1/models/{result.entry.id}"})

    @app.get("/v1/models/{model_id}", summary="A model's metadata")
    async def get_model(request: Request, model_id: str) -> JSONResponse:
        entry = await service().metadata(model_id)
        return JSONResponse(_model_body(request, entry))

    @app.get("/v1/models/{model_id}/files/{name}", name="model_file", summary="A model file (ETag = sha256)")
    async def model_file(request: Request, model_id: str, name: str) -> Response:
        entry, data = await service().file(model_id, name)
        info = entry.file_info(name) or entry.meta["style"]
        etag = f'"{info["sha256"]}"'
        headers = {"ETag": etag, "Cache-Control": "public, max-age=31536000, immutable"}
        if request.headers.get("if-none-match") == etag:
            return Response(status_code=304, headers=headers)
        suffix = "." + name.rsplit(".", 1)[-1]
        headers["Content-Disposition"] = f'attachment; filename="{model_id[:12]}-{name}"'
        return Response(data, media_type=CONTENT_TYPES.get(suffix, "application/octet-stream"), headers=headers)

    @app.post("/v1/stylize", dependencies=[Depends(authorize)], summary="Photo + style (or model id) -> stylized picture")
    async def stylize(
        photo: UploadFile = File(..., description="the photo"),
        style: UploadFile | None = File(None, description="a style picture (or give model)"),
        model: str | None = Form(None, description="a model id from POST /v1/models (or give style)"),
        size: int | None = Form(None, description="short side of the result (16..1024, default 512 or the photo's own)"),
        format: str = Form("png", description="png or jpeg"),
    ) -> Response:
        kind = format.strip().lower()
        if kind not in ("png", "jpeg", "jpg"):
            raise ApiError(f"unknown output format {format!r}; choose png or jpeg", status=422, code="bad_input")
        photo_bytes = await read_upload(photo, "photo")
        style_bytes = await read_upload(style, "style") if style is not None else None
        image = await service().stylize(photo_bytes, style_bytes, model, size, jpeg=kind != "png")
        return Response(image, media_type="image/png" if kind == "png" else "image/jpeg")

    @app.get("/healthz", summary="Alive")
    async def healthz() -> dict:
        return {"status": "ok", "version": __version__}

    @app.get("/readyz", summary="Ready: conversion templates warm")
    async def readyz() -> JSONResponse:
        svc = state.get("service")
        if svc is None or not svc.ready:
            return _json_error(503, "not_ready", "conversion templates are warming up")
        return JSONResponse({"status": "ready", "model_version": svc.model_version, "warm_seconds": svc.warm_seconds})

    @app.get("/metrics", summary="Prometheus metrics")
    async def metrics() -> Response:
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    return app


def _warm(service: Service) -> None:
    try:
        service.warm()
    except Exception:  # the service still answers cached entries; /readyz stays 503 and says so in the log
        log.exception("warming the conversion templates failed")
