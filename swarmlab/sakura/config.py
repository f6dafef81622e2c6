"""API settings the way SAKURA's own tools read them (usacloud, Terraform, the Go SDKs): each setting from
its `SAKURACLOUD_*` environment variable, else from the usacloud profile, else unset (the caller's default).

Profiles live in `<base>/.usacloud/<name>/config.json`; `<base>` is `SAKURACLOUD_PROFILE_DIR`, else
`USACLOUD_PROFILE_DIR`, else the home directory. The profile is `SAKURACLOUD_PROFILE` (or the historical
`USACLOUD_PROFILE`), else the name in `<base>/.usacloud/current`, else `default`; a missing `default`
profile is no error, a missing named one is. In a profile a zero or empty value means unset (as in Go).
"""

from __future__ import annotations

import json
import logging
import warnings
from collections.abc import Mapping
from pathlib import Path

from pydantic import BaseModel, SecretStr

from .errors import SakuraError

__all__ = ["ENV", "PROFILE_KEYS", "ApiSettings", "CredentialsError", "load_settings", "profile_path"]

log = logging.getLogger("swarmlab.sakura")

ENV = {"access_token": "SAKURACLOUD_ACCESS_TOKEN", "access_token_secret": "SAKURACLOUD_ACCESS_TOKEN_SECRET",
       "zone": "SAKURACLOUD_ZONE", "api_root": "SAKURACLOUD_API_ROOT_URL",
       "rate_per_s": "SAKURACLOUD_RATE_LIMIT", "retry_max": "SAKURACLOUD_RETRY_MAX"}
PROFILE_KEYS = {"access_token": "AccessToken", "access_token_secret": "AccessTokenSecret", "zone": "Zone",
                "api_root": "APIRootURL", "rate_per_s": "HTTPRequestRateLimit", "retry_max": "RetryMax"}
DEPRECATED_ENV = {"SAKURACLOUD_API_ROOT": "SAKURACLOUD_API_ROOT_URL"}  # old name -> new name (one release)
PROFILE_ENV = ("SAKURACLOUD_PROFILE", "USACLOUD_PROFILE")
PROFILE_DIR_ENV = ("SAKURACLOUD_PROFILE_DIR", "USACLOUD_PROFILE_DIR")
RANGES = {"rate_per_s": (1, 100), "retry_max": (0, 20)}
WHAT_TO_DO = ("set SAKURACLOUD_ACCESS_TOKEN and SAKURACLOUD_ACCESS_TOKEN_SECRET, create a usacloud profile "
              "(`usacloud config`, or ~/.usacloud/default/config.json with AccessToken and AccessTokenSecret), "
              "or use a SakuraCloudCredentials block")


class CredentialsError(SakuraError):
    """The API key or a setting could not be read; names the variable or file and field, never a secret."""


class ApiSettings(BaseModel):
    """What the environment and the profile say; `sources` names where each set field came from."""

    access_token: str
    access_token_secret: SecretStr
    zone: str | None = None
    api_root: str | None = None
    rate_per_s: float | None = None
    retry_max: int | None = None
    profile: str | None = None
    sources: dict[str, str] = {}


def _profile_base(environ: Mapping[str, str], home: Path) -> Path:
    for var in PROFILE_DIR_ENV:
        if environ.get(var):
            return Path(environ[var]).expanduser()
    return home


def profile_path(environ: Mapping[str, str], home: Path) -> tuple[str, str, Path]:
    """(profile name, what chose it, its config.json path)."""
    root = _profile_base(environ, home) / ".usacloud"
    name, chosen_by = "", ""
    for var in PROFILE_ENV:
        if environ.get(var, "").strip():
            name, chosen_by = environ[var].strip(), var
            break
    current = root / "current"
    if not name and current.is_file():
        name, chosen_by = current.read_text().strip(), str(current)
    if not name:
        name, chosen_by = "default", "the default"
    if "/" in name or "\\" in name or name in (".", ".."):
        raise CredentialsError(f"usacloud profile name {name!r} (from {chosen_by}) is not a directory name; "
                               f"name a profile under {root}")
    return name, chosen_by, root / name / "config.json"


