"""`mobilestyle serve`: the meta network as an HTTP service: upload a style, get verified model files."""

from __future__ import annotations

import importlib.util
import logging
import os
from pathlib import Path

import click

from mobilestyle.commands.options import checkpoint_option, vgg_weights_option
from mobilestyle.errors import MobilestyleError
from mobilestyle.style_encoder import StyleNets
from mobilestyle.vgg import cache_dir

DELAY_ENV = "MOBILESTYLE_SERVE_BUILD_DELAY_S"  # fault tests: pause between an entry's files


def default_cache() -> Path:
    return cache_dir() / "serve"


@click.command(
    help=__doc__
    + """

POST /v1/models (multipart: file `style`; form `formats`, `size`, `precision`) answers with the id, the
files' URLs, sizes, sha256 and verification; GET the URLs for the files; POST /v1/stylize for previews;
/healthz, /readyz (templates warm), /metrics (Prometheus), /docs (OpenAPI). Built files are kept in a
content-addressed cache (--cache, size-capped, least recently used evicted). CPU work runs on --workers
threads with --queue more jobs waiting; beyond that the service answers 503 with Retry-After. SIGTERM
(or Ctrl-C) stops accepting, finishes the requests in flight, then exits. docs/serve.md has curl examples."""
)
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on (0.0.0.0: every interface).")
@click.option("--port", type=click.IntRange(0, 65535), default=8000, show_default=True, help="Port (0: any free port).")
@click.option(
    "--cache",
    "cache",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Model cache folder. Default: ~/.cache/mobilestyle/serve.",
)
@click.option("--cache-max-mb", type=click.IntRange(1), default=2048, show_default=True, help="Cache size cap (LRU eviction).")
@click.option("--workers", type=click.IntRange(1, 64), default=None, help="Worker threads for CPU work. Default: the CPU count.")
@click.option("--queue", type=click.IntRange(0, 1024), default=None, help="Jobs allowed to wait for a worker. Default: 8 per worker.")
@click.option("--max-upload-mb", type=click.IntRange(1, 1024), default=20, show_default=True, help="Largest upload (413 above).")
@click.option("--token-env", metavar="VAR", default=None, help="Require 'Authorization: Bearer $VAR' on POST requests.")
@click.option(
    "--cors-origin",
    "cors_origins",
    multiple=True,
    metavar="ORIGIN",
    help="A web page origin (http://host:port, or '*') allowed to call the API from a browser (repeatable).",
)
@click.option("--warm", "warm", default="tflite,onnx", show_default=True, help="Formats whose templates load at start-up ('' for none).")
@checkpoint_option
@vgg_weights_option
def command(
    host: str,
    port: int,
    cache: Path | None,
    cache_max_mb: int,
    workers: int | None,
    queue: int | None,
    max_upload_mb: int,
    token_env: str | None,
    cors_origins: tuple[str, ...],
    warm: str,
    checkpoint: Path | None,
    vgg_weights: Path | None,
) -> None:
    for module, package in (
        ("fastapi", "fastapi"),
        ("uvicorn", "uvicorn"),
        ("multipart", "python-multipart"),
        ("prometheus_client", "prometheus-client"),
    ):
        if importlib.util.find_spec(module) is None:
            raise MobilestyleError(f"{package} is not installed: pip install 'mobilestyle[serve]'")
    import uvicorn

    from mobilestyle.export import FORMAT_NAMES
    from mobilestyle.serve.app import create_app
    from mobilestyle.serve.service import ServeConfig, Service

    token = None
    if token_env:
        token = os.environ.get(token_env)
        if not token:
            raise MobilestyleError(f"--token-env {token_env}: the variable is not set or empty")
    warm_formats = tuple(f.strip() for f in warm.split(",") if f.strip())
    unknown = [f for f in warm_formats if f not in FORMAT_NAMES]
    if unknown:
        raise MobilestyleError(f"--warm: unknown format {unknown[0]!r}; choose from {', '.join(FORMAT_NAMES)}")
    workers = workers or max(1, os.cpu_count() or 1)
    config = ServeConfig(
        cache_dir=cache or default_cache(),
        cache_max_bytes=cache_max_mb << 20,
        workers=workers,
        queue=8 * workers if queue is None else queue,
        max_upload_bytes=max_upload_mb << 20,
        checkpoint=checkpoint,
        vgg_weights=vgg_weights,
        token=token,
        warm_formats=warm_formats,
        build_delay_s=float(os.environ.get(DELAY_ENV, "0") or 0),
    )
    style_nets = StyleNets.load(checkpoint, vgg_weights)  # a bad checkpoint or VGG file fails here, before the port opens
    logging.getLogger("mobilestyle").setLevel(logging.INFO)
    app = create_app(lambda: Service(config, style_nets), token=token, max_upload_bytes=config.max_upload_bytes, cors_origins=cors_origins)
    server = uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level="info", timeout_graceful_shutdown=120, lifespan="on"))
    server.run()
    if not server.started:
        raise MobilestyleError(f"the service did not start on {host}:{port} (see the log above)")
