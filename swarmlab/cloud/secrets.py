"""Secrets derived from the cloud credentials, so a re-run needs no stored state."""

from __future__ import annotations

import base64
import hashlib
import hmac

from pydantic import SecretStr

from swarmlab.hosts.keys import KeyPair, SSHKey


def derive(root: SecretStr, lab: str, purpose: str) -> SecretStr:
    """A stable 32-char secret for `purpose` in `lab`, keyed by the API secret (HMAC-SHA256)."""
    mac = hmac.new(root.get_secret_value().encode(), f"swarmlab:{lab}:{purpose}".encode(), hashlib.sha256)
    return SecretStr(base64.urlsafe_b64encode(mac.digest()).decode()[:32])


def host_key(root: SecretStr, lab: str, server: str) -> KeyPair:
    """`server`'s SSH host key (Ed25519), derived like the other secrets: the controller knows it before the
    server exists, ships it in the disk edit and pins it, so first contact needs no trust."""
    seed = hmac.new(root.get_secret_value().encode(), f"swarmlab:{lab}:hostkey:{server}".encode(),
                    hashlib.sha256).digest()
    return SSHKey.generate(comment=f"root@{server}", seed=seed)
