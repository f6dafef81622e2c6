"""Build the local lab's images: lab/base:bookworm, lab/vm:bookworm, lab/registry:2.8 (and, when first
needed, lab/postgres:15 for the database appliance: `ensure`).

Cache rule: each image carries the label `swarmlab.source-hash`, a hash of its source directory under
`images/` (plus, for lab/base, the host's apt sources) chained with its parent's hash. An image whose tag
exists with the expected hash is not rebuilt, so a warm run only inspects three images.

Only `lab/*` images are ever built, tagged or pruned.

    python -m emulator.images [--force]      # builds what is stale; last line: JSON summary
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import docker
from docker.errors import BuildError, ImageNotFound

log = logging.getLogger("emulator.images")

IMAGES_DIR = Path(__file__).resolve().parent.parent / "images"
HASH_LABEL = "swarmlab.source-hash"


@dataclass(frozen=True)
class ImageSpec:
    name: str             # directory under images/
    tag: str
    parent: str | None    # name of the parent spec (FROM), None for the debootstrapped base


SPECS: tuple[ImageSpec, ...] = (
    ImageSpec("base", "lab/base:bookworm", None),
    ImageSpec("vm", "lab/vm:bookworm", "base"),
    ImageSpec("registry", "lab/registry:2.8", "base"),
)

# built the first time something needs them (`ensure`), not by `build_all`: the database appliance's server
# (the stack's images/postgres on lab/base) is only needed by a lab that asks for the appliance
ON_DEMAND: tuple[ImageSpec, ...] = (
    ImageSpec("postgres", "lab/postgres:15", "base"),
)

BASE_TAG = "lab/base:bookworm"
VM_TAG = "lab/vm:bookworm"
REGISTRY_TAG = "lab/registry:2.8"


class ImageBuildError(RuntimeError):
    pass


def dir_hash(path: Path) -> str:
    """sha256 over every file's relative path, mode bit x and content, in a stable order."""
    h = hashlib.sha256()
    for p in sorted(path.rglob("*")):
        if p.is_dir() or "__pycache__" in p.parts:
            continue
        rel = p.relative_to(path).as_posix()
        h.update(rel.encode() + b"\0" + (b"x" if os.access(p, os.X_OK) else b"-") + b"\0")
        h.update(p.read_bytes())
        h.update(b"\0")
    return h.hexdigest()


def _base_config(images_dir: Path) -> dict:
    return json.loads((images_dir / "base" / "base.json").read_text())


def source_hashes(images_dir: Path = IMAGES_DIR) -> dict[str, str]:
    """Expected `swarmlab.source-hash` of every image, parents first."""
    out: dict[str, str] = {}
    for spec in (*SPECS, *ON_DEMAND):
        h = hashlib.sha256()
        h.update(dir_hash(images_dir / spec.name).encode())
        if spec.parent:
            h.update(out[spec.parent].encode())
        else:
            sources = Path(_base_config(images_dir)["host_sources"])
            if sources.exists():
                h.update(sources.read_bytes())
        out[spec.name] = h.hexdigest()[:32]
    return out


def current_hash(client: docker.DockerClient, tag: str) -> str | None:
    try:
        img = client.images.get(tag)
    except ImageNotFound:
        return None
    return (img.labels or {}).get(HASH_LABEL)


def stale_images(client: docker.DockerClient, images_dir: Path = IMAGES_DIR) -> list[str]:
    """Names of the specs whose image is missing or built from other sources."""
    hashes = source_hashes(images_dir)
    return [s.name for s in SPECS if current_hash(client, s.tag) != hashes[s.name]]


def _build_base(client: docker.DockerClient, images_dir: Path, source_hash: str) -> None:
    cfg = _base_config(images_dir)
    if shutil.which("debootstrap") is None:
        raise ImageBuildError("debootstrap is not installed on this host (apt-get install debootstrap); "
                              "it is needed to build lab/base:bookworm")
    repo, tag = BASE_TAG.split(":")
    with tempfile.TemporaryDirectory(prefix="lab-base-", dir="/var/tmp") as tmp:
        root = Path(tmp) / "rootfs"
        cmd = ["debootstrap", f"--variant={cfg['variant']}", cfg["suite"], str(root), cfg["mirror"]]
        r = subprocess.run(cmd, capture_output=True, text=True)
        if r.returncode != 0:
            tail = "\n".join((r.stdout + r.stderr).splitlines()[-15:])
            raise ImageBuildError(f"debootstrap failed (exit {r.returncode}):\n{tail}")
        sources = Path(cfg["host_sources"])
        (root / "etc/apt/sources.list").unlink(missing_ok=True)
        if sources.exists():
            shutil.copy(sources, root / "etc/apt/sources.list.d/debian.sources")
        shutil.copy(images_dir / "base" / "apt.conf", root / "etc/apt/apt.conf.d/90lab")
        shutil.copy(images_dir / "base" / "dpkg.cfg", root / "etc/dpkg/dpkg.cfg.d/90lab-slim")
        _remove_excluded(root)
        subprocess.run(["chroot", str(root), "apt-get", "clean"], check=True, capture_output=True)
        shutil.rmtree(root / "var/lib/apt/lists", ignore_errors=True)
        (root / "var/lib/apt/lists/partial").mkdir(parents=True, exist_ok=True)
        for f in (root / "var/cache/apt").glob("*.bin"):
            f.unlink()
        tarball = Path(tmp) / "rootfs.tar"
        subprocess.run(["tar", "-C", str(root), "--numeric-owner", "-cf", str(tarball), "."], check=True)
        changes = [*cfg["changes"], f"LABEL {HASH_LABEL}={source_hash}"]
        client.api.import_image(src=str(tarball), repository=repo, tag=tag, changes=changes)
    if current_hash(client, BASE_TAG) != source_hash:
        raise ImageBuildError(f"{BASE_TAG} was imported but does not carry {HASH_LABEL}={source_hash}")


