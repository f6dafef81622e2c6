"""SSH client keys: load an Ed25519 private key, or generate a new pair. Never printed."""

from __future__ import annotations

import io
from pathlib import Path

import paramiko
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from pydantic import BaseModel, ConfigDict, SecretStr

__all__ = ["KeyPair", "SSHKey"]


def _secret(value: str | SecretStr | None) -> str | None:
    return value.get_secret_value() if isinstance(value, SecretStr) else value


class KeyPair(BaseModel):
    """A freshly generated key pair: the private key in OpenSSH PEM (secret) and the public line."""

    model_config = ConfigDict(frozen=True)

    private_key: SecretStr
    public_key: str

    def key(self) -> SSHKey:
        return SSHKey.from_pem(self.private_key)


class SSHKey:
    """An SSH private key for paramiko. `repr`/`str` show only the type and fingerprint."""

    def __init__(self, pkey: paramiko.PKey):
        self.pkey = pkey

    @classmethod
    def from_pem(cls, pem: str | SecretStr, passphrase: str | SecretStr | None = None) -> SSHKey:
        """Load from PEM text (OpenSSH `-----BEGIN OPENSSH PRIVATE KEY-----` format, Ed25519)."""
        text = _secret(pem) or ""
        password = _secret(passphrase)
        errors: list[str] = []
        for kind in (paramiko.Ed25519Key, paramiko.ECDSAKey, paramiko.RSAKey):
            try:
                return cls(kind.from_private_key(io.StringIO(text), password=password))
            except paramiko.PasswordRequiredException:
                raise ValueError("the SSH private key is encrypted: give its passphrase") from None
            except (paramiko.SSHException, ValueError) as e:
                errors.append(f"{kind.__name__}: {type(e).__name__}")
        # never echo the text itself: it is the secret
        raise ValueError(f"not a usable SSH private key (tried {', '.join(errors)}); expected an "
                         "OpenSSH Ed25519 private key in PEM form")

    @classmethod
    def from_file(cls, path: str | Path, passphrase: str | SecretStr | None = None) -> SSHKey:
        return cls.from_pem(Path(path).read_text(), passphrase)

    @classmethod
    def load(cls, source: str | SecretStr | Path, passphrase: str | SecretStr | None = None) -> SSHKey:
        """A PEM string/SecretStr, or a path to a key file."""
        if isinstance(source, Path):
            return cls.from_file(source, passphrase)
        text = _secret(source) or ""
        if "PRIVATE KEY-----" in text:
            return cls.from_pem(text, passphrase)
        return cls.from_file(text, passphrase)

    @staticmethod
    def generate(comment: str = "swarmlab", seed: bytes | None = None) -> KeyPair:
        """A new Ed25519 key pair: private key as SecretStr (OpenSSH PEM), public `ssh-ed25519 AAAA… comment`.
        With a 32-byte `seed` the pair is that seed's (deterministic)."""
        key = Ed25519PrivateKey.from_private_bytes(seed) if seed is not None else Ed25519PrivateKey.generate()
        private = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH,
                                    serialization.NoEncryption()).decode()
        public = key.public_key().public_bytes(serialization.Encoding.OpenSSH,
                                               serialization.PublicFormat.OpenSSH).decode()
        return KeyPair(private_key=SecretStr(private), public_key=f"{public} {comment}".strip())

    @property
    def key_type(self) -> str:
        return self.pkey.get_name()

    @property
    def public_line(self) -> str:
        """The OpenSSH public key line (`ssh-ed25519 AAAA…`), for authorized_keys."""
        return f"{self.pkey.get_name()} {self.pkey.get_base64()}"

    @property
    def fingerprint(self) -> str:
        """`SHA256:…`, as `ssh-keygen -l` prints it."""
        return self.pkey.fingerprint

    def __repr__(self) -> str:
        return f"SSHKey({self.key_type} {self.fingerprint})"

    __str__ = __repr__
