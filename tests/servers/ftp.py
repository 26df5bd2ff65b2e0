"""Pytest plugin: FTP servers on 127.0.0.1 for the FTP backend tests.

* pyftpdlib, plain FTP and explicit FTPS (AUTH TLS), run as a subprocess of this
  module (``python -m tests.servers.ftp``);
* Debian's vsftpd (no MLSD, so the backend's LIST fallback runs; insists on TLS
  session reuse on the data channel), explicit FTPS and implicit FTPS.

Certificates are made at run time in the session's temporary directory: one test
CA signs the servers' certificate, a second, unrelated CA lets tests check that
verification fails.
"""

from __future__ import annotations

import argparse
import datetime
import ftplib
import ipaddress
import os
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.servers.process import LOOPBACK, ServerProcess, free_port, require_program

FTP_USER = "storages"
FTP_PASSWORD = "ftp-pa55-Zq7!secret"  # asserted absent from errors, logs and repr
#: A second pyftpdlib user, logged in to HOMED_DIR (not "/") as on an unchrooted server.
HOMED_USER = "homed"
HOMED_DIR = "/home/homed"
#: A third one whose password holds the characters URLs reserve, written raw in locations.
RAW_USER = "raw"
RAW_PASSWORD = "p@ss/w#rd?Zq7"


@dataclass
class FTPServerInfo:
    kind: str
    port: int
    root: Path  # directory the server shows as "/" (or the writable part of it)
    url_root: str  # path, as the client sees it, of a writable directory
    scheme: str = "ftp"
    user: str = FTP_USER
    password: str = FTP_PASSWORD
    ca_file: str | None = None
    implicit_tls: bool = False
    process: ServerProcess | None = field(default=None, repr=False)

    def location(self, subdir: str) -> str:
        return (
            f"{self.scheme}://{self.user}:{self.password}@{LOOPBACK}:{self.port}"
            f"{self.url_root.rstrip('/')}/{subdir}/"
        )

    def local_path(self, subdir: str) -> Path:
        return self.root / subdir


# --- certificates -----------------------------------------------------------


def _make_ca(directory: Path, name: str):
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    path = directory / f"{name}.pem"
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return key, cert, path