def _remove_excluded(root: Path) -> None:
    """What dpkg.cfg keeps out of later installs, removed from what debootstrap already installed."""
    share = root / "usr/share"
    doomed = [p for d in ("man", "groff", "info", "lintian", "linda", "locale") for p in (share / d).glob("*")
              if p.name != "locale.alias"]
    doomed += [p for p in (share / "doc").rglob("*") if (p.is_file() or p.is_symlink()) and p.name != "copyright"]
    for p in doomed:
        shutil.rmtree(p) if p.is_dir() and not p.is_symlink() else p.unlink()


def _build_dockerfile(client: docker.DockerClient, spec: ImageSpec, images_dir: Path, source_hash: str) -> None:
    parent = next(p.tag for p in SPECS if p.name == spec.parent)
    try:
        client.images.build(path=str(images_dir / spec.name), tag=spec.tag, labels={HASH_LABEL: source_hash},
                            buildargs={"BASE": parent}, rm=True, forcerm=True, pull=False)
    except BuildError as e:
        tail = "".join(str(c.get("stream", c.get("error", ""))) for c in list(e.build_log)[-20:])
        raise ImageBuildError(f"building {spec.tag} failed: {e.msg}\n{tail}") from None


def build_all(client: docker.DockerClient | None = None, force: bool = False,
              images_dir: Path = IMAGES_DIR) -> dict[str, dict]:
    """Build lab/base, lab/vm and lab/registry in order, skipping those already built from the same sources.

    Returns {name: {"tag", "cached", "seconds"}}.
    """
    client = client or docker.from_env(timeout=600)
    hashes = source_hashes(images_dir)
    summary: dict[str, dict] = {}
    rebuilt = False
    for spec in SPECS:
        t0 = time.monotonic()
        cached = not force and current_hash(client, spec.tag) == hashes[spec.name]
        if not cached:
            log.info("building %s", spec.tag)
            if spec.parent is None:
                _build_base(client, images_dir, hashes[spec.name])
            else:
                _build_dockerfile(client, spec, images_dir, hashes[spec.name])
            rebuilt = True
        summary[spec.name] = {"tag": spec.tag, "cached": cached, "seconds": round(time.monotonic() - t0, 1)}
    if rebuilt:
        _prune_replaced(client)
    return summary


def ensure(client: docker.DockerClient, name: str, images_dir: Path = IMAGES_DIR) -> str:
    """Build the on-demand image `name` unless it is current (same cache rule); returns its tag. Its parent
    must be current already (`build_all`, which the docker backend's preflight asks for)."""
    spec = next(s for s in ON_DEMAND if s.name == name)
    hashes = source_hashes(images_dir)
    if current_hash(client, spec.tag) == hashes[spec.name]:
        return spec.tag
    parent = next(p for p in SPECS if p.name == spec.parent)
    if current_hash(client, parent.tag) != hashes[parent.name]:
        raise ImageBuildError(f"{spec.tag} is built on {parent.tag}, which is missing or stale: "
                              "run `python -m emulator.images` first")
    log.info("building %s", spec.tag)
    _build_dockerfile(client, spec, images_dir, hashes[spec.name])
    _prune_replaced(client)
    return spec.tag


def _prune_replaced(client: docker.DockerClient) -> None:
    """Remove dangling images that we built (they carry our label), i.e. older builds of lab/* tags."""
    try:
        client.images.prune(filters={"dangling": True, "label": HASH_LABEL})
    except docker.errors.APIError as e:  # best effort: a dangling image may still be used by a container
        log.debug("prune skipped: %s", e)


def main(argv: list[str] | None = None) -> int:
    import argparse

    ap = argparse.ArgumentParser(prog="python -m emulator.images", description=__doc__.splitlines()[0])
    ap.add_argument("--force", action="store_true", help="rebuild even when the source hash matches")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    t0 = time.monotonic()
    try:
        summary = build_all(docker.from_env(timeout=600), force=args.force)
    except (ImageBuildError, docker.errors.DockerException) as e:
        print(f"image build failed: {e}", file=sys.stderr)
        return 1
    summary["total_seconds"] = round(time.monotonic() - t0, 1)
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
