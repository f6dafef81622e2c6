"""benchmarks/cpu.py: what a benchmark step cost in CPU-seconds, by consumer."""

import time

from benchmarks import cpu


def test_spent_keeps_what_used_a_tenth_of_a_second_or_more_most_first():
    before = {"machine (busy)": 10.0, "worker01": 1.0, "emulator": 2.0}
    after = {"machine (busy)": 40.0, "worker01": 13.5, "emulator": 2.05, "registry-1": 3.0}
    assert cpu.spent(before, after) == {"machine (busy)": 30.0, "worker01": 12.5, "registry-1": 3.0}
    assert list(cpu.spent(before, after)) == ["machine (busy)", "worker01", "registry-1"]


def test_a_snapshot_counts_this_process_and_the_machine():
    before = cpu.snapshot("swarmlab-test-no-such-instance")
    deadline = time.process_time() + 0.3
    while time.process_time() < deadline:  # burn 0.3 CPU-seconds here
        pass
    used = cpu.spent(before, cpu.snapshot("swarmlab-test-no-such-instance"))
    assert used["benchmark process"] >= 0.2 and used["machine (busy)"] >= used["benchmark process"] - 0.05


def test_a_builds_cpu_counts_the_machine_and_only_that_labs_vms():
    from benchmarks.scale import build_cpu

    before = {"machine (busy)": 100.0, "lab-worker01": 1.0}
    after = {"machine (busy)": 160.0, "lab-worker01": 5.0, "lab-manager01": 3.5, "lab9-worker01": 7.0,
             "registry-12": 2.0, "prefect server": 4.0}
    assert build_cpu(before, after, "lab") == {"machine": 60.0, "vms": 7.5}
