"""paramiko connections for the SFTP backend: host-key policy, connecting, clear errors."""

from __future__ import annotations

import hashlib
import logging
import os
import socket
from dataclasses import dataclass, field
from typing import Any

from storages.utils import require

logger = logging.getLogger("storages")

#: Keys of SFTP_STORAGE_PARAMS that are secrets (masked in repr, never in messages).
SECRET_PARAMS = frozenset({"password", "passphrase", "pkey", "sock", "gss_host"})


class SFTPStorageError(OSError):
    """An SFTP operation failed; the message names the file and server, never a secret."""


class HostKeyError(SFTPStorageError):
    """The server's host key is unknown or does not match the known one."""


def mask_params(params: dict[str, Any]) -> dict[str, Any]:
    return {key: ("********" if key in SECRET_PARAMS else value) for key, value in params.items()}


@dataclass
class Connection:
    client: Any  # paramiko.SSHClient
    sftp: Any  # paramiko.SFTPClient


@dataclass
class Target:
    host: str
    params: dict[str, Any] = field(repr=False)
    timeout: float = 30.0
    known_host_file: str | None = None
    allow_unknown_host_keys: bool = False
    interactive: bool = False
    #: Keys accepted on first use (only with allow_unknown_host_keys), pinned for this process.
    accepted: dict[str, Any] = field(default_factory=dict)

    @property
    def port(self) -> int:
        return int(self.params.get("port", 22))

    @property
    def user(self) -> str:
        return str(self.params.get("username") or "")

    def describe(self) -> str:
        user = f"{self.user}@" if self.user else ""
        return f"sftp://{user}{self.host}:{self.port}"

    def fingerprint(self) -> str:
        """Identifies the connection settings (credentials included, as a digest only)."""
        settings = (
            self.host,
            sorted((key, repr(value)) for key, value in self.params.items()),
            self.timeout,
            self.known_host_file,
            self.allow_unknown_host_keys,
            self.interactive,
        )
        return hashlib.sha256(repr(settings).encode()).hexdigest()

    def known_name(self) -> str:
        return self.host if self.port == 22 else f"[{self.host}]:{self.port}"


def _policy(paramiko: Any, target: Target) -> Any:
    if not target.allow_unknown_host_keys:
        return paramiko.RejectPolicy()

    class PinOnFirstUse(paramiko.MissingHostKeyPolicy):
        """Insecure opt-in: accept an unknown key, then hold this process to it."""

        def missing_host_key(self, client, hostname, key):
            logger.warning(
                "Accepting the unknown SSH host key of %s (%s %s) because "
                "SFTP_ALLOW_UNKNOWN_HOST_KEYS is on; this does not protect against "
                "man-in-the-middle attacks.",
                hostname,
                key.get_name(),
                key.fingerprint,
            )
            target.accepted[hostname] = key
            client.get_host_keys().add(hostname, key.get_name(), key)

    return PinOnFirstUse()


def connect(target: Target, password_prompt=None) -> Connection:
    paramiko = require("paramiko", "sftp")
    client = paramiko.SSHClient()
    try:
        if target.known_host_file:
            # A file that does not exist holds no keys (as in django-storages):
            # the server's key is then unknown, and refused below.
            if os.path.exists(os.path.expanduser(target.known_host_file)):
                client.load_host_keys(os.path.expanduser(target.known_host_file))
        else:
            client.load_system_host_keys()
        for hostname, key in target.accepted.items():
            client.get_host_keys().add(hostname, key.get_name(), key)
        client.set_missing_host_key_policy(_policy(paramiko, target))
        params = {
            "timeout": target.timeout,
            "banner_timeout": target.timeout,
            "auth_timeout": target.timeout,
            "channel_timeout": target.timeout,
            **target.params,
        }
        try:
            client.connect(target.host, **params)
        except paramiko.AuthenticationException:
            if not (target.interactive and password_prompt and "password" not in params):
                raise
            client.connect(target.host, **params, password=password_prompt(target))
        sftp = client.open_sftp()
        sftp.get_channel().settimeout(target.timeout)
    except BaseException as exc:
        client.close()
        raise translate_connect_error(paramiko, target, exc) from None
    return Connection(client, sftp)


def translate_connect_error(paramiko: Any, target: Target, exc: BaseException) -> BaseException:
    where = target.describe()
    known = target.known_host_file or "~/.ssh/known_hosts"
    if target.known_host_file and not os.path.exists(os.path.expanduser(known)):
        known = f"{known} (which does not exist)"
    if isinstance(exc, paramiko.BadHostKeyException):
        return HostKeyError(
            f"Refusing {where}: its host key ({exc.key.get_name()} {exc.key.fingerprint}) "
            f"does not match the one in {known}. If the server's key really changed, "
            "update that file."
        )
    if isinstance(exc, paramiko.SSHException) and "not found in known_hosts" in str(exc):
        return HostKeyError(
            f"Refusing {where}: its host key is not in {known} (SFTP_KNOWN_HOST_FILE). Add "
            f"it (ssh-keyscan -p {target.port} {target.host}), or set "
            "SFTP_ALLOW_UNKNOWN_HOST_KEYS = True to accept unknown keys (insecure)."
        )
    if isinstance(exc, paramiko.AuthenticationException):
        return SFTPStorageError(f"SSH authentication to {where} failed.")
    if isinstance(exc, (paramiko.SSHException, OSError, EOFError, ValueError)):
        return SFTPStorageError(f"Could not connect to {where}: {type(exc).__name__}: {exc}")
    return exc


def close(connection: Connection) -> None:
    try:
        connection.sftp.close()
    finally:
        connection.client.close()


def alive(connection: Connection) -> bool:
    transport = connection.client.get_transport()
    return transport is not None and transport.is_active()


def is_dead(exc: BaseException) -> bool:
    paramiko = require("paramiko", "sftp")
    return isinstance(exc, (EOFError, paramiko.SSHException, ConnectionError, socket.timeout))
