"""The instance's CA (state_dir/ca: ca.crt, ca.key) and the server certificates it signs for the
registries and the Docker Hub stand-in. VMs trust the CA (their /lab/ca.crt)."""

from __future__ import annotations

import datetime as dt
import threading
from pathlib import Path

from .common import write_file


def _pem_key(key) -> bytes:
    from cryptography.hazmat.primitives import serialization

    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


class CertificateAuthority:
    def __init__(self, directory: Path, common_name: str) -> None:
        self.dir = directory
        self.common_name = common_name
        self._lock = threading.Lock()

    @property
    def cert_path(self) -> Path:
        """PEM of the CA certificate. Created on first use."""
        self.ensure()
        return self.dir / "ca.crt"

    def ensure(self) -> None:
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import NameOID

        with self._lock:
            if (self.dir / "ca.crt").exists() and (self.dir / "ca.key").exists():
                return
            key = ec.generate_private_key(ec.SECP256R1())
            name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, self.common_name)])
            now = dt.datetime.now(dt.timezone.utc)
            cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
                    .serial_number(x509.random_serial_number())
                    .not_valid_before(now - dt.timedelta(days=1)).not_valid_after(now + dt.timedelta(days=3650))
                    .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
                    .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                                 content_commitment=False, key_encipherment=False,
                                                 data_encipherment=False, key_agreement=False,
                                                 encipher_only=False, decipher_only=False), critical=True)
                    .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
                    .sign(key, hashes.SHA256()))
            write_file(self.dir / "ca.key", _pem_key(key), 0o600)
            write_file(self.dir / "ca.crt", cert.public_bytes(serialization.Encoding.PEM))

    def issue(self, names: str | tuple[str, ...], out_dir: Path) -> bool:
        """registry.crt/registry.key for names (SANs; the first is the CN), signed by this CA.
        Kept if already right; returns True when (re)issued."""
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

        names = [names] if isinstance(names, str) else list(names)
        self.ensure()
        crt_p, key_p = out_dir / "registry.crt", out_dir / "registry.key"
        ca_pem = (self.dir / "ca.crt").read_bytes()
        ca_cert = x509.load_pem_x509_certificate(ca_pem)
        if crt_p.exists() and key_p.exists():
            old = x509.load_pem_x509_certificate(crt_p.read_bytes())
            try:
                sans = old.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
                if sans.get_values_for_type(x509.DNSName) == names and old.issuer == ca_cert.subject:
                    return False
            except x509.ExtensionNotFound:
                pass
        ca_key = serialization.load_pem_private_key((self.dir / "ca.key").read_bytes(), None)
        key = ec.generate_private_key(ec.SECP256R1())
        now = dt.datetime.now(dt.timezone.utc)
        cert = (x509.CertificateBuilder()
                .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])]))
                .issuer_name(ca_cert.subject).public_key(key.public_key())
                .serial_number(x509.random_serial_number())
                .not_valid_before(now - dt.timedelta(days=1)).not_valid_after(now + dt.timedelta(days=825))
                .add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in names]), critical=False)
                .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
                .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
                .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_cert.public_key()),
                               critical=False)
                .sign(ca_key, hashes.SHA256()))
        write_file(key_p, _pem_key(key), 0o600)
        write_file(crt_p, cert.public_bytes(serialization.Encoding.PEM) + ca_pem)
        return True
