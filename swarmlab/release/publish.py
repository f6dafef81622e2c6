"""publish_images: build the stack's images (app, web, postgres) and push them to the lab's registry.

Tags are immutable and content-addressed: `v-<12 hex>` is the sha256 of the build context's files
(paths, modes and bytes) and of the build arguments other than VERSION, so the same sources always
give the same tag and any change gives a new one; `latest` is never used. A variant (the same
context built with another VERSION, e.g. the web image's `v2` for a rolling update) gets
`v-<12 hex>-<variant>`. VERSION is always the full tag (the images report it).

Builds run on a docker engine reached with the SDK: by default a manager's, through an SSH
dial-stdio tunnel (`swarmlab.hosts.engine`), so the controller needs no engine of its own and the
registry (reachable and trusted inside the lab) is reached from inside the lab. An engine on this
machine (engine="local") builds with its warm cache and pushes through `blobs`: layers compressed once
per machine, not once per lab. A tag the registry already has is neither built nor pushed, so a re-run
is a no-op.

Pure: `image_builds` (contexts, hashes, tags, refs). Side effects: `publish` (over a DockerClient).
"""

from __future__ import annotations

import hashlib
import io
import re
import stat
import tarfile
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import docker
import requests
from docker.errors import APIError, BuildError, NotFound
from pydantic import BaseModel, ConfigDict, SecretStr

from swarmlab.errors import SwarmlabError, redact
from swarmlab.hosts.errors import tail
from swarmlab.release.blobs import BlobCache, RegistryAPIError, RegistryPusher

ROOT = Path(__file__).resolve().parents[2]
IMAGES = ("postgres", "app", "web")  # biggest first: it bounds the wall time when built in parallel
_VARIANT_RE = re.compile(r"^[a-z0-9][a-z0-9.]{0,15}$")


class PublishError(SwarmlabError):
    """Base of publish errors; `image` is the reference (repository:tag) concerned. A subclass names its
    further arguments in `fields` (kept as attributes) and says what happened in `template`, filled with them."""

    fields: tuple[str, ...] = ()
    template = "publishing {image} failed"

    def __init__(self, image: str, *values: str):
        named = dict(zip(self.fields, values, strict=True))
        super().__init__(self.template.format(image=image, **named))
        self.image = image
        self.__dict__.update(named)


class BuildFailed(PublishError):
    fields = ("reason", "log_tail")
    template = ("building {image} failed: {reason}\n{log_tail}\nFix the Dockerfile or the build context (images/…) "
                "and run again; when a package download failed, check that the build host reaches its apt mirror "
                "and base image registry.")
    reason: str
    log_tail: str


class RegistryFailed(PublishError):
    """A registry call about `image` failed: `registry` names the registry, `detail` says how."""
    fields = ("registry", "detail")
    registry: str
    detail: str


class PushFailed(RegistryFailed):
    template = ("pushing {image} to {registry} failed: {detail}. Check that the registry user exists with push "
                "rights (provision creates it) and that the registry answers from the build host, then run again.")


class RegistryCheckFailed(RegistryFailed):
    template = ("cannot tell whether {registry} holds {image}: {detail}. Check the registry credentials and that "
                "the registry answers from the build host.")


class ImageBuild(BaseModel):
    """One image to publish: where its context comes from and the immutable tag it gets."""

    model_config = ConfigDict(frozen=True)

    name: str                           # app | web | postgres
    repository: str                     # <registry fqdn>/<name>
    tag: str                            # v-<12 hex>[-<variant>]
    dockerfile: str                     # path inside the context
    files: tuple[tuple[str, str], ...]  # (path in the context, path on disk), sorted
    buildargs: dict[str, str]           # VERSION (= tag) and BASE when given
    content_hash: str                   # sha256 hex of the context + build args except VERSION

    @property
    def ref(self) -> str:
        return f"{self.repository}:{self.tag}"


class PublishResult(BaseModel):
    """refs by image name (`web-v2` for a variant); which were built and pushed, which already existed."""

    images: dict[str, str]
    pushed: list[str] = []
    present: list[str] = []
    seconds: float = 0.0

    @property
    def changed(self) -> bool:
        return bool(self.pushed)


