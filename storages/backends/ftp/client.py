"""ftplib connections for the FTP backend: plain, explicit and implicit TLS, and listings."""

from __future__ import annotations

import contextlib
import datetime
import ftplib
import re
import socket
import ssl
from collections.abc import Iterator
from dataclasses import dataclass, field
from urllib.parse import unquote

# --- FTP_STORAGE_LOCATION -------------------------------------------------------

_SCHEME = re.compile(r"^(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*)://(?P<rest>.*)$", re.S)
_HOST = r"(?P<host>\[[0-9A-Fa-f:.]+\]|[^@/:\[\]\s]+)"
# With a port (the form django-storages requires), the credentials run to the
# last "@" before "host:port", so a raw "@", "/", "#" or "?" in a password works
# as it does there; without a port they end at the last "@" before the first "/".
_WITH_PORT = re.compile(rf"^(?:(?P<userinfo>.*)@)?{_HOST}:(?P<port>\d+)(?P<path>/.*)?$", re.S)
_WITHOUT_PORT = re.compile(rf"^(?:(?P<userinfo>[^/]*)@)?{_HOST}(?P<path>/.*)?$", re.S)


@dataclass(frozen=True)
class Location:
    """``FTP_STORAGE_LOCATION`` taken apart (``path`` without the slash after the host)."""

    scheme: str
    host: str
    port: int | None
    user: str
    password: str = field(repr=False)
    path: str


def parse_location(location: str) -> Location | None:
    """``[a]ftp[s]://user:password@host:port/path`` in parts, or None if it is not one.

    User and password are percent-decoded. A password may also hold raw
    ``@ / # ?`` when the port is given (as django-storages reads such URLs).
    """
    outer = _SCHEME.match(location.strip())
    if outer is None:
        return None
    rest = outer["rest"]
    found = _WITH_PORT.match(rest) or _WITHOUT_PORT.match(rest)
    if found is None:
        return None
    user, _, password = (found["userinfo"] or "").partition(":")
    port = found.groupdict().get("port")
    return Location(
        scheme=outer["scheme"].lower(),
        host=found["host"].strip("[]"),
        port=int(port) if port else None,
        user=unquote(user),
        password=unquote(password),
        path=unquote((found["path"] or "/")[1:]),
    )


class _FeaturesMixin:
    features: frozenset[str] = frozenset()
    #: The directory the server put us in at login (``PWD``).
    login_dir: str = "/"

    @property
    def has_mlsd(self) -> bool:
        return "MLST" in self.features


class PlainFTP(_FeaturesMixin, ftplib.FTP):
    pass


class SecureFTP(_FeaturesMixin, ftplib.FTP_TLS):
    """FTP over TLS, explicit (``AUTH TLS``) or implicit (TLS from the first byte).

    The data channel resumes the control channel's TLS session: vsftpd and
    others refuse a data connection that does not (``require_ssl_reuse``).
    """

    def __init__(self, *, implicit: bool, **kwargs) -> None:
        super().__init__(**kwargs)
        self.implicit = implicit

    def connect(self, host: str = "", port: int = 0, timeout: float = -999, source_address=None):
        if not self.implicit:
            return super().connect(host, port, timeout, source_address)
        self.host, self.port = host, port
        if timeout != -999:
            self.timeout = timeout
        sock = socket.create_connection((host, port), self.timeout)
        self.af = sock.family
        self.sock = self.context.wrap_socket(sock, server_hostname=host)
        self.file = self.sock.makefile("r", encoding=self.encoding)
        self.welcome = self.getresp()
        return self.welcome

    def ntransfercmd(self, cmd, rest=None):
        conn, size = ftplib.FTP.ntransfercmd(self, cmd, rest)  # noqa: S321 - TLS wraps it below
        if self._prot_p:
            conn = self.context.wrap_socket(
                conn, server_hostname=self.host, session=self.sock.session
            )
        return conn, size


@dataclass(frozen=True)
class Endpoint:
    host: str
    port: int
    user: str
    password: str = field(repr=False)
    tls: bool
    implicit_tls: bool
    passive: bool
    timeout: float
    encoding: str
    ca_file: str | None

    def describe(self) -> str:
        scheme = "ftps" if self.tls else "ftp"
        return (
            f"{scheme}://{self.user}@{self.host}:{self.port}"
            if self.user
            else f"{scheme}://{self.host}:{self.port}"
        )


def connect(endpoint: Endpoint) -> PlainFTP | SecureFTP:
    ftp: PlainFTP | SecureFTP
    if endpoint.tls:
        context = ssl.create_default_context(cafile=endpoint.ca_file)
        ftp = SecureFTP(
            implicit=endpoint.implicit_tls,
            context=context,
            timeout=endpoint.timeout,
            encoding=endpoint.encoding,
        )
    else:
        ftp = PlainFTP(timeout=endpoint.timeout, encoding=endpoint.encoding)
    try:
        ftp.connect(endpoint.host, endpoint.port, endpoint.timeout)
        ftp.login(endpoint.user or "anonymous", endpoint.password)
        if isinstance(ftp, SecureFTP):
            ftp.prot_p()
        ftp.set_pasv(endpoint.passive)
        # Binary mode for good: SIZE is refused or wrong in ASCII mode, and the
        # listings below are read through binary transfers as well.
        ftp.voidcmd("TYPE I")
        ftp.features = read_features(ftp)
        ftp.login_dir = login_directory(ftp)
    except BaseException:
        close(ftp)
        raise
    return ftp


