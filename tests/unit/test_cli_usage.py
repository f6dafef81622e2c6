"""`python -m flows`: every command takes only its own flags; a flag it cannot honour is a usage error (2)."""

import pytest

from flows.__main__ import main


@pytest.mark.parametrize("argv", [
    ["teardown", "--name", "lab1", "--interval-minutes", "5"],   # cost-guard's flag
    ["provision", "--dry-run"],                                   # provision has no dry run
    ["exercise", "--name", "lab1", "--yes"],
    ["cost-guard", "--name", "lab1"],
    ["teardown"],                                                 # which lab: never a default
    ["exercise"],
    ["demo", "--name", "lab1", "--prefix", "ci"],                 # exclusive
    ["demo", "--adopt"],                                          # adopt what?
])
def test_a_flag_the_command_cannot_honour_is_a_usage_error(argv, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    assert exit_.value.code == 2
    assert "usage:" in capsys.readouterr().err


@pytest.mark.parametrize("command", ["provision", "exercise", "teardown", "demo", "build-and-destroy", "cost-guard"])
def test_every_command_has_help_with_an_example_and_the_zone_rule(command, capsys):
    with pytest.raises(SystemExit) as exit_:
        main([command, "--help"])
    out = capsys.readouterr().out
    assert exit_.value.code == 0
    assert "example" in out and "SAKURACLOUD_ZONE" in out
