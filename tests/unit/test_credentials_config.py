"""Credentials the way SAKURA's tools take them: SAKURACLOUD_* variables over the usacloud profile."""

import json
import logging
import pickle

import pytest

from swarmlab.sakura import CredentialsError, load_settings
from swarmlab.sakura.config import profile_path

SECRET = "s3cr3t-value-XYZ"


def profile(home, name="default", **values):
    d = home / ".usacloud" / name
    d.mkdir(parents=True, exist_ok=True)
    (d / "config.json").write_text(json.dumps(values))
    return d / "config.json"


def full_profile(home, name="default", **over):
    values = {"AccessToken": f"tok-{name}", "AccessTokenSecret": SECRET, "Zone": "tk1b",
              "APIRootURL": "https://secure.sakura.ad.jp/cloud/zone", "HTTPRequestRateLimit": 5, "RetryMax": 3,
              "DefaultOutputType": "table"}
    return profile(home, name, **{**values, **over})


def test_the_environment_alone_is_enough(tmp_path):
    s = load_settings({"SAKURACLOUD_ACCESS_TOKEN": "t", "SAKURACLOUD_ACCESS_TOKEN_SECRET": SECRET,
                       "SAKURACLOUD_ZONE": "is1b", "SAKURACLOUD_API_ROOT_URL": "http://127.0.0.1:9/cloud/zone",
                       "SAKURACLOUD_RATE_LIMIT": "7", "SAKURACLOUD_RETRY_MAX": "0"}, tmp_path)
    assert (s.access_token, s.access_token_secret.get_secret_value(), s.zone) == ("t", SECRET, "is1b")
    assert (s.api_root, s.rate_per_s, s.retry_max, s.profile) == ("http://127.0.0.1:9/cloud/zone", 7.0, 0, None)
    assert s.sources["zone"] == "SAKURACLOUD_ZONE"


def test_the_default_profile_is_read_when_nothing_is_set(tmp_path):
    path = full_profile(tmp_path)
    s = load_settings({}, tmp_path)
    assert (s.access_token, s.zone, s.rate_per_s, s.retry_max, s.profile) == ("tok-default", "tk1b", 5, 3, "default")
    assert s.access_token_secret.get_secret_value() == SECRET
    assert s.sources["zone"] == f"usacloud profile 'default' ({path}: Zone)"


def test_environment_variables_beat_the_profile_field_by_field(tmp_path):
    full_profile(tmp_path)
    s = load_settings({"SAKURACLOUD_ZONE": "is1a", "SAKURACLOUD_ACCESS_TOKEN": "env-token"}, tmp_path)
    assert (s.zone, s.access_token) == ("is1a", "env-token")
    assert s.access_token_secret.get_secret_value() == SECRET  # still the profile's
    assert s.sources["access_token"] == "SAKURACLOUD_ACCESS_TOKEN" and "profile" in s.sources["access_token_secret"]


def test_sakuracloud_profile_selects_a_profile_over_current(tmp_path):
    full_profile(tmp_path, "work", Zone="is1b")
    full_profile(tmp_path, "home", Zone="tk1v")
    (tmp_path / ".usacloud" / "current").write_text("home\n")
    assert load_settings({}, tmp_path).zone == "tk1v"  # the current file
    s = load_settings({"SAKURACLOUD_PROFILE": "work"}, tmp_path)
    assert (s.profile, s.zone, s.access_token) == ("work", "is1b", "tok-work")
    assert load_settings({"USACLOUD_PROFILE": "work"}, tmp_path).profile == "work"  # usacloud's older name


def test_profile_dir_variables_move_the_usacloud_directory(tmp_path):
    full_profile(tmp_path / "elsewhere", Zone="is1b")
    assert load_settings({"USACLOUD_PROFILE_DIR": str(tmp_path / "elsewhere")}, tmp_path / "home").zone == "is1b"
    assert load_settings({"SAKURACLOUD_PROFILE_DIR": str(tmp_path / "elsewhere"),
                          "USACLOUD_PROFILE_DIR": str(tmp_path / "nowhere")}, tmp_path).zone == "is1b"


def test_zero_and_empty_profile_values_mean_unset(tmp_path):
    full_profile(tmp_path, Zone="", HTTPRequestRateLimit=0, RetryMax=0, APIRootURL="")
    s = load_settings({}, tmp_path)
    assert (s.zone, s.rate_per_s, s.retry_max, s.api_root) == (None, None, None, None)