def make_certificates(directory: Path) -> dict[str, str]:
    """A CA, a server certificate for 127.0.0.1/localhost it signed, and an unrelated CA."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    directory.mkdir(parents=True, exist_ok=True)
    ca_key, ca_cert, ca_path = _make_ca(directory, "test-ca")
    _other_key, _other_cert, other_path = _make_ca(directory, "other-ca")
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address(LOOPBACK))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    cert_path = directory / "server.pem"
    key_path = directory / "server.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        )
    )
    os.chmod(key_path, 0o600)
    return {
        "ca": str(ca_path),
        "other_ca": str(other_path),
        "cert": str(cert_path),
        "key": str(key_path),
    }


# --- readiness ----------------------------------------------------------------


def ftp_answers(port: int) -> bool:
    """True once the server sends its greeting (plain or implicit TLS)."""
    import socket

    try:
        with socket.create_connection((LOOPBACK, port), timeout=1):
            return True
    except OSError:
        return False


def _greets(port: int) -> bool:
    try:
        with ftplib.FTP() as ftp:
            ftp.connect(LOOPBACK, port, timeout=2)
        return True
    except (OSError, EOFError, ftplib.Error):
        return False


# --- pyftpdlib ------------------------------------------------------------------


def start_pyftpdlib(root: Path, certs: dict[str, str] | None, port: int | None = None):
    """Start pyftpdlib in a subprocess; returns (process, port)."""
    port = port or free_port()
    root.mkdir(parents=True, exist_ok=True)
    argv = [sys.executable, "-m", "tests.servers.ftp", "--port", str(port), "--root", str(root)]
    if certs:
        argv += ["--cert", certs["cert"], "--key", certs["key"]]
    project = Path(__file__).resolve().parents[2]
    process = ServerProcess(
        "pyftpdlib-tls" if certs else "pyftpdlib",
        argv,
        ready=lambda: _greets(port),
        timeout=30,
        cwd=project,
    )
    process.start()
    return process, port


def _pyftpdlib_main(argv: list[str]) -> None:
    import logging

    from pyftpdlib.authorizers import DummyAuthorizer
    from pyftpdlib.handlers import FTPHandler, TLS_FTPHandler
    from pyftpdlib.servers import ThreadedFTPServer

    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--root", required=True)
    parser.add_argument("--cert")
    parser.add_argument("--key")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    authorizer = DummyAuthorizer()
    authorizer.add_user(FTP_USER, FTP_PASSWORD, args.root, perm="elradfmwMT")
    authorizer.add_user(HOMED_USER, FTP_PASSWORD, args.root, perm="elradfmwMT")
    authorizer.add_user(RAW_USER, RAW_PASSWORD, args.root, perm="elradfmwMT")
    os.makedirs(os.path.join(args.root, HOMED_DIR.lstrip("/")), exist_ok=True)
    base = TLS_FTPHandler if args.cert else FTPHandler

    class handler(base):
        def on_login(self, username):
            if username == HOMED_USER:
                self.fs.cwd = HOMED_DIR  # PWD answers this, relative paths start here

    if args.cert:
        handler.certfile = args.cert
        handler.keyfile = args.key
        handler.tls_control_required = True
        handler.tls_data_required = True
    handler.authorizer = authorizer
    handler.passive_ports = None
    handler.banner = "pyftpdlib test server"
    handler.auth_failed_timeout = 0.1
    server = ThreadedFTPServer((LOOPBACK, args.port), handler)
    server.max_cons = 256
    server.serve_forever()


# --- vsftpd ---------------------------------------------------------------------


def vsftpd_config(root: Path, port: int, certs: dict[str, str], *, implicit: bool) -> str:
    # Anonymous login with write rights, chrooted to ``root`` (which vsftpd
    # insists is not writable); tests write under ``root/files``.
    return "\n".join(
        [
            "listen=YES",
            "listen_ipv6=NO",
            "background=NO",
            f"listen_address={LOOPBACK}",
            f"listen_port={port}",
            "seccomp_sandbox=NO",
            "anonymous_enable=YES",
            "no_anon_password=YES",
            "local_enable=NO",
            "write_enable=YES",
            f"anon_root={root}",
            "anon_upload_enable=YES",
            "anon_mkdir_write_enable=YES",
            "anon_other_write_enable=YES",
            "anon_world_readable_only=NO",
            "anon_umask=022",
            "pasv_enable=YES",
            "pasv_min_port=0",
            "pasv_max_port=0",
            "pasv_address=127.0.0.1",
            "connect_from_port_20=NO",
            "use_localtime=NO",
            "xferlog_enable=NO",
            "vsftpd_log_file=/dev/null",
            "max_clients=200",
            "max_per_ip=200",
            "utf8_filesystem=YES",
            "ssl_enable=YES",
            f"implicit_ssl={'YES' if implicit else 'NO'}",
            "allow_anon_ssl=YES",
            "force_anon_logins_ssl=YES",
            "force_anon_data_ssl=YES",
            "require_ssl_reuse=YES",
            "ssl_tlsv1=NO",
            "ssl_sslv2=NO",
            "ssl_sslv3=NO",
            "ssl_ciphers=HIGH",
            f"rsa_cert_file={certs['cert']}",
            f"rsa_private_key_file={certs['key']}",
            "",
        ]
    )


def start_vsftpd(base: Path, certs: dict[str, str], *, implicit: bool):
    program = require_program("vsftpd")
    Path("/var/run/vsftpd/empty").mkdir(parents=True, exist_ok=True)
    root = base / "root"
    files = root / "files"
    files.mkdir(parents=True, exist_ok=True)
    os.chmod(root, 0o755)
    shutil.chown(files, "ftp", "ftp")
    os.chmod(files, 0o777)
    port = free_port()
    config = base / "vsftpd.conf"
    config.write_text(vsftpd_config(root, port, certs, implicit=implicit))
    os.chmod(config, 0o600)  # vsftpd wants a root-owned config
    process = ServerProcess(
        "vsftpd-implicit" if implicit else "vsftpd",
        [program, str(config)],
        ready=lambda: ftp_answers(port),
        timeout=30,
    )
    process.start()
    return process, port, files


# --- fixtures ---------------------------------------------------------------------


@pytest.fixture(scope="session")
def ftp_certificates(tmp_path_factory) -> dict[str, str]:
    return make_certificates(tmp_path_factory.mktemp("ftp-certs"))


@pytest.fixture(scope="session")
def pyftpdlib_server(tmp_path_factory):
    root = tmp_path_factory.mktemp("pyftpdlib-root")
    process, port = start_pyftpdlib(root, None)
    yield FTPServerInfo("pyftpdlib", port, root, "/", process=process)
    process.stop()


@pytest.fixture(scope="session")
def pyftpdlib_tls_server(tmp_path_factory, ftp_certificates):
    root = tmp_path_factory.mktemp("pyftpdlib-tls-root")
    process, port = start_pyftpdlib(root, ftp_certificates)
    yield FTPServerInfo(
        "pyftpdlib-tls",
        port,
        root,
        "/",
        scheme="ftps",
        ca_file=ftp_certificates["ca"],
        process=process,
    )
    process.stop()


def _vsftpd_fixture(tmp_path_factory, certs, *, implicit: bool):
    base = tmp_path_factory.mktemp("vsftpd-implicit" if implicit else "vsftpd")
    process, port, files = start_vsftpd(base, certs, implicit=implicit)
    info = FTPServerInfo(
        "vsftpd-implicit" if implicit else "vsftpd",
        port,
        files,
        "/files",
        scheme="ftps",
        user="anonymous",
        password="",
        ca_file=certs["ca"],
        implicit_tls=implicit,
        process=process,
    )
    return info


@pytest.fixture(scope="session")
def vsftpd_server(tmp_path_factory, ftp_certificates):
    info = _vsftpd_fixture(tmp_path_factory, ftp_certificates, implicit=False)
    yield info
    info.process.stop()


@pytest.fixture(scope="session")
def vsftpd_implicit_server(tmp_path_factory, ftp_certificates):
    info = _vsftpd_fixture(tmp_path_factory, ftp_certificates, implicit=True)
    yield info
    info.process.stop()


if __name__ == "__main__":
    _pyftpdlib_main(sys.argv[1:])
