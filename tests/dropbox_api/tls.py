"""A certificate authority made for one test session, and a server certificate for 127.0.0.1."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class PKI:
    ca_cert: Path
    server_cert: Path
    server_key: Path


def make_pki(directory: Path) -> PKI:
    """A fresh CA and a 127.0.0.1 server certificate it signed, written into ``directory``."""
    from tests.servers.ftp import make_certificates

    certs = make_certificates(directory)
    return PKI(Path(certs["ca"]), Path(certs["cert"]), Path(certs["key"]))


def bundle_with(ca_cert: Path, target: Path, base: str | None) -> Path:
    """A CA bundle: the certificates of ``base`` (a bundle file) plus the test CA."""
    parts = [Path(base).read_bytes()] if base and Path(base).is_file() else []
    parts.append(ca_cert.read_bytes())
    target.write_bytes(b"\n".join(parts))
    return target