def read_features(ftp: ftplib.FTP) -> frozenset[str]:
    try:
        reply = ftp.sendcmd("FEAT")
    except ftplib.error_perm:
        return frozenset()
    features = set()
    for line in reply.splitlines()[1:-1]:
        word = line.strip().split(" ", 1)[0].upper()
        if word:
            features.add(word)
    return frozenset(features)


def login_directory(ftp: ftplib.FTP) -> str:
    """Where the login put us: relative locations start there (as in django-storages)."""
    try:
        directory = ftp.pwd()
    except ftplib.error_perm:
        return "/"
    return directory if directory.startswith("/") else "/"


def close(ftp: ftplib.FTP) -> None:
    """QUIT politely when the server is still there, then close the sockets."""
    try:
        if ftp.sock is not None:
            ftp.quit()
    except (*ftplib.all_errors, ValueError):
        pass
    finally:
        ftp.close()


def is_dead(exc: BaseException) -> bool:
    """Whether ``exc`` means the control connection can no longer be used."""
    if isinstance(exc, ftplib.error_temp):
        return str(exc).startswith("421")
    return isinstance(exc, (OSError, EOFError, ftplib.error_proto, ftplib.error_reply))


def code(exc: BaseException) -> str:
    return str(exc)[:3]


# --- listings -----------------------------------------------------------------

_DOS_LINE = re.compile(r"^\d\d-\d\d-\d\d(\d\d)?\s+\d\d?:\d\d\s*[AP]M\s+(<DIR>|\d+)\s+(.+)$", re.I)


def _read_lines(ftp: ftplib.FTP, command: str) -> Iterator[str]:
    # A binary transfer (no TYPE A switch), split on any line ending.
    conn = ftp.transfercmd(command)
    pending = b""
    try:
        with conn.makefile("rb") as stream:
            while True:
                block = stream.read(64 * 1024)
                if not block:
                    break
                pending += block
                *lines, pending = pending.split(b"\n")
                for line in lines:
                    yield line.rstrip(b"\r").decode(ftp.encoding, "surrogateescape")
        if pending.strip():
            yield pending.rstrip(b"\r").decode(ftp.encoding, "surrogateescape")
        if isinstance(conn, ssl.SSLSocket):
            with contextlib.suppress(OSError, ValueError):
                conn.unwrap()
    finally:
        conn.close()
    ftp.voidresp()


def list_directory(ftp: PlainFTP | SecureFTP, path: str) -> list[tuple[str, bool]]:
    """``(name, is_directory)`` for each entry of ``path``: MLSD, else LIST."""
    entries: list[tuple[str, bool]] = []
    if ftp.has_mlsd:
        for line in list(_read_lines(ftp, f"MLSD {path}")):
            facts_text, _, name = line.partition(" ")
            facts = dict(fact.split("=", 1) for fact in facts_text.split(";") if "=" in fact)
            kind = facts.get("type", facts.get("Type", "")).lower()
            if kind in ("cdir", "pdir") or name in (".", "..", ""):
                continue
            entries.append((name, kind == "dir"))
        return entries
    # LIST output is meant for people; entering the directory first keeps
    # names with spaces or a leading dash away from option parsing.
    ftp.cwd(path)
    for line in list(_read_lines(ftp, "LIST -a")):
        entry = parse_list_line(line)
        if entry and entry[0] not in (".", ".."):
            entries.append(entry)
    return entries


def parse_list_line(line: str) -> tuple[str, bool] | None:
    if not line or line.lower().startswith("total"):
        return None
    dos = _DOS_LINE.match(line)
    if dos:
        return dos.group(3), dos.group(2).upper() == "<DIR>"
    parts = line.split(None, 8)
    if len(parts) < 9:
        return None
    kind, name = parts[0][:1], parts[8]
    if kind == "l" and " -> " in name:
        name = name.split(" -> ", 1)[0]
    return name, kind == "d"


def parse_mdtm(reply: str) -> datetime.datetime:
    """``213 YYYYMMDDHHMMSS[.sss]`` (UTC, RFC 3659) as an aware datetime."""
    stamp = reply.split()[-1]
    whole, _, fraction = stamp.partition(".")
    moment = datetime.datetime.strptime(whole, "%Y%m%d%H%M%S")
    micro = int((fraction + "000000")[:6]) if fraction else 0
    return moment.replace(microsecond=micro, tzinfo=datetime.UTC)
