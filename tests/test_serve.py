"""`mobilestyle serve`, in process (FastAPI's TestClient runs the real app, its lifespan and worker pool): the API,
the cache (repeat = cached, corrupt entry rebuilt, LRU eviction), errors (413, 4xx JSON, token), 503 shedding."""

from __future__ import annotations

import concurrent.futures
import contextlib
import hashlib
import io
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image

pytest.importorskip("fastapi")
from fastapi.testclient import TestClient  # noqa: E402
from serve_helpers import entry_folder, picture_bytes, png_bomb, wait_ready  # noqa: E402

from mobilestyle.export import read_metadata  # noqa: E402
from mobilestyle.serve.app import create_app  # noqa: E402
from mobilestyle.serve.service import ServeConfig, Service  # noqa: E402
from mobilestyle.style_encoder import StyleNets  # noqa: E402


@pytest.fixture(scope="module")
def style_nets(vgg_weights: Path) -> StyleNets:
    return StyleNets.load(None, vgg_weights)


@contextlib.contextmanager
def serving(
    style_nets: StyleNets, cache: Path, token: str | None = None, max_upload_bytes: int = 20 << 20, **options
) -> Iterator[TestClient]:
    config = ServeConfig(cache_dir=cache, warm_formats=("tflite",), max_upload_bytes=max_upload_bytes, token=token, **options)
    app = create_app(lambda: Service(config, style_nets), token=token, max_upload_bytes=max_upload_bytes)
    with TestClient(app) as client:
        wait_ready(client.get)
        yield client