def context_files(name: str, root: Path = ROOT) -> tuple[str, list[tuple[str, Path]]]:
    """(dockerfile path in the context, [(path in context, file)]) of image `name`.

    web and postgres: the files of images/<name>. app: images/app/Dockerfile and app/ (its context
    is the repository root, restricted to what the Dockerfile uses; no __pycache__)."""
    if name == "app":
        files = [("images/app/Dockerfile", root / "images/app/Dockerfile")]
        files += [(p.relative_to(root).as_posix(), p) for p in (root / "app").rglob("*")
                  if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc"]
        dockerfile = "images/app/Dockerfile"
    elif name in ("web", "postgres"):
        d = root / "images" / name
        files = [(p.relative_to(d).as_posix(), p) for p in d.rglob("*") if p.is_file()]
        dockerfile = "Dockerfile"
    else:
        raise ValueError(f"unknown image {name!r}; known: {', '.join(IMAGES)}")
    if not files or not any(arc == dockerfile for arc, _ in files):
        raise FileNotFoundError(f"image {name}: no {dockerfile} under {root}")
    return dockerfile, sorted(files)


def _mode(path: Path) -> int:
    return 0o755 if path.stat().st_mode & stat.S_IXUSR else 0o644


def content_hash(files: Sequence[tuple[str, Path]], buildargs: dict[str, str] | None = None) -> str:
    """sha256 over (path, mode, length, bytes) of every file in order, then the build args (sorted),
    VERSION excluded (it is derived from this hash)."""
    h = hashlib.sha256()
    for arc, path in files:
        data = Path(path).read_bytes()
        h.update(f"{arc}\0{_mode(Path(path)):o}\0{len(data)}\0".encode())
        h.update(data)
    for k, v in sorted((buildargs or {}).items()):
        if k != "VERSION":
            h.update(f"arg\0{k}={v}\0".encode())
    return h.hexdigest()


def image_tag(digest: str, variant: str | None = None) -> str:
    """`v-<first 12 hex>`, or `v-<12 hex>-<variant>`; never `latest`."""
    if not re.fullmatch(r"[0-9a-f]{12,64}", digest):
        raise ValueError(f"not a hex digest: {digest!r}")
    if variant is not None and not _VARIANT_RE.fullmatch(variant):
        raise ValueError(f"variant {variant!r}: use 1-16 lowercase letters, digits or dots")
    return f"v-{digest[:12]}" + (f"-{variant}" if variant else "")


def image_build(name: str, fqdn: str, *, variant: str | None = None, base: str | None = None,
                root: Path = ROOT) -> ImageBuild:
    dockerfile, files = context_files(name, root)
    args = {"BASE": base} if base else {}
    digest = content_hash(files, args)
    tag = image_tag(digest, variant)
    return ImageBuild(name=name, repository=f"{fqdn}/{name}", tag=tag, dockerfile=dockerfile,
                      files=tuple((arc, str(p)) for arc, p in files), buildargs={**args, "VERSION": tag},
                      content_hash=digest)


def image_builds(fqdn: str, *, variants: Sequence[tuple[str, str]] = (), base: str | None = None,
                 root: Path = ROOT) -> dict[str, ImageBuild]:
    """The stack's three images plus `variants` ((image, variant) pairs), keyed `name` / `name-variant`."""
    out = {name: image_build(name, fqdn, base=base, root=root) for name in IMAGES}
    for name, variant in variants:
        out[f"{name}-{variant}"] = image_build(name, fqdn, variant=variant, base=base, root=root)
    return out


def context_tar(build: ImageBuild) -> bytes:
    """The build context as a reproducible tar (fixed mtime, owner and modes)."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for arc, path in build.files:
            data = Path(path).read_bytes()
            info = tarfile.TarInfo(arc)
            info.size, info.mode, info.mtime = len(data), _mode(Path(path)), 0
            info.uid = info.gid = 0
            info.uname = info.gname = "root"
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def push_error(line: dict) -> str | None:
    """The registry's error message in one decoded push-stream item, else None."""
    if not isinstance(line, dict):
        return None
    detail = line.get("errorDetail")
    if detail:
        return (detail.get("message") if isinstance(detail, dict) else str(detail)) or line.get("error") or "error"
    if line.get("error"):
        return str(line["error"])
    return None


def build_log_tail(build_log) -> str:
    lines = []
    for item in list(build_log or [])[-40:]:
        if isinstance(item, dict):
            lines.append(str(item.get("stream") or item.get("error") or item.get("status") or "").rstrip())
    return tail("\n".join(x for x in lines if x), lines=25)


# -- side effects --------------------------------------------------------------------------------

def registry_has(client: docker.DockerClient, build: ImageBuild, auth: dict[str, str],
                 secrets: Sequence[str | SecretStr] = (), repository: str | None = None) -> bool:
    """Does the registry hold `build.ref`? (the engine asks the registry: GET /distribution/<ref>/json).
    `repository` names the same registry repository by another address (a tunnel)."""
    try:
        client.api.inspect_distribution(f"{repository or build.repository}:{build.tag}", auth_config=auth)
        return True
    except NotFound:
        return False
    except APIError as e:
        text = redact(str(e.explanation or e), *secrets)
        if e.status_code == 404 or "manifest unknown" in text.lower() or "not found" in text.lower():
            return False
        raise RegistryCheckFailed(build.ref, build.repository.split("/")[0], text) from None


def untag_registry_images(client: docker.DockerClient, fqdn: str) -> None:
    """Remove the tags this engine holds for the registry `fqdn` (builds tag `<fqdn>/<name>:<tag>`); the layers
    stay in its build cache."""
    for tag in [t for image in client.images.list() for t in image.tags if t.startswith(f"{fqdn}/")]:
        client.images.remove(tag, noprune=True)


def build_image(client: docker.DockerClient, build: ImageBuild) -> None:
    try:
        client.images.build(fileobj=io.BytesIO(context_tar(build)), custom_context=True,
                            dockerfile=build.dockerfile, tag=build.ref, buildargs=build.buildargs,
                            rm=True, forcerm=True, pull=False,
                            labels={"swarmlab.image": build.name, "swarmlab.content-hash": build.content_hash})
    except BuildError as e:
        raise BuildFailed(build.ref, e.msg, build_log_tail(e.build_log)) from None
    except APIError as e:
        raise BuildFailed(build.ref, str(e.explanation or e), "") from None


def push_image(client: docker.DockerClient, build: ImageBuild, auth: dict[str, str],
               secrets: Sequence[str | SecretStr] = (), repository: str | None = None) -> None:
    """Push, reading the whole stream: docker-py reports push errors inside it, never by raising.
    With `repository` (the same registry by another address), push under that name, then untag it."""
    registry = build.repository.split("/")[0]
    repo = repository or build.repository
    try:
        if repo != build.repository:
            client.api.tag(build.ref, repo, build.tag)
        try:
            for line in client.api.push(repo, tag=build.tag, stream=True, decode=True, auth_config=auth):
                err = push_error(line)
                if err:
                    raise PushFailed(build.ref, registry, redact(err, *secrets))
        finally:
            if repo != build.repository:
                client.api.remove_image(f"{repo}:{build.tag}", noprune=True)
    except APIError as e:
        raise PushFailed(build.ref, registry, redact(str(e.explanation or e), *secrets)) from None


def push_blobs(client: docker.DockerClient, build: ImageBuild, pusher: RegistryPusher,
               secrets: Sequence[str | SecretStr] = ()) -> None:
    """Push through the registry's HTTP API, the layers from `pusher`'s BlobCache (compressed there once)."""
    try:
        pusher.push(build.repository.split("/", 1)[1], build.tag, pusher.cache.image_blobs(client, build.ref))
    except (RegistryAPIError, requests.RequestException, APIError) as e:
        raise PushFailed(build.ref, build.repository.split("/")[0], redact(str(e), *secrets)) from None


def publish(connect: Callable[[], docker.DockerClient], builds: dict[str, ImageBuild], user: str,
            password: SecretStr, *, max_parallel: int = 3, push_via: str | None = None,
            cache: BlobCache | None = None, log: Callable[[str], None] = lambda _m: None) -> PublishResult:
    """Build and push every image the registry does not hold yet, in parallel (one client per thread).

    `connect()` returns a fresh DockerClient for the build engine (e.g. `swarmlab.hosts.engine.engine_connector`'s).
    `push_via` ("127.0.0.1:PORT", from `swarmlab.hosts.engine.registry_route`) is how that engine reaches the registry
    when it cannot by its name; images keep their `<fqdn>/<name>:<tag>` names everywhere else. With `cache` (an
    engine on this machine), layers are compressed once into it and pushed over HTTP (`blobs`), not by the engine.
    """
    t0 = time.monotonic()
    auth = {"username": user, "password": password.get_secret_value()}
    secrets = [password]
    registry = push_via or (next(iter(builds.values())).repository.split("/")[0] if builds else "")
    pusher = RegistryPusher(f"https://{registry}", user, password, cache, verify=not push_via) if cache else None

    def via(b: ImageBuild) -> str | None:
        return f"{push_via}/{b.name}" if push_via else None

    def push_one(client: docker.DockerClient, b: ImageBuild) -> None:
        if pusher:
            push_blobs(client, b, pusher, secrets)
        else:
            push_image(client, b, auth, secrets, via(b))

    first, first_done = threading.Lock(), threading.Event()

    def push(client: docker.DockerClient, b: ImageBuild) -> None:
        # The first push goes alone: the layers the images share (their base) are compressed and uploaded once,
        # and mounted from that repository for the others instead of being uploaded again.
        if first.acquire(blocking=False):
            try:
                push_one(client, b)
            finally:
                first_done.set()
        else:
            first_done.wait()
            push_one(client, b)

    def one(key: str) -> bool:
        b = builds[key]
        client = connect()
        try:
            if registry_has(client, b, auth, secrets, via(b)):
                log(f"{b.ref}: already in the registry")
                return False
            log(f"{b.ref}: building")
            build_image(client, b)
            log(f"{b.ref}: pushing")
            push(client, b)
            log(f"{b.ref}: pushed")
            return True
        finally:
            client.close()

    if builds:
        client = connect()
        try:  # fail fast on wrong credentials, before any build
            client.login(username=user, password=password.get_secret_value(), registry=registry, reauth=True)
        except APIError as e:
            raise PushFailed(registry, registry, "login refused: " + redact(str(e.explanation or e), *secrets)) \
                from None
        finally:
            client.close()
    with ThreadPoolExecutor(max_workers=max(1, min(max_parallel, len(builds))),
                            thread_name_prefix="swarmlab-publish") as pool:
        futures = {k: pool.submit(one, k) for k in builds}
        done = {k: f.result() for k, f in futures.items()}
    return PublishResult(images={k: b.ref for k, b in builds.items()},
                         pushed=[builds[k].ref for k, v in done.items() if v],
                         present=[builds[k].ref for k, v in done.items() if not v],
                         seconds=round(time.monotonic() - t0, 2))
