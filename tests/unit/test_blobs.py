"""swarmlab.release.blobs: the manifest, the challenge parser, the cache filled from a `docker save` stream, and
the pusher's Bearer token handshake against a loopback HTTP server (the real registry of the lab tests speaks
Basic only: tests/lab/test_60_release.py pushes there and a lab host pulls what was pushed)."""

from __future__ import annotations

import base64
import gzip
import hashlib
import io
import json
import tarfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from pydantic import SecretStr

from swarmlab.release.blobs import (LAYER_TYPE, MANIFEST_TYPE, Blob, BlobCache, ImageBlobs, RegistryAPIError,
                                    RegistryPusher, manifest, parse_challenge)


def _sha(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _tar(files: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w") as t:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            t.addfile(info, io.BytesIO(data))
    return out.getvalue()


def _saved_image(layers: list[bytes]) -> tuple[bytes, str, list[str]]:
    """A `docker save` archive of an image with these layer tars: (archive, image id, diff ids)."""
    diff_ids = [_sha(layer) for layer in layers]
    config = json.dumps({"architecture": "amd64", "rootfs": {"type": "layers", "diff_ids": diff_ids}}).encode()
    image_id = _sha(config)
    files = {f"v1-{i}/layer.tar": layer for i, layer in enumerate(layers)}
    files[f"{image_id[7:]}.json"] = config
    files["manifest.json"] = json.dumps([{"Config": f"{image_id[7:]}.json", "Layers": list(files)[:-1]}]).encode()
    return _tar(files), image_id, diff_ids


def _chunks(data: bytes, size: int = 777):
    return (data[i:i + size] for i in range(0, len(data), size))


def test_the_manifest_is_schema_2_with_gzip_layers_in_order():
    image = ImageBlobs(config=Blob(digest="sha256:" + "c" * 64, size=12),
                       layers=(Blob(digest="sha256:" + "a" * 64, size=5), Blob(digest="sha256:" + "b" * 64, size=7)))
    doc = json.loads(manifest(image))
    assert doc["schemaVersion"] == 2 and doc["mediaType"] == MANIFEST_TYPE
    assert doc["config"] == {"mediaType": "application/vnd.docker.container.image.v1+json", "size": 12,
                             "digest": "sha256:" + "c" * 64}
    assert [(x["mediaType"], x["digest"][7], x["size"]) for x in doc["layers"]] == [(LAYER_TYPE, "a", 5),
                                                                                  (LAYER_TYPE, "b", 7)]


def test_challenges_parse_to_a_scheme_and_its_parameters():
    assert parse_challenge('Bearer realm="https://auth.example/token",service="registry.example"') == (
        "bearer", {"realm": "https://auth.example/token", "service": "registry.example"})
    assert parse_challenge('Basic realm="sakuracr"') == ("basic", {"realm": "sakuracr"})


def test_the_cache_keeps_the_config_and_compresses_only_the_wanted_layers(tmp_path):
    layers = [_tar({"etc/base": b"base" * 5000}), _tar({"srv/app": b"app" * 3000})]
    archive, image_id, diff_ids = _saved_image(layers)
    cache = BlobCache(tmp_path)
    cache._ingest(_chunks(archive), image_id, {diff_ids[1]})
    assert cache.path(image_id).read_bytes() and _sha(cache.path(image_id).read_bytes()) == image_id
    assert cache._layer(diff_ids[0]) is None
    blob = cache._layer(diff_ids[1])
    stored = cache.path(blob.digest).read_bytes()
    assert _sha(stored) == blob.digest and len(stored) == blob.size and gzip.decompress(stored) == layers[1]
    cache._ingest(_chunks(archive), image_id, set(diff_ids))   # again, both: the same bytes for the second
    assert cache._layer(diff_ids[1]) == blob and cache._layer(diff_ids[0]) is not None
    assert not [p for p in tmp_path.rglob(".tmp-*")]


def test_each_level_has_its_own_blobs_and_level_0_stores_the_layer_in_a_gzip_stream(tmp_path):
    layer = _tar({"usr/lib/big": bytes(range(256)) * 400})
    archive, image_id, diff_ids = _saved_image([layer])
    stored, packed = BlobCache(tmp_path, level=0), BlobCache(tmp_path, level=1)
    for cache in (stored, packed):
        cache._ingest(_chunks(archive), image_id, set(diff_ids))
    s, p = stored._layer(diff_ids[0]), packed._layer(diff_ids[0])
    assert s.digest != p.digest and s.size > len(layer) > p.size   # stored: the tar plus gzip's framing
    assert gzip.decompress(stored.path(s.digest).read_bytes()) == layer == gzip.decompress(
        packed.path(p.digest).read_bytes())
    with pytest.raises(ValueError, match="gzip level must be 0-9"):
        BlobCache(tmp_path, level=10)


class _Registry(BaseHTTPRequestHandler):
    """A registry that only takes `Bearer tok` tokens, from a token endpoint that only takes user:pw."""
    blobs: dict[str, bytes] = {}
    manifests: dict[str, bytes] = {}
    token_scopes: list[list[str]] = []

    def log_message(self, *args):
        pass

    def _reply(self, code: int, headers: dict | None = None, body: bytes = b"") -> None:
        self.send_response(code)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _authorized(self) -> bool:
        if self.path.startswith("/token"):
            from urllib.parse import parse_qs, urlparse
            ok = self.headers.get("Authorization") == "Basic " + base64.b64encode(b"user:pw").decode()
            _Registry.token_scopes.append(parse_qs(urlparse(self.path).query).get("scope", []))
            self._reply(200 if ok else 401, body=json.dumps({"token": "tok"}).encode() if ok else b"")
            return False
        if self.headers.get("Authorization") != "Bearer tok":
            realm = f"http://127.0.0.1:{self.server.server_port}/token"
            self._reply(401, {"WWW-Authenticate": f'Bearer realm="{realm}",service="test"'})
            return False
        return True

    def do_HEAD(self):
        if self._authorized():
            self._reply(200 if self.path.rsplit("/", 1)[1] in self.blobs else 404)

    def do_GET(self):
        self._authorized()

    def do_POST(self):
        if self._authorized():
            self._reply(202, {"Location": "/v2/upload/1?_state=x"})

    def do_PUT(self):
        if not self._authorized():
            return
        body = self.rfile.read(int(self.headers["Content-Length"]))
        if "/manifests/" in self.path:
            self.manifests[self.path] = body
        else:
            digest = self.path.split("digest=")[1]
            if _sha(body) != digest.replace("%3A", ":"):
                return self._reply(400)
            self.blobs[digest.replace("%3A", ":")] = body
        self._reply(201)


@pytest.fixture
def registry():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Registry)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    _Registry.blobs, _Registry.manifests, _Registry.token_scopes = {}, {}, []
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()


def test_the_pusher_answers_a_bearer_challenge_and_uploads_each_blob_once(tmp_path, registry):
    layers = [_tar({"etc/base": b"base" * 5000})]
    archive, image_id, diff_ids = _saved_image(layers)
    cache = BlobCache(tmp_path)
    cache._ingest(_chunks(archive), image_id, set(diff_ids))
    image = ImageBlobs(config=Blob(digest=image_id, size=cache.path(image_id).stat().st_size),
                       layers=(cache._layer(diff_ids[0]),))
    pusher = RegistryPusher(registry, "user", SecretStr("pw"), cache)
    pusher.push("app", "v-1", image)
    assert set(_Registry.blobs) == {image_id, image.layers[0].digest}
    assert json.loads(_Registry.manifests["/v2/app/manifests/v-1"])["layers"][0]["digest"] == image.layers[0].digest
    assert _Registry.token_scopes == [["repository:app:pull,push"]]      # one token, reused for every request
    pusher.push("app", "v-1", image)                                    # present: HEADs only, nothing uploaded
    assert len(_Registry.blobs) == 2

    wrong = RegistryPusher(registry, "user", SecretStr("not-pw"), cache)
    with pytest.raises(RegistryAPIError, match="token request") as e:
        wrong.push("app", "v-2", image)
    assert "not-pw" not in str(e.value)