def _read_profile(environ: Mapping[str, str], home: Path) -> tuple[str | None, Path | None, dict]:
    name, chosen_by, path = profile_path(environ, home)
    if not path.is_file():
        if name == "default":
            return None, None, {}
        raise CredentialsError(f"usacloud profile {name!r} (chosen by {chosen_by}) does not exist: no {path}; "
                               f"create it with `usacloud config create {name}`, or choose another profile")
    try:
        data = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError) as exc:
        raise CredentialsError(f"usacloud profile {path}: cannot be read ({type(exc).__name__}); "
                               f"check its permissions") from None
    except json.JSONDecodeError as exc:
        raise CredentialsError(f"usacloud profile {path}: not JSON (line {exc.lineno}, column {exc.colno}); "
                               f"fix it or recreate it with `usacloud config edit {name}`") from None
    if not isinstance(data, dict):
        raise CredentialsError(f"usacloud profile {path}: must be a JSON object of settings (AccessToken, ...)")
    return name, path, data


def _from_profile(field: str, data: dict, path: Path):
    key = PROFILE_KEYS[field]
    value = data.get(key)
    if value in (None, "", 0):
        return None
    numeric = field in RANGES
    ok = (isinstance(value, (int, float)) and not isinstance(value, bool)) if numeric else isinstance(value, str)
    if not ok:
        raise CredentialsError(f"usacloud profile {path}: {key} must be {'a number' if numeric else 'a string'} "
                               f"(found {type(value).__name__}); fix the file")
    return value


def _from_env(field: str, var: str, raw: str):
    if field not in RANGES:
        return raw
    try:
        return float(raw) if field == "rate_per_s" else int(raw)
    except ValueError:
        raise CredentialsError(f"{var}={raw!r} is not a number; unset it or give e.g. "
                               f"{'10' if field == 'rate_per_s' else '8'}") from None


def _check_range(field: str, value, source: str):
    low, high = RANGES[field]
    if not low <= value <= high:
        raise CredentialsError(f"{source}: {value} is out of range {low}..{high} for {field}; change it")


def _environ_with_renames(environ: Mapping[str, str]) -> dict[str, str]:
    env = dict(environ)
    for old, new in DEPRECATED_ENV.items():
        if env.get(old) and not env.get(new):
            msg = f"{old} is deprecated and will be removed in the next release; set {new} instead"
            warnings.warn(msg, DeprecationWarning, stacklevel=4)
            log.warning(msg)
            env[new] = env[old]
    return env


def load_settings(environ: Mapping[str, str], home: Path) -> ApiSettings:
    """The API settings from `environ` over the usacloud profile under `home` (see the module docstring)."""
    env = _environ_with_renames(environ)
    name, path, data = _read_profile(env, home)
    values: dict = {}
    sources: dict[str, str] = {}
    for field, var in ENV.items():
        if env.get(var, "").strip():
            values[field], sources[field] = _from_env(field, var, env[var].strip()), var
        elif path is not None and (value := _from_profile(field, data, path)) is not None:
            values[field] = value
            sources[field] = f"usacloud profile {name!r} ({path}: {PROFILE_KEYS[field]})"
        if field in RANGES and field in values:
            _check_range(field, values[field], sources[field])
    missing = [f for f in ("access_token", "access_token_secret") if f not in values]
    if missing:
        looked = f"usacloud profile {name!r} ({path})" if path else "no usacloud profile found"
        names = " and ".join(f"{ENV[f]} / {PROFILE_KEYS[f]}" for f in missing)
        raise CredentialsError(f"no SAKURA Cloud API key: {names} not set (environment; {looked}); {WHAT_TO_DO}")
    return ApiSettings(**values, profile=name if path else None, sources=sources)
