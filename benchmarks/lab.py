"""Image build cold and warm; provision → all 7 hosts answer SSH with Docker; teardown."""

from __future__ import annotations

import docker

from benchmarks import labenv
from emulator import images


def run(tmp: str) -> dict:
    engine = docker.from_env(timeout=900)
    _, cold = labenv.timed(images.build_all, engine, force=True)
    _, warm = labenv.timed(images.build_all, engine)
    with labenv.lab(tmp, "benchlab", 9) as spec:
        from flows.session import open_fleet
        from flows.provision import provision
        from flows.teardown import teardown_lab
        from swarmlab.hosts import run_parallel

        def up():
            fleet = open_fleet(provision(spec), spec, None)
            try:
                run_parallel({n: n for n in fleet.names()},
                             lambda n: fleet.session(n).run("docker info --format '{{.ServerVersion}}'", sudo=True))
            finally:
                fleet.close()
        try:
            _, to_ssh = labenv.timed(up)
        finally:
            _, down = labenv.timed(teardown_lab, spec.name, spec.zone)
    return {"benchmark": "lab", "image_build_cold_s": cold, "image_build_warm_s": warm,
            "provision_to_ssh_s": to_ssh, "teardown_s": down, "hosts": 7, "emulator": labenv.emulator_note()}
