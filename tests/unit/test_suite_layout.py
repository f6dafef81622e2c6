"""The test command runs every test directory: a directory left out of scripts/test.sh would pass unseen."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_test_command_runs_every_test_directory():
    script = (ROOT / "scripts" / "test.sh").read_text()
    run = set(re.findall(r"\btests/(\w+)\b", script))
    have = {p.parent.name for p in (ROOT / "tests").glob("*/test_*.py")}
    assert have and have <= run, f"scripts/test.sh does not run tests/{', tests/'.join(sorted(have - run))}"
