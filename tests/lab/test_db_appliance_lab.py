"""A `database: appliance` lab built from nothing on the docker backend: the stack has no db service, the app
writes rows through HAProxy into the appliance's PostgreSQL; the `database restart` drill power-cycles the
appliance through the API under the probe (the app answers 503 on /healthz while it is gone, no probed page
fails, it recovers by itself) and every row is read back; teardown leaves nothing. test_exercise.py runs every
drill on the swarm variant; `python -m benchmarks drills` runs `worker down` on this variant too
(`drills_appliance`), kept out of the suite for its length.

    flock /tmp/swarmlab-docker.lock .venv/bin/python -m pytest tests/lab/test_db_appliance_lab.py -q -x -s
"""

from __future__ import annotations

import time
import uuid

import pytest
import requests

from swarmlab.spec import LabSpec, Role
from tests.lab.conftest import LOCAL_ENGINE, running_lab

pytestmark = pytest.mark.lab

NAME, SUBNET, SHARED = "dbtest", "192.168.71.0/24", "198.18.71.0/24"


def test_an_appliance_lab_serves_rows_from_the_appliance_across_its_power_cycle(tmp_path, prefect_api):
    from flows.build import build_lab
    from flows.exercise import exercise_lab
    from flows.provision import provision
    from flows.session import open_fleet

    with running_lab(tmp_path, NAME, SUBNET, SHARED) as (emu, spec):
        spec = LabSpec(**{**spec.model_dump(), "database": "appliance"})
        t0 = time.monotonic()
        build_lab(spec, **LOCAL_ENGINE)
        print(f"\nbuild_lab (database: appliance) from nothing: {time.monotonic() - t0:.1f} s")
        inv = provision(spec)
        assert inv.db_address == "192.168.71.210:5432"
        haproxy = next(s.address for s in inv.servers if s.role == Role.haproxy)
        fleet = open_fleet(inv, spec, None)
        try:
            names = fleet.session(spec.server_name(spec.managers[0])).run(
                "docker service ls --format '{{.Name}}'", sudo=True).stdout.split()
        finally:
            fleet.close()
        assert sorted(names) == [f"{spec.stack.name}_app", f"{spec.stack.name}_web"]

        texts = [f"row-{uuid.uuid4().hex[:8]}" for _ in range(3)]
        ids = [requests.post(f"http://{haproxy}:8000/notes", json={"text": t}, timeout=10).json()["id"] for t in texts]

        def notes() -> dict:
            r = requests.get(f"http://{haproxy}:8000/notes", params={"limit": 1000}, timeout=5)
            return {n["id"]: n["text"] for n in r.json()} if r.status_code == 200 else {}

        assert {i: notes().get(i) for i in ids} == dict(zip(ids, texts))

        report = exercise_lab(spec, only=["database restart"], fail_on_verdict=False)
        assert report.error == "" and [(d.name, d.why) for d in report.drills if not d.passed] == []
        restart = report.drill("database restart")
        assert restart.details == {"database": "appliance", "data_intact": True} and restart.failed == 0
        assert restart.detect_s is not None and restart.recover_s > restart.detect_s
        assert {i: notes().get(i) for i in ids} == dict(zip(ids, texts))
