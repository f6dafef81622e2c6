"""One zone rule everywhere: --zone (the spec's zone) > the credentials block's zone > SAKURACLOUD_ZONE > the
usacloud profile's Zone > is1a."""

from blocks.sakura import SakuraCloudCredentials


def env_creds(monkeypatch, zone: str | None) -> SakuraCloudCredentials:
    monkeypatch.setenv("SAKURACLOUD_ACCESS_TOKEN", "t")
    monkeypatch.setenv("SAKURACLOUD_ACCESS_TOKEN_SECRET", "s")
    monkeypatch.setenv("SAKURACLOUD_PROFILE_DIR", "/nonexistent-usacloud")  # no usacloud profile
    if zone:
        monkeypatch.setenv("SAKURACLOUD_ZONE", zone)
    else:
        monkeypatch.delenv("SAKURACLOUD_ZONE", raising=False)
    return SakuraCloudCredentials.resolve(None)


def test_the_asked_zone_wins_over_the_environment(monkeypatch):
    creds = env_creds(monkeypatch, "tk1b")
    assert creds.pick_zone("is1b") == ("is1b", "--zone / the lab spec")
    assert creds.client(creds.pick_zone("is1b")[0]).zone == "is1b"


def test_the_environment_zone_is_used_when_none_is_asked(monkeypatch):
    assert env_creds(monkeypatch, "tk1b").pick_zone(None) == ("tk1b", "SAKURACLOUD_ZONE")


def test_without_any_zone_is1a_is_the_default(monkeypatch):
    assert env_creds(monkeypatch, None).pick_zone(None) == ("is1a", "the default")


def test_a_blocks_own_zone_beats_the_environment(monkeypatch):
    monkeypatch.setenv("SAKURACLOUD_ZONE", "tk1b")
    block = SakuraCloudCredentials(access_token="t", access_token_secret="s", zone="is1b")
    assert block.pick_zone(None) == ("is1b", "this block")


def test_the_usacloud_profile_zone_comes_after_the_environment(monkeypatch, tmp_path):
    (tmp_path / ".usacloud" / "lab").mkdir(parents=True)
    (tmp_path / ".usacloud" / "lab" / "config.json").write_text(
        '{"AccessToken": "pt", "AccessTokenSecret": "ps", "Zone": "tk1v", "APIRootURL": "http://127.0.0.1:9/cloud/zone"}')
    for var in ("SAKURACLOUD_ACCESS_TOKEN", "SAKURACLOUD_ACCESS_TOKEN_SECRET", "SAKURACLOUD_ZONE",
                "SAKURACLOUD_API_ROOT", "SAKURACLOUD_API_ROOT_URL"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("SAKURACLOUD_PROFILE_DIR", str(tmp_path))
    monkeypatch.setenv("SAKURACLOUD_PROFILE", "lab")
    creds = SakuraCloudCredentials.resolve(None)
    zone, source = creds.pick_zone(None)
    assert (zone, creds.access_token, creds.api_root) == ("tk1v", "pt", "http://127.0.0.1:9/cloud/zone")
    assert source.startswith("usacloud profile 'lab'") and "Zone" in source
    monkeypatch.setenv("SAKURACLOUD_ZONE", "is1b")
    assert SakuraCloudCredentials.resolve(None).pick_zone(None) == ("is1b", "SAKURACLOUD_ZONE")


def test_teardown_and_the_guard_open_by_the_same_rule(monkeypatch, caplog):
    import logging

    from flows.session import ZONE_RULE, CloudSession

    env_creds(monkeypatch, "tk1b")
    log = logging.getLogger("test.zone")
    with caplog.at_level(logging.INFO, logger="test.zone"), CloudSession.open("lab1", None, None, log) as api:
        assert api.zone == "tk1b" and api.client.zone == "tk1b"
    assert caplog.messages == [f"lab lab1 in zone tk1b (from SAKURACLOUD_ZONE; rule: {ZONE_RULE})"]
    assert CloudSession.open("lab1", "is1b", None, log).zone == "is1b"
    assert [s.zone for s in CloudSession.per_zone(None, None)] == ["tk1b"]
    assert [s.zone for s in CloudSession.per_zone(["is1a", "tk1a"], None)] == ["is1a", "tk1a"]
