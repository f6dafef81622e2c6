"""The `swarmlab` CLI (flows/cli.py; `python -m flows` is its alias): every command takes only its own flags;
a flag it cannot honour is a usage error (2); every command has a --help with examples."""

import pytest

from flows.cli import COMMANDS, main

ALIASES = ["provision", "teardown", "cost-guard", "build-and-destroy"]


def exit_code(argv) -> int:
    try:
        return main(argv)
    except SystemExit as e:
        return e.code


@pytest.mark.parametrize("argv", [
    ["teardown", "--name", "lab1", "--interval-minutes", "5"],   # cost-guard's flag
    ["provision", "--dry-run"],                                   # provision has no dry run
    ["exercise", "--name", "lab1", "--yes"],
    ["cost-guard", "--name", "lab1"],
    ["teardown"],                                                 # which lab: never a default
    ["exercise"],
    ["demo", "--name", "lab1", "--prefix", "ci"],                 # exclusive
    ["demo", "--adopt"],                                          # adopt what?
    ["plan", "--yes"],                                            # plan writes nothing: nothing to confirm
    ["status", "--profile", "seed"],                              # status reads every lab, of any profile
    ["guard", "--lab", "x"],                                      # the guard looks at every lab
    ["down"],
    ["down", "--lab", "x", "--ttl-hours", "3"],                   # a teardown has no TTL
    ["plan", "--", "hostname"],                                   # a remote command is ssh's only
    ["ssh"],                                                      # which host?
    ["ssh", "manager01", "--dry-run"],
    [],
])
def test_a_flag_the_command_cannot_honour_is_a_usage_error(argv, capsys):
    assert exit_code(argv) == 2
    assert "usage:" in capsys.readouterr().err


def test_an_invalid_lab_name_is_a_usage_error_naming_the_field(capsys):
    assert exit_code(["up", "--lab", "Not_A_Name"]) == 2
    err = capsys.readouterr().err
    assert "swarmlab up: name:" in err and "lowercase" in err


@pytest.mark.parametrize("command", ["plan", "up"])
def test_the_seed_profile_without_admin_cidrs_is_a_usage_error_before_any_call(command, capsys, monkeypatch):
    monkeypatch.delenv("SAKURACLOUD_ACCESS_TOKEN", raising=False)  # nothing is read from any cloud
    assert exit_code([command, "--profile", "seed", "--lab", "lab1"]) == 2
    err = capsys.readouterr().err
    assert "admin_cidrs is not set" in err and "--admin-cidr <address>/32" in err


@pytest.mark.parametrize("command", [*COMMANDS, *ALIASES])
def test_every_command_has_help_with_an_example_and_the_zone_rule(command, capsys):
    assert exit_code([command, "--help"]) == 0
    out = capsys.readouterr().out
    assert "examples:\n  swarmlab " in out and "SAKURACLOUD_ZONE" in out


def test_the_top_help_lists_the_commands_not_the_old_names(capsys):
    assert exit_code(["--help"]) == 0
    out = capsys.readouterr().out
    assert all(f"\n    {c} " in out for c in COMMANDS)
    assert "build-and-destroy\n" not in out and "cost-guard " not in out


def test_usacloud_profile_is_set_for_the_credentials(monkeypatch, capsys):
    monkeypatch.setenv("SAKURACLOUD_PROFILE", "")  # recorded, so what the CLI sets is undone after the test
    monkeypatch.delenv("SAKURACLOUD_PROFILE")
    import os

    assert exit_code(["up", "--lab", "Bad_Name", "--usacloud-profile", "work"]) == 2
    assert os.environ["SAKURACLOUD_PROFILE"] == "work"
