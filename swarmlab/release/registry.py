"""Registry login on the managers, so `docker stack deploy --with-registry-auth` can hand it to workers."""

from __future__ import annotations

import shlex

from pydantic import SecretStr

from swarmlab.hosts import Session


def ensure_login(session: Session, fqdn: str, user: str, password: SecretStr) -> bool:
    """`docker login` as root on the host unless root already holds credentials for `fqdn`; True if it logged in."""
    check = f"grep -qF {shlex.quote(chr(34) + fqdn + chr(34))} /root/.docker/config.json 2>/dev/null"
    if session.run(check, sudo=True, check=False, timeout_s=30).ok:
        return False
    session.run(f"docker login --username {shlex.quote(user)} --password-stdin {shlex.quote(fqdn)}",
                sudo=True, input=password.get_secret_value(), secrets=[password], timeout_s=120)
    return True