@pytest.fixture(scope="module")
def client(style_nets: StyleNets, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    with serving(style_nets, tmp_path_factory.mktemp("serve_cache"), workers=2, queue=8) as c:
        yield c


def post_style(client: TestClient, style: bytes, **form: str):  # type: ignore[no-untyped-def]
    return client.post("/v1/models", files={"style": ("style.png", style, "image/png")}, data=form)


def assert_error(response, status: int, code: str, *words: str) -> None:  # type: ignore[no-untyped-def]
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    error = response.json()["error"]
    assert error["code"] == code, error
    for word in words:
        assert word in error["message"], error


def test_model_built_then_cached(client: TestClient, tmp_path: Path) -> None:
    style = picture_bytes(1)
    first = post_style(client, style)
    assert first.status_code == 201, first.text
    body = first.json()
    assert body["cached"] is False and len(body["id"]) == 64
    assert body["options"] == {"formats": ["tflite"], "size": 256, "precision": "fp16"}
    (record,) = body["files"]
    assert record["format"] == "tflite" and record["precision"] == "fp16" and "vs PyTorch" in record["verification"]
    assert {"total_ms", "net_ms", "export_ms"} <= set(body["timings"])
    file = client.get(record["url"])
    assert file.status_code == 200 and file.headers["content-type"] == "application/octet-stream"
    assert len(file.content) == record["bytes"] and hashlib.sha256(file.content).hexdigest() == record["sha256"]
    assert file.headers["etag"] == f'"{record["sha256"]}"'
    assert client.get(record["url"], headers={"If-None-Match": file.headers["etag"]}).status_code == 304
    saved = tmp_path / "model.tflite"
    saved.write_bytes(file.content)
    assert read_metadata(saved)["style_sha256"] == hashlib.sha256(style).hexdigest()

    again = post_style(client, style)
    assert again.status_code == 200 and again.json()["cached"] is True and again.json()["id"] == body["id"]
    assert again.json()["files"] == body["files"]
    meta = client.get(f"/v1/models/{body['id']}")
    assert meta.status_code == 200 and meta.json()["files"] == body["files"]
    assert client.get(body["style_url"]).headers["content-type"] == "image/png"


def test_options_make_other_models(client: TestClient) -> None:
    style = picture_bytes(2)
    tflite = post_style(client, style).json()
    both = post_style(client, style, formats="onnx, tflite").json()
    assert both["id"] != tflite["id"]
    assert sorted(f["format"] for f in both["files"]) == ["onnx", "tflite"]
    assert post_style(client, style, formats="tflite,onnx").json()["id"] == both["id"]  # order does not matter


@pytest.mark.parametrize(
    ("form", "words"),
    [
        ({"formats": "gif"}, ["unknown format 'gif'"]),
        ({"formats": " , "}, ["formats is empty"]),
        ({"precision": "fp8"}, ["unknown precision"]),
        ({"size": "30"}, ["30"]),
        ({"size": "big"}, ["size"]),
    ],
)
def test_bad_options_are_422_json(client: TestClient, form: dict, words: list[str]) -> None:
    assert_error(post_style(client, picture_bytes(3), **form), 422, "bad_input", *words)


def test_bad_pictures_are_422_json(client: TestClient) -> None:
    assert_error(post_style(client, b"not an image at all"), 422, "bad_input", "not an image")
    assert_error(post_style(client, b""), 422, "bad_input", "empty")
    assert_error(post_style(client, picture_bytes(4, side=8)), 422, "bad_input", "smaller than")
    assert_error(post_style(client, picture_bytes(4)[:300]), 422, "bad_input", "style")
    assert_error(post_style(client, png_bomb()), 422, "bad_input", "30000x30000", "limit")
    assert_error(client.post("/v1/models", data={"formats": "tflite"}), 422, "bad_input", "style")


def test_no_path_outside_the_cache(client: TestClient) -> None:
    model_id = post_style(client, picture_bytes(1)).json()["id"]
    for url in (
        f"/v1/models/{model_id}/files/entry.json",
        f"/v1/models/{model_id}/files/..%2F..%2F..%2Fetc%2Fpasswd",
        "/v1/models/..%2F..%2Fetc/files/passwd",
        f"/v1/models/{'0' * 64}/files/model.tflite",
        "/v1/models/nope",
    ):
        response = client.get(url)
        assert response.status_code == 404, url
        assert response.json()["error"]["code"] == "not_found"


def test_stylize(client: TestClient) -> None:
    photo = picture_bytes(7, side=200, fmt="JPEG")
    by_style = client.post("/v1/stylize", files={"photo": ("p.jpg", photo), "style": ("s.png", picture_bytes(1))}, data={"size": "128"})
    assert by_style.status_code == 200 and by_style.headers["content-type"] == "image/png"
    assert Image.open(io.BytesIO(by_style.content)).size == (128, 128)
    model_id = post_style(client, picture_bytes(1)).json()["id"]
    by_id = client.post("/v1/stylize", files={"photo": ("p.jpg", photo)}, data={"model": model_id, "format": "jpeg"})
    assert by_id.status_code == 200 and by_id.headers["content-type"] == "image/jpeg"
    assert Image.open(io.BytesIO(by_id.content)).size == (200, 200)
    assert_error(client.post("/v1/stylize", files={"photo": ("p.jpg", photo)}), 422, "bad_input", "exactly one")
    assert_error(client.post("/v1/stylize", files={"photo": ("p.jpg", photo)}, data={"model": "f" * 64}), 404, "not_found")


def test_health_ready_metrics(client: TestClient) -> None:
    assert client.get("/healthz").json()["status"] == "ok"
    ready = client.get("/readyz").json()
    assert ready["status"] == "ready" and "+graph" in ready["model_version"]
    post_style(client, picture_bytes(1))
    metrics = client.get("/metrics")
    assert metrics.status_code == 200
    text = metrics.text
    assert 'mobilestyle_http_requests_total{method="POST",route="/v1/models"' in text
    assert "mobilestyle_cache_entries" in text and "mobilestyle_pool_rejected" in text
    assert client.get("/openapi.json").json()["info"]["title"] == "mobilestyle"


def service_of(client: TestClient) -> Service:
    return client.app.state.service  # type: ignore[attr-defined]


def test_corrupt_entry_is_rebuilt_never_served(client: TestClient) -> None:
    style = picture_bytes(11)
    body = post_style(client, style).json()
    model = entry_folder(service_of(client).cache.root, body["id"]) / "model.tflite"
    model.write_bytes(model.read_bytes()[:1000])  # truncated
    again = post_style(client, style)
    assert again.status_code == 201 and again.json()["cached"] is False  # rebuilt
    served = client.get(again.json()["files"][0]["url"])
    assert hashlib.sha256(served.content).hexdigest() == again.json()["files"][0]["sha256"]
    # a corrupt file met on GET is rebuilt from the entry's stored style picture before it is served
    data = bytearray(model.read_bytes())
    data[5000] ^= 0xFF
    model.write_bytes(bytes(data))
    served = client.get(again.json()["files"][0]["url"])
    assert served.status_code == 200
    assert hashlib.sha256(served.content).hexdigest() == client.get(f"/v1/models/{body['id']}").json()["files"][0]["sha256"]
    assert served.content == model.read_bytes()
    assert service_of(client).cache.corrupt >= 2


def test_lru_eviction(style_nets: StyleNets, tmp_path: Path) -> None:
    with serving(style_nets, tmp_path, cache_max_bytes=1 << 20, workers=1, queue=4) as client:
        service = service_of(client)
        ids = [post_style(client, picture_bytes(100 + i)).json()["id"] for i in range(2)]
        per_entry = service.cache.total_bytes // 2
        assert post_style(client, picture_bytes(100)).json()["cached"] is True  # the first is now the most recent
        count = (1 << 20) // per_entry + 1  # enough new entries to overflow the cap
        newer = [post_style(client, picture_bytes(200 + i)).json()["id"] for i in range(count - 1)]
        assert service.cache.total_bytes <= 1 << 20
        assert service.cache.evictions >= 1
        assert client.get(f"/v1/models/{ids[1]}").status_code == 404  # least recently used went first
        assert not entry_folder(tmp_path, ids[1]).exists()
        assert client.get(f"/v1/models/{newer[-1]}").status_code == 200
        assert "mobilestyle_cache_evictions" in client.get("/metrics").text


def test_upload_limit_413(style_nets: StyleNets, tmp_path: Path) -> None:
    with serving(style_nets, tmp_path, max_upload_bytes=1 << 20, workers=1) as client:
        big = b"\0" * (2 << 20)
        assert_error(post_style(client, big), 413, "too_large", "limit")

        def chunks() -> Iterator[bytes]:  # no Content-Length: the streamed body is counted
            yield b'--b\r\nContent-Disposition: form-data; name="style"; filename="s.png"\r\n\r\n'
            for _ in range(40):
                yield b"\0" * (64 << 10)

        response = client.post("/v1/models", content=chunks(), headers={"content-type": "multipart/form-data; boundary=b"})
        assert_error(response, 413, "too_large")
        assert post_style(client, picture_bytes(1)).status_code == 201  # still serving


def test_bearer_token(style_nets: StyleNets, tmp_path: Path) -> None:
    with serving(style_nets, tmp_path, token="s3cret", workers=1) as client:
        no_token = post_style(client, picture_bytes(1))
        assert_error(no_token, 401, "unauthorized", "Bearer")
        assert no_token.headers["www-authenticate"] == "Bearer"
        wrong = client.post("/v1/models", files={"style": ("s.png", picture_bytes(1))}, headers={"Authorization": "Bearer nope"})
        assert_error(wrong, 401, "unauthorized")
        right = client.post("/v1/models", files={"style": ("s.png", picture_bytes(1))}, headers={"Authorization": "Bearer s3cret"})
        assert right.status_code == 201
        assert client.get(right.json()["files"][0]["url"]).status_code == 200  # downloads need no token
        assert client.get("/healthz").status_code == 200


def test_full_queue_sheds_503(style_nets: StyleNets, tmp_path: Path) -> None:
    with serving(style_nets, tmp_path, workers=1, queue=0, build_delay_s=2.0) as client:
        with concurrent.futures.ThreadPoolExecutor(3) as threads:
            answers = list(threads.map(lambda i: post_style(client, picture_bytes(300 + i)), range(3)))
        codes = sorted(a.status_code for a in answers)
        assert codes == [201, 503, 503], codes
        shed = next(a for a in answers if a.status_code == 503)
        assert_error(shed, 503, "busy", "retry")
        assert int(shed.headers["retry-after"]) >= 1
        assert post_style(client, picture_bytes(301)).status_code in (200, 201)  # recovers once the load drops
        assert "mobilestyle_pool_rejected 2.0" in client.get("/metrics").text


def test_same_new_style_at_once_is_built_once(style_nets: StyleNets, tmp_path: Path) -> None:
    with serving(style_nets, tmp_path, workers=2, queue=4, build_delay_s=0.5) as client:
        with concurrent.futures.ThreadPoolExecutor(4) as threads:
            answers = list(threads.map(lambda i: post_style(client, picture_bytes(400)), range(4)))
        assert {a.status_code for a in answers} <= {200, 201}
        assert len({a.json()["id"] for a in answers}) == 1
        assert service_of(client).built == 1


def test_cors_only_for_named_origins() -> None:
    """--cors-origin: a browser page on that origin may call the API (preflight, headers on answers and refusals);
    other origins, and a service started without the option, get no CORS headers. No lifespan: no model needed."""
    page, other = "http://127.0.0.1:5173", "http://evil.example"

    def no_service() -> Service:
        raise AssertionError("these requests never reach the service")

    allowed = TestClient(create_app(no_service, token="secret", cors_origins=[page]))
    preflight = {"Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "authorization"}
    answer = allowed.options("/v1/models", headers={"Origin": page, **preflight})
    assert answer.status_code == 200 and answer.headers["access-control-allow-origin"] == page
    assert "POST" in answer.headers["access-control-allow-methods"]
    refused = allowed.options("/v1/models", headers={"Origin": other, **preflight})
    assert refused.status_code == 400 and "access-control-allow-origin" not in refused.headers
    assert allowed.get("/healthz", headers={"Origin": page}).headers["access-control-allow-origin"] == page
    assert "access-control-allow-origin" not in allowed.get("/healthz", headers={"Origin": other}).headers
    unauthorized = allowed.post("/v1/models", headers={"Origin": page}, files={"style": ("s.png", picture_bytes(1), "image/png")})
    assert unauthorized.status_code == 401 and unauthorized.headers["access-control-allow-origin"] == page

    default = TestClient(create_app(no_service))
    assert "access-control-allow-origin" not in default.get("/healthz", headers={"Origin": page}).headers
