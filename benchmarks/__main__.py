"""`python -m benchmarks NAME`: run one benchmark, print its JSON result on the last line."""

from __future__ import annotations

import importlib
import json
import os
import sys
import tempfile

NAMES = ("provision", "lab", "swarm", "build", "drills", "cost", "scale")


def main() -> None:
    if len(sys.argv) != 2 or sys.argv[1] not in NAMES:
        sys.exit(f"usage: python -m benchmarks {{{'|'.join(NAMES)}}}")
    os.environ.setdefault("DO_NOT_TRACK", "1")
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    with tempfile.TemporaryDirectory(prefix=f"swarmlab-bench-{sys.argv[1]}-") as tmp:
        os.environ.setdefault("PREFECT_HOME", os.path.join(tmp, "prefect"))
        os.environ.setdefault("SWARMLAB_STATE_DIR", os.path.join(tmp, "state"))
        from prefect.testing.utilities import prefect_test_harness

        module = importlib.import_module(f"benchmarks.{sys.argv[1]}")
        with prefect_test_harness(server_startup_timeout=90):  # stopped before the JSON line is printed
            result = module.run(tmp)
    sys.stderr.flush()
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
