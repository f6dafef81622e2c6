"""Issue 3: teardown_lab leaves no container, network or volume of the lab (asserted by label)."""

from __future__ import annotations

import docker
import pytest

from emulator.docker import L_INSTANCE, L_KIND

pytestmark = pytest.mark.lab


def test_teardown_leaves_no_docker_object_of_the_lab(lab, monkeypatch):
    from flows.teardown import teardown_lab

    for key, value in lab.env.items():  # the flows talk to this lab's emulator, not the `built` lab's
        if key.startswith(("SAKURA", "SWARMLAB")):
            monkeypatch.setenv(key, value)

    engine = docker.from_env()
    label = f"{L_INSTANCE}={lab.emu.instance}"

    def lab_objects():
        kinds = {"container": engine.containers.list(all=True, filters={"label": label}),
                 "network": engine.networks.list(filters={"label": label}),
                 "volume": engine.volumes.list(filters={"label": label})}
        return {(k, o.name) for k, objs in kinds.items() for o in objs
                if (o.attrs.get("Labels") or o.attrs.get("Config", {}).get("Labels") or {}).get(L_KIND)
                not in ("shared", "hub")}

    assert lab_objects(), "the lab should have docker objects before teardown"
    teardown_lab(lab.spec.name, lab.spec.zone)
    assert lab_objects() == set()
