"""Push an image from this machine's engine through the registry's HTTP API (the distribution spec), each layer
gzip-compressed once per machine and kept by its diff ID. `docker push` compresses every layer again for every
registry it has not pushed to, and each lab has a registry of its own: 8 CPU-seconds of dockerd for the stack's
three images, on every build. publish uses this for engine="local".

Pure: `manifest`, `parse_challenge`. Side effects: `BlobCache.image_blobs` (the engine's `docker save`, files
under the cache's root) and `RegistryPusher` (HTTP).
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import re
import tarfile
import tempfile
import threading
import warnings
import zlib
from collections.abc import Iterable, Iterator
from pathlib import Path
from urllib.parse import urljoin

import docker
import requests
from pydantic import BaseModel, ConfigDict, SecretStr
from urllib3.exceptions import InsecureRequestWarning

LAYER_TYPE = "application/vnd.docker.image.rootfs.diff.tar.gzip"
CONFIG_TYPE = "application/vnd.docker.container.image.v1+json"
MANIFEST_TYPE = "application/vnd.docker.distribution.manifest.v2+json"
#: gzip levels: 1 across a network (40 % of level 6's CPU for about 10 % more bytes); 0 (stored, no deflate) to a
#: registry on this machine's own lab segment, where bytes cost nothing and every pulling VM shares these CPUs
#: (a worker's pull of the stack's images: 4.1-5.2 CPU-s stored against 6.0-6.7 at level 1)
GZIP_LEVEL, LOCAL_GZIP_LEVEL = 1, 0
CHUNK = 1 << 20
TIMEOUT_S = (10, 300)   # connect, read (a whole layer's PUT answers only once the registry has it)
_CHALLENGE_RE = re.compile(r'(\w+)="([^"]*)"')

# Only a loopback relay to the lab's own registry address is not verified (as the engine does): no warning for it.
warnings.filterwarnings("ignore", message=r"Unverified HTTPS request is being made to host '127\.0\.0\.1'",
                        category=InsecureRequestWarning)


class RegistryAPIError(RuntimeError):
    """The registry answered a push request with an unexpected status (the message names the request)."""


class Blob(BaseModel):
    model_config = ConfigDict(frozen=True)
    digest: str
    size: int


class ImageBlobs(BaseModel):
    """An image as the registry stores it: its config blob and its compressed layers, base first."""
    model_config = ConfigDict(frozen=True)
    config: Blob
    layers: tuple[Blob, ...]


def manifest(image: ImageBlobs) -> bytes:
    """The image's schema-2 manifest (the format `docker push` writes), as the bytes to PUT."""
    return json.dumps({
        "schemaVersion": 2, "mediaType": MANIFEST_TYPE,
        "config": {"mediaType": CONFIG_TYPE, "size": image.config.size, "digest": image.config.digest},
        "layers": [{"mediaType": LAYER_TYPE, "size": b.size, "digest": b.digest} for b in image.layers],
    }, indent=3).encode()


def parse_challenge(header: str) -> tuple[str, dict[str, str]]:
    """`WWW-Authenticate: Bearer realm="…",service="…"` → ("bearer", {"realm": …, "service": …})."""
    scheme, _, rest = header.strip().partition(" ")
    return scheme.lower(), dict(_CHALLENGE_RE.findall(rest))


# -- the cache ------------------------------------------------------------------------------------------

class _Chunks(io.RawIOBase):
    """A readable file over an iterator of byte chunks (the engine's `docker save` stream)."""

    def __init__(self, chunks: Iterable[bytes]):
        self._it, self._buf = iter(chunks), b""

    def readable(self) -> bool:
        return True

    def readinto(self, b) -> int:
        while not self._buf:
            try:
                self._buf = next(self._it)
            except StopIteration:
                return 0
        n = min(len(b), len(self._buf))
        b[:n], self._buf = self._buf[:n], self._buf[n:]
        return n


