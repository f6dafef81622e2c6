"""Pure parts of publish: build contexts, content-hash tags, reproducible tars, push-stream errors."""

from __future__ import annotations

import io
import shutil
import tarfile
from pathlib import Path

import pytest

from swarmlab.release.publish import (
    IMAGES,
    BuildFailed,
    PushFailed,
    build_log_tail,
    content_hash,
    context_files,
    context_tar,
    image_build,
    image_builds,
    image_tag,
    push_error,
)
from swarmlab.render.stack import StackImages

ROOT = Path(__file__).resolve().parents[2]
FQDN = "lab1.sakuracr.jp"


@pytest.fixture
def tree(tmp_path):
    """A copy of the repository's image sources, to change without touching the real ones."""
    for d in ("images/app", "images/web", "images/postgres", "app"):
        shutil.copytree(ROOT / d, tmp_path / d, ignore=shutil.ignore_patterns("__pycache__"))
    return tmp_path


def test_tags_are_immutable_content_hashes():
    builds = image_builds(FQDN)
    assert set(builds) == set(IMAGES)
    for name, b in builds.items():
        assert b.repository == f"{FQDN}/{name}"
        assert b.tag.startswith("v-") and len(b.tag) == 14 and b.tag != "latest"
        assert b.buildargs["VERSION"] == b.tag
        assert b.tag == image_tag(b.content_hash)
    StackImages(web=builds["web"].ref, app=builds["app"].ref, postgres=builds["postgres"].ref)  # accepted as pinned
    assert image_builds(FQDN) == builds  # deterministic


def test_app_context_is_dockerfile_and_app_package_only():
    dockerfile, files = context_files("app", ROOT)
    arcs = [a for a, _ in files]
    assert dockerfile == "images/app/Dockerfile" and dockerfile in arcs
    assert all(a == dockerfile or a.startswith("app/") for a in arcs)
    assert not any("__pycache__" in a or a.endswith(".pyc") for a in arcs)
    assert "app/main.py" in arcs


def test_web_and_postgres_contexts_are_their_directories():
    for name in ("web", "postgres"):
        dockerfile, files = context_files(name, ROOT)
        assert dockerfile == "Dockerfile"
        assert {a for a, _ in files} == {p.name for p in (ROOT / "images" / name).iterdir() if p.is_file()}


def test_unknown_image_is_refused():
    with pytest.raises(ValueError, match="unknown image"):
        context_files("redis", ROOT)


def test_a_change_in_the_context_changes_only_that_tag(tree):
    before = image_builds(FQDN, root=tree)
    (tree / "app" / "main.py").write_text((tree / "app" / "main.py").read_text() + "\n# changed\n")
    after = image_builds(FQDN, root=tree)
    assert after["app"].tag != before["app"].tag
    assert after["web"].tag == before["web"].tag and after["postgres"].tag == before["postgres"].tag


def test_mode_and_path_are_part_of_the_hash(tree):
    before = image_build("postgres", FQDN, root=tree).tag
    (tree / "images/postgres/entrypoint.sh").chmod(0o644)
    assert image_build("postgres", FQDN, root=tree).tag != before
    (tree / "images/postgres/entrypoint.sh").chmod(0o755)
    assert image_build("postgres", FQDN, root=tree).tag == before
    (tree / "images/postgres/extra.txt").write_text("x")
    assert image_build("postgres", FQDN, root=tree).tag != before


def test_base_build_arg_is_hashed_but_version_is_not():
    files = context_files("web", ROOT)[1]
    assert content_hash(files, {"VERSION": "a"}) == content_hash(files, {"VERSION": "b"}) == content_hash(files)
    assert content_hash(files, {"BASE": "lab/base:bookworm"}) != content_hash(files)
    assert image_build("web", FQDN, base="lab/base:bookworm").buildargs["BASE"] == "lab/base:bookworm"


def test_variant_tag_shares_the_hash_and_gets_its_own_version():
    b = image_builds(FQDN, variants=[("web", "v2")])
    assert b["web-v2"].tag == b["web"].tag + "-v2"
    assert b["web-v2"].buildargs["VERSION"] == b["web-v2"].tag
    for bad in ("V2", "latest-", "", "a" * 17, "x/y"):
        with pytest.raises(ValueError):
            image_tag("0" * 64, bad)
    with pytest.raises(ValueError):
        image_tag("not-hex")


def test_context_tar_is_reproducible_and_complete():
    b = image_build("app", FQDN)
    one, two = context_tar(b), context_tar(b)
    assert one == two
    with tarfile.open(fileobj=io.BytesIO(one)) as tar:
        members = tar.getmembers()
        assert [m.name for m in members] == [a for a, _ in b.files]
        assert all(m.mtime == 0 and m.uid == 0 for m in members)
        assert tar.extractfile("images/app/Dockerfile").read() == (ROOT / "images/app/Dockerfile").read_bytes()


def test_push_stream_errors_are_found():
    assert push_error({"status": "Pushing", "progressDetail": {"current": 1}, "id": "abc"}) is None
    assert push_error({"status": "v-1: digest: sha256:00 size: 1"}) is None
    assert push_error({"errorDetail": {"message": "denied: requested access to the resource is denied"},
                       "error": "denied: requested access to the resource is denied"}) == \
        "denied: requested access to the resource is denied"
    assert push_error({"error": "unauthorized: authentication required"}) == "unauthorized: authentication required"
    assert push_error("not a dict") is None


def test_errors_say_what_failed_and_what_to_do():
    e = PushFailed("r/web:v-1", "r", "denied")
    assert "r/web:v-1" in str(e) and "denied" in str(e) and "registry user" in str(e)
    b = BuildFailed("r/app:v-1", "returned a non-zero code: 100", "E: Unable to locate package x")
    assert "Unable to locate" in str(b) and "Dockerfile" in str(b)
    import pickle
    assert str(pickle.loads(pickle.dumps(e))) == str(e)


def test_build_log_tail_keeps_the_last_lines():
    log = [{"stream": f"Step {i}\n"} for i in range(100)] + [{"error": "boom"}]
    out = build_log_tail(log)
    assert out.endswith("boom") and "Step 99" in out and "Step 1\n" not in out