def test_the_deprecated_api_root_name_still_works_and_warns(tmp_path, caplog):
    env = {"SAKURACLOUD_ACCESS_TOKEN": "t", "SAKURACLOUD_ACCESS_TOKEN_SECRET": SECRET,
           "SAKURACLOUD_API_ROOT": "http://127.0.0.1:1/cloud/zone"}
    with caplog.at_level(logging.WARNING, "swarmlab.sakura"), pytest.warns(DeprecationWarning,
                                                                            match="SAKURACLOUD_API_ROOT_URL"):
        s = load_settings(env, tmp_path)
    assert s.api_root == "http://127.0.0.1:1/cloud/zone" and s.sources["api_root"] == "SAKURACLOUD_API_ROOT_URL"
    assert any("set SAKURACLOUD_API_ROOT_URL instead" in r.getMessage() for r in caplog.records)
    new = load_settings({**env, "SAKURACLOUD_API_ROOT_URL": "http://127.0.0.1:2/cloud/zone"}, tmp_path)
    assert new.api_root == "http://127.0.0.1:2/cloud/zone"  # the new name wins


def test_missing_key_says_what_is_missing_and_what_to_do(tmp_path):
    with pytest.raises(CredentialsError) as err:
        load_settings({"SAKURACLOUD_ACCESS_TOKEN": "t"}, tmp_path)
    msg = str(err.value)
    assert "SAKURACLOUD_ACCESS_TOKEN_SECRET / AccessTokenSecret" in msg and "usacloud config" in msg
    assert "SAKURACLOUD_ACCESS_TOKEN /" not in msg
    assert pickle.loads(pickle.dumps(err.value)).args == err.value.args


def test_a_missing_named_profile_is_an_error_naming_the_file(tmp_path):
    with pytest.raises(CredentialsError, match=r"'lab' \(chosen by SAKURACLOUD_PROFILE\).*config.json.*"
                                               r"usacloud config create lab"):
        load_settings({"SAKURACLOUD_PROFILE": "lab"}, tmp_path)
    with pytest.raises(CredentialsError, match="not a directory name"):
        load_settings({"SAKURACLOUD_PROFILE": "../etc"}, tmp_path)


def test_a_broken_profile_names_file_and_field_never_the_secret(tmp_path):
    path = full_profile(tmp_path, HTTPRequestRateLimit="fast")
    with pytest.raises(CredentialsError) as err:
        load_settings({}, tmp_path)
    assert str(path) in str(err.value) and "HTTPRequestRateLimit must be a number" in str(err.value)
    assert SECRET not in str(err.value)
    full_profile(tmp_path, AccessTokenSecret=12345)
    with pytest.raises(CredentialsError, match="AccessTokenSecret must be a string") as err:
        load_settings({}, tmp_path)
    assert "12345" not in str(err.value)
    path.write_text('{"AccessToken": "t", "AccessTokenSecret": "' + SECRET + '",,}')
    with pytest.raises(CredentialsError, match="not JSON") as err:
        load_settings({}, tmp_path)
    assert SECRET not in str(err.value)


def test_bad_numbers_in_the_environment_name_the_variable(tmp_path):
    base = {"SAKURACLOUD_ACCESS_TOKEN": "t", "SAKURACLOUD_ACCESS_TOKEN_SECRET": SECRET}
    with pytest.raises(CredentialsError, match="SAKURACLOUD_RATE_LIMIT='ten' is not a number"):
        load_settings({**base, "SAKURACLOUD_RATE_LIMIT": "ten"}, tmp_path)
    with pytest.raises(CredentialsError, match="SAKURACLOUD_RETRY_MAX: 99 is out of range 0..20"):
        load_settings({**base, "SAKURACLOUD_RETRY_MAX": "99"}, tmp_path)


def test_profile_path_reports_what_chose_the_profile(tmp_path):
    assert profile_path({}, tmp_path) == ("default", "the default", tmp_path / ".usacloud/default/config.json")
    (tmp_path / ".usacloud").mkdir()
    (tmp_path / ".usacloud" / "current").write_text("x")
    assert profile_path({}, tmp_path)[:2] == ("x", str(tmp_path / ".usacloud" / "current"))