class BlobCache:
    """Compressed layers (`blobs/sha256/<hex>`, found by diff ID through `layers/<hex>.gz<level>.json`) and image
    configs (`blobs/sha256/<image id>`) under `root`. Any part may be deleted at any time; it is made again.
    `level`: the layers' gzip level (`GZIP_LEVEL`, or `LOCAL_GZIP_LEVEL` for a registry on this machine)."""

    def __init__(self, root: Path | None = None, level: int = GZIP_LEVEL):
        if not 0 <= level <= 9:
            raise ValueError(f"gzip level must be 0-9, not {level!r}")
        self.root = Path(root) if root else Path(os.environ.get("SWARMLAB_STATE_DIR", ".state")) / "blobs"
        self.level = level
        self._lock = threading.Lock()     # one `docker save` at a time: images share layers

    def path(self, digest: str) -> Path:
        algorithm, _, hexdigest = digest.partition(":")
        return self.root / "blobs" / algorithm / hexdigest

    def _record(self, diff_id: str) -> Path:
        return self.root / "layers" / f"{diff_id.partition(':')[2]}.gz{self.level}.json"

    def _layer(self, diff_id: str) -> Blob | None:
        try:
            blob = Blob.model_validate_json(self._record(diff_id).read_text())
        except (OSError, ValueError):
            return None
        return blob if self.path(blob.digest).is_file() else None

    def image_blobs(self, client: docker.DockerClient, ref: str) -> ImageBlobs:
        """`ref`'s config and compressed layers, compressing (once) each layer not cached yet."""
        image = client.images.get(ref)
        diff_ids = image.attrs["RootFS"]["Layers"]
        with self._lock:
            missing = {d for d in diff_ids if self._layer(d) is None}
            if missing or not self.path(image.id).is_file():
                self._ingest(client.api.get_image(ref, chunk_size=CHUNK), image.id, missing)
        config = self.path(image.id)
        layers = [self._layer(d) for d in diff_ids]
        if not config.is_file() or None in layers:
            raise RegistryAPIError(f"{ref}: `docker save` did not hold its config and every layer")
        return ImageBlobs(config=Blob(digest=image.id, size=config.stat().st_size), layers=tuple(layers))

    def _ingest(self, stream: Iterable[bytes], image_id: str, wanted: set[str]) -> None:
        """Read a `docker save` tar once: keep the config, compress the wanted layers (spooled raw to disk first,
        as a layer's diff ID is known only once it has been read)."""
        with tarfile.open(fileobj=io.BufferedReader(_Chunks(stream), CHUNK), mode="r|") as tar:
            for member in tar:
                if not member.isfile():
                    continue
                f = tar.extractfile(member)
                if member.name.endswith("/layer.tar"):
                    self._spool_layer(f, wanted)
                elif member.name == f"{image_id.partition(':')[2]}.json":
                    data = f.read()
                    if "sha256:" + hashlib.sha256(data).hexdigest() == image_id:
                        self._write(self.path(image_id), [data])

    def _spool_layer(self, f, wanted: set[str]) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        raw_hash = hashlib.sha256()
        with tempfile.TemporaryFile(dir=self.root) as raw:
            for chunk in iter(lambda: f.read(CHUNK), b""):
                raw_hash.update(chunk)
                raw.write(chunk)
            diff_id = "sha256:" + raw_hash.hexdigest()
            if diff_id not in wanted:
                return
            raw.seek(0)
            gz_hash, size = hashlib.sha256(), 0
            packer = zlib.compressobj(self.level, zlib.DEFLATED, 31)  # wbits 31: a gzip stream, mtime 0

            def packed() -> Iterator[bytes]:
                nonlocal size
                for chunk in iter(lambda: raw.read(CHUNK), b""):
                    out = packer.compress(chunk)
                    if out:
                        gz_hash.update(out)
                        size += len(out)
                        yield out
                out = packer.flush()
                gz_hash.update(out)
                size += len(out)
                yield out

            tmp = _temp_file(self.root / "blobs", packed())
        digest = "sha256:" + gz_hash.hexdigest()
        self.path(digest).parent.mkdir(parents=True, exist_ok=True)
        os.replace(tmp, self.path(digest))
        self._write(self._record(diff_id), [Blob(digest=digest, size=size).model_dump_json().encode()])

    @staticmethod
    def _write(path: Path, chunks: Iterable[bytes]) -> None:
        """Write atomically (a temporary file beside `path`, then a rename): processes may fill one cache at
        once, and a layer's gzip stream is the same bytes whoever writes it."""
        os.replace(_temp_file(path.parent, chunks), path)


def _temp_file(directory: Path, chunks: Iterable[bytes]) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".tmp-")
    try:
        with os.fdopen(fd, "wb") as out:
            for chunk in chunks:
                out.write(chunk)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return Path(tmp)


# -- the registry ---------------------------------------------------------------------------------------

