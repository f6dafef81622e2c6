from swarmlab.hosts.prepare import AptStep, HostFacts, parse_facts, plan_host

NOW = 1_800_000_000


def facts(**kw) -> HostFacts:
    base = dict(now=NOW, apt_updated=NOW - 60, missing=[], reboot_required=False, notes_pending=[], boot="x")
    return HostFacts(**{**base, **kw})


def plan(f: HostFacts) -> list[str]:
    return [str(s) for s in plan_host(f)]


def test_parse_facts_output():
    out = "now=1800000000\napt_updated=0\nmissing=vim\nmissing=nfs-common\nreboot_required=1\n" \
          "notes_pending=113000000901\nboot=Thu_Nov_26_18:41:37_2026\n"
    f = parse_facts(out)
    assert f.missing == ["vim", "nfs-common"] and f.reboot_required and f.apt_updated == 0
    assert f.notes_pending == ["113000000901"] and f.boot == "Thu_Nov_26_18:41:37_2026"
    assert f.docker is False  # no `docker=` line: the engine did not answer (yet)
    assert parse_facts("now=1\napt_updated=0\nboot=x\ndocker=1\n").docker is True


def test_the_engines_swarm_state_is_read_with_the_facts():
    info = '{"ID":"X","Name":"w1","Swarm":{"NodeID":"abc","LocalNodeState":"active","ControlAvailable":false}}'
    f = parse_facts(f"now=1\napt_updated=0\nboot=x\ndocker=1\nengine_info={info}\n")
    assert f.docker and f.swarm == {"NodeID": "abc", "LocalNodeState": "active", "ControlAvailable": False}
    # /info did not answer in time, or answered something else: the swarm plan asks the engine itself
    assert parse_facts("now=1\napt_updated=0\nboot=x\ndocker=1\n").swarm is None
    assert parse_facts("now=1\napt_updated=0\nboot=x\ndocker=1\nengine_info={\"Swa\n").swarm is None
    assert parse_facts('now=1\napt_updated=0\nboot=x\ndocker=1\nengine_info=[1]\n').swarm is None


def test_fresh_host_gets_everything_in_order():
    assert plan(facts(apt_updated=0, missing=["vim"], reboot_required=True)) == [
        "update", "upgrade", "install vim", "autoremove", "reboot"]


def test_converged_host_plans_nothing():
    assert plan(facts()) == []


def test_recent_update_still_installs_a_missing_package():
    assert plan(facts(missing=["vim"])) == ["update", "install vim"]


def test_stale_lists_are_refreshed_and_upgraded():
    assert plan(facts(apt_updated=NOW - 7200)) == ["update", "upgrade", "autoremove"]


def test_install_step_is_typed_and_holds_every_missing_package():
    steps = plan_host(facts(missing=["vim", "nfs-common"]))
    assert steps[-1] == AptStep(kind="install", packages=("vim", "nfs-common"))
    assert str(steps[-1]) == "install vim nfs-common"


def test_apt_summary_says_whether_anything_changed():
    from swarmlab.hosts.prepare import changed_packages
    assert not changed_packages("Calculating upgrade...\n"
                                "0 upgraded, 0 newly installed, 0 to remove and 0 not upgraded.\n")
    assert changed_packages("Calculating upgrade...\n2 upgraded, 0 newly installed, 0 to remove and 0 not upgraded.\n")
    assert changed_packages("0 upgraded, 1 newly installed, 0 to remove and 3 not upgraded.\n")
    assert changed_packages("E: something unexpected\n")  # no summary: do not skip the autoremove
