"""build_lab from nothing to HAProxy answering (lab and stack images warm and their layers compressed, registry
fresh), its no-op re-run, teardown; then the same lab with `database: appliance` from nothing (`build_appliance_s`)
and its teardown. `cpu_s`: the CPU-seconds the first build cost, by consumer (benchmarks/cpu.py); `cpu_busy_share`:
how busy it kept the machine.

Own names and subnets (lab `benchbuild`, instance `swarmlab-bench-benchbuild`), so it runs beside the other
benchmarks; the emulator is purged at the end, so nothing of it is left.
"""

from __future__ import annotations

import os

from benchmarks import cpu, labenv
from swarmlab.sakura.transport import SENT
from swarmlab.spec import LabSpec

# Where the images are built: "local" (default: this machine's engine, its build cache warm, as the sequential
# script built on the host; pushed through a relay to the lab's registry) or "ssh" (on a manager, from scratch
# in its fresh engine, as build_lab's default): SWARMLAB_BENCH_ENGINE=ssh.
ENGINE = os.environ.get("SWARMLAB_BENCH_ENGINE", "local")
BASE = "lab/base:bookworm" if ENGINE == "local" else None  # the host has no Docker Hub


def run(tmp: str) -> dict:
    with labenv.lab(tmp, "benchbuild", 92) as spec:  # warm: lab/base, lab/vm, lab/registry exist
        from flows.build import build_lab
        from flows.teardown import teardown_lab

        appliance = LabSpec(**{**spec.model_dump(), "database": "appliance"})  # the same lab on the appliance
        try:
            if BASE:  # warm: the stack's images are in this engine's build cache, as the lab images are,
                # and their layers compressed in the BlobCache, as an earlier lab's publish on this machine leaves them
                from swarmlab.hosts.engine import local_engine
                from swarmlab.release.blobs import LOCAL_GZIP_LEVEL, BlobCache
                from swarmlab.release.publish import build_image, image_builds
                with local_engine() as client:
                    for b in image_builds(f"{spec.name}.sakuracr.jp", base=BASE).values():
                        build_image(client, b)
                        BlobCache(level=LOCAL_GZIP_LEVEL).image_blobs(client, b.ref)
            sent = [SENT.value]
            try:
                before = cpu.snapshot(labenv.instance(spec.name))
                first, build_s = labenv.timed(build_lab, spec, engine=ENGINE, base=BASE)
                cpu_s = cpu.spent(before, cpu.snapshot(labenv.instance(spec.name)))
                sent.append(SENT.value)
                again, noop_s = labenv.timed(build_lab, spec, engine=ENGINE, base=BASE)
                sent.append(SENT.value)
            finally:
                _, teardown_s = labenv.timed(teardown_lab, spec.name, spec.zone)
                sent.append(SENT.value)
            try:
                _, build_appliance_s = labenv.timed(build_lab, appliance, engine=ENGINE, base=BASE)
            finally:
                teardown_lab(appliance.name, appliance.zone)
        finally:
            if BASE:  # the stack images this engine built and tagged for the lab's registry
                from swarmlab.hosts.engine import local_engine
                from swarmlab.release.publish import untag_registry_images
                with local_engine() as client:
                    untag_registry_images(client, f"{spec.name}.sakuracr.jp")
    return {"benchmark": "build", "build_s": build_s, "noop_s": noop_s, "noop_ratio": round(noop_s / build_s, 3),
            "teardown_s": teardown_s, "build_appliance_s": build_appliance_s, "changes_first": len(first.changes),
            "changes_noop": again.changes, "stages": first.timings, "web_url": first.web_url, "engine": ENGINE,
            "cpu_s": cpu_s, "cpu_busy_share": round(cpu_s.get("machine (busy)", 0) / (build_s * os.cpu_count()), 2),
            "api_requests": dict(zip(("build", "noop", "teardown"), (b - a for a, b in zip(sent, sent[1:])))),
            "emulator": labenv.emulator_note()}