class RegistryPusher:
    """Pushes images from a BlobCache to one registry: blobs the registry holds are skipped, blobs another of
    its repositories holds are mounted from there, the rest are uploaded whole; then the manifest. Answers
    Basic and Bearer (token) challenges with the registry user's credentials. Thread-safe (a requests.Session
    per thread); `base_url` is `https://<registry>` (verify=False only for a loopback relay to the lab's own
    address, as the engine treats 127.0.0.0/8 registries)."""

    def __init__(self, base_url: str, user: str, password: SecretStr, cache: BlobCache, *, verify: bool = True):
        self.base_url, self.user, self.password, self.cache, self.verify = base_url, user, password, cache, verify
        self._held: dict[str, str] = {}          # digest → a repository of this registry that holds it
        self._lock, self._local = threading.Lock(), threading.local()

    def push(self, repository: str, tag: str, image: ImageBlobs) -> None:
        for blob in (*image.layers, image.config):
            self._blob(repository, blob)
        url = f"{self.base_url}/v2/{repository}/manifests/{tag}"
        r = self._send("PUT", url, repository, data=manifest(image), headers={"Content-Type": MANIFEST_TYPE})
        self._expect(r, (201,), f"PUT manifest {repository}:{tag}")

    def _blob(self, repository: str, blob: Blob) -> None:
        base = f"{self.base_url}/v2/{repository}/blobs"
        r = self._send("HEAD", f"{base}/{blob.digest}", repository)
        if r.status_code == 200:
            self._holds(blob.digest, repository)
            return
        self._expect(r, (404,), f"HEAD blob {blob.digest} in {repository}")
        with self._lock:
            source = self._held.get(blob.digest)
        params = {"mount": blob.digest, "from": source} if source else None
        r = self._send("POST", f"{base}/uploads/", repository, params=params, extra_scope=source)
        if r.status_code == 201:                 # mounted from `source`
            self._holds(blob.digest, repository)
            return
        self._expect(r, (202,), f"POST blob upload to {repository}")
        if not r.headers.get("Location"):
            raise RegistryAPIError(f"POST blob upload to {repository}: HTTP 202 without a Location to upload to")
        location = urljoin(r.url, r.headers["Location"])
        path = self.cache.path(blob.digest)
        r = self._send("PUT", location, repository, params={"digest": blob.digest}, body_path=path,
                       headers={"Content-Type": "application/octet-stream", "Content-Length": str(blob.size)})
        self._expect(r, (201,), f"PUT blob {blob.digest} to {repository}")
        self._holds(blob.digest, repository)

    def _holds(self, digest: str, repository: str) -> None:
        with self._lock:
            self._held.setdefault(digest, repository)

    @staticmethod
    def _expect(r: requests.Response, ok: tuple[int, ...], what: str) -> None:
        if r.status_code not in ok:
            detail = r.text[:300].strip() if r.request.method != "HEAD" else ""
            hint = " (refused: check the registry user and its push rights)" if r.status_code in (401, 403) else ""
            raise RegistryAPIError(f"{what}: HTTP {r.status_code}{hint}" + (f": {detail}" if detail else ""))

    def _session(self) -> requests.Session:
        s = getattr(self._local, "session", None)
        if s is None:   # `verify` goes with each request: REQUESTS_CA_BUNDLE would override a session's
            s = self._local.session = requests.Session()
            self._local.authorization = {}
        return s

    def _send(self, method: str, url: str, repository: str, *, body_path: Path | None = None,
              extra_scope: str | None = None, headers: dict | None = None, **kwargs) -> requests.Response:
        """One request; on a 401 answer the challenge and send it once more (Basic: for every scope after)."""
        session = self._session()
        scope = f"repository:{repository}:pull,push" + (f" repository:{extra_scope}:pull" if extra_scope else "")
        granted = self._local.authorization

        def send() -> requests.Response:
            auth = granted.get(scope) or granted.get("*") or {}
            if body_path is None:
                return session.request(method, url, headers={**(headers or {}), **auth}, timeout=TIMEOUT_S,
                                       verify=self.verify, **kwargs)
            with open(body_path, "rb") as body:
                return session.request(method, url, headers={**(headers or {}), **auth}, data=body,
                                       timeout=TIMEOUT_S, verify=self.verify, **kwargs)

        r = send()
        if r.status_code == 401:
            scheme, authorization = self._authorize(r.headers.get("WWW-Authenticate", ""), scope)
            granted["*" if scheme == "basic" else scope] = authorization
            r = send()
        return r

    def _authorize(self, challenge: str, scope: str) -> tuple[str, dict[str, str]]:
        """(scheme, the Authorization header that answers `challenge` for `scope`)."""
        scheme, params = parse_challenge(challenge)
        basic = "Basic " + base64.b64encode(f"{self.user}:{self.password.get_secret_value()}".encode()).decode()
        if scheme == "basic":
            return scheme, {"Authorization": basic}
        if scheme != "bearer" or "realm" not in params:
            raise RegistryAPIError(f"the registry asks for {scheme or 'no'} authentication, which this client "
                                   "does not speak (Basic and Bearer)")
        query = {"scope": scope.split(" "), **({"service": params["service"]} if "service" in params else {})}
        r = self._session().get(params["realm"], params=query, headers={"Authorization": basic},
                                timeout=TIMEOUT_S)
        if r.status_code != 200:
            raise RegistryAPIError(f"token request to {params['realm']}: HTTP {r.status_code} (check the "
                                   "registry user and password)")
        body = r.json()
        token = body.get("token") or body.get("access_token")
        if not token:
            raise RegistryAPIError(f"token request to {params['realm']}: no token in the answer")
        return scheme, {"Authorization": f"Bearer {token}"}
