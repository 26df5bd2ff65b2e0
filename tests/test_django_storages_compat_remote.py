"""FTP and SFTP configured as django-storages 1.14.6's documentation configures them.

Real servers only (pyftpdlib, vsftpd, OpenSSH's sshd, from tests/servers/):
global settings with ``DEFAULT_FILE_STORAGE``, ``STORAGES`` with ``OPTIONS``,
subclasses with class attributes or a ``get_default_settings(self)`` override,
django-storages' names (``aftp://``, ``FTPStorageException``, ``disconnect()``,
``storages.backends.sftpstorage``, ``storage.sftp``, ``with storage:``), and a
wrong password for each backend.
"""

from __future__ import annotations

import logging
import os
import uuid
from urllib.parse import quote

import paramiko
import pytest
from django.core.exceptions import SuspiciousFileOperation
from django.core.files.base import ContentFile
from django.core.files.storage import storages
from django.test import override_settings

from storages.backends.ftp import FTPStorage, FTPStorageException, FTPStorageFile
from storages.backends.sftp import HostKeyError, SFTPStorageError
from storages.backends.sftpstorage import SFTPStorage, SFTPStorageFile
from tests.contract import STATICFILES, legacy_overrides
from tests.servers.ftp import (
    FTP_PASSWORD,
    FTP_USER,
    HOMED_DIR,
    HOMED_USER,
    RAW_PASSWORD,
    RAW_USER,
    FTPServerInfo,
)
from tests.servers.process import LOOPBACK, free_port
from tests.servers.sftp import KEY_PASSPHRASE, SSHServerInfo

WRONG_PASSWORD = "Wr0ng-Pa55word-for-compat"


def unique() -> str:
    return f"c-{uuid.uuid4().hex[:12]}"


def ftp_url(server: FTPServerInfo, path: str, *, scheme="ftp", user=FTP_USER, pw=FTP_PASSWORD):
    """A location as django-storages documents it: ``scheme://user:passwd@host:port/path``."""
    return f"{scheme}://{user}:{pw}@{LOOPBACK}:{server.port}/{path}"


def default_storage_with(**overrides):
    with override_settings(**overrides):
        return storages["default"]


def storages_setting(backend: str, options: dict) -> dict:
    return {"default": {"BACKEND": backend, "OPTIONS": options}, "staticfiles": STATICFILES}


def assert_no_secret(secret: str, *texts: str) -> None:
    for text in texts:
        assert secret not in text


# --- FTP -------------------------------------------------------------------------


class TestFTPConfiguredAsDjangoStorages:
    def test_global_settings(self, pyftpdlib_server):
        subdir = unique()
        with override_settings(
            **legacy_overrides(
                DEFAULT_FILE_STORAGE="storages.backends.ftp.FTPStorage",
                FTP_STORAGE_LOCATION=ftp_url(pyftpdlib_server, f"{subdir}/"),
                FTP_ALLOW_OVERWRITE=True,
                FTP_STORAGE_ENCODING="latin-1",
                BASE_URL="https://cdn.example.com/ftp/",
            )
        ):
            storage = storages["default"]
            assert type(storage) is FTPStorage
            assert storage.save("a/b.txt", ContentFile(b"one")) == "a/b.txt"
            assert storage.save("a/b.txt", ContentFile(b"two")) == "a/b.txt"  # replaced
            assert storage.url("a/b.txt") == "https://cdn.example.com/ftp/a/b.txt"
            assert storage.encoding == "latin-1"
        assert (pyftpdlib_server.root / subdir / "a/b.txt").read_bytes() == b"two"

    def test_storages_options_and_aftp_active_mode(self, pyftpdlib_server):
        subdir = unique()
        options = {
            "location": ftp_url(pyftpdlib_server, f"{subdir}/", scheme="aftp"),
            "allow_overwrite": False,
            "base_url": "/files/",
        }
        with override_settings(
            STORAGES=storages_setting("storages.backends.ftp.FTPStorage", options)
        ):
            storage = storages["default"]
            first = storage.save("x.txt", ContentFile(b"1"))
            second = storage.save("x.txt", ContentFile(b"2"))
            assert first == "x.txt" and second != first  # both kept
            assert storage.open(second).read() == b"2"
            assert sorted(storage.listdir("")[1]) == sorted([first, second])
            with storage.pool.lease() as lease:
                assert lease.connection.passiveserver is False  # PORT, not PASV
            assert "aftp://" in repr(storage) and FTP_PASSWORD not in repr(storage)
            storage.disconnect()

    def test_subclass_with_class_attributes(self, pyftpdlib_server):
        subdir = unique()

        class MediaFTP(FTPStorage):
            location = ftp_url(pyftpdlib_server, f"{subdir}/")
            allow_overwrite = True
            base_url = "/m/"

        storage = MediaFTP()
        storage.save("f.txt", ContentFile(b"old"))
        assert storage.save("f.txt", ContentFile(b"new")) == "f.txt"
        assert (pyftpdlib_server.root / subdir / "f.txt").read_bytes() == b"new"
        assert storage.url("f.txt") == "/m/f.txt"
        assert MediaFTP(base_url="/o/").url("f.txt") == "/o/f.txt"  # options still win

    def test_get_default_settings_override(self, pyftpdlib_server):
        subdir = unique()
        location = ftp_url(pyftpdlib_server, f"{subdir}/")

        class Tuned(FTPStorage):
            def get_default_settings(self):
                defaults = super().get_default_settings()
                defaults["location"] = location
                return defaults

        storage = Tuned()
        storage.save("t.txt", ContentFile(b"t"))
        assert (pyftpdlib_server.root / subdir / "t.txt").read_bytes() == b"t"

    def test_location_paths_as_django_storages_reads_them(self, pyftpdlib_server):
        # Relative to the login directory; "//" absolute; no path: the root.
        subdir = unique()
        relative = FTPStorage(location=ftp_url(pyftpdlib_server, f"{subdir}/", user=HOMED_USER))
        absolute = FTPStorage(location=ftp_url(pyftpdlib_server, f"/{subdir}/", user=HOMED_USER))
        rooted = FTPStorage(location=ftp_url(pyftpdlib_server, "", user=HOMED_USER))
        relative.save("r.txt", ContentFile(b"r"))
        absolute.save("a.txt", ContentFile(b"a"))
        rooted.save(f"{subdir}/root.txt", ContentFile(b"o"))
        home = pyftpdlib_server.root / HOMED_DIR.lstrip("/")
        assert (home / subdir / "r.txt").read_bytes() == b"r"
        assert (pyftpdlib_server.root / subdir / "a.txt").read_bytes() == b"a"
        assert (pyftpdlib_server.root / subdir / "root.txt").read_bytes() == b"o"
        assert relative.listdir("") == ([], ["r.txt"])

    def test_password_with_url_characters(self, pyftpdlib_server):
        subdir = unique()
        raw = FTPStorage(
            location=ftp_url(pyftpdlib_server, f"{subdir}/", user=RAW_USER, pw=RAW_PASSWORD)
        )
        raw.save("raw.txt", ContentFile(b"raw"))
        quoted = ftp_url(
            pyftpdlib_server, f"{subdir}/", user=RAW_USER, pw=quote(RAW_PASSWORD, safe="")
        )
        assert FTPStorage(location=quoted).open("raw.txt").read() == b"raw"
        assert RAW_PASSWORD not in repr(raw)

    def test_wrong_password(self, pyftpdlib_server, caplog):
        caplog.set_level(logging.DEBUG)
        storage = FTPStorage(location=ftp_url(pyftpdlib_server, f"{unique()}/", pw=WRONG_PASSWORD))
        with pytest.raises(FTPStorageException) as info:
            storage.save("s.txt", ContentFile(b"s"))
        assert isinstance(info.value, OSError)
        assert "530" in str(info.value)
        with pytest.raises(OSError):
            storage.exists("s.txt")
        assert_no_secret(WRONG_PASSWORD, str(info.value), repr(storage), caplog.text)

    def test_missing_file_is_both_errors(self, pyftpdlib_server):
        storage = FTPStorage(location=ftp_url(pyftpdlib_server, f"{unique()}/"))
        for attempt in (lambda: storage.open("nothing.txt"), lambda: storage.size("nothing.txt")):
            with pytest.raises(FTPStorageException) as info:
                attempt()
            assert isinstance(info.value, FileNotFoundError)
            assert FTP_PASSWORD not in str(info.value)

    def test_storage_file_and_disconnect(self, pyftpdlib_server):
        storage = FTPStorage(location=ftp_url(pyftpdlib_server, f"{unique()}/"))
        with FTPStorageFile("w.txt", storage, "wb") as handle:  # built as theirs is
            handle.write(b"written")
        opened = storage.open("w.txt")
        assert isinstance(opened, FTPStorageFile)
        assert opened.size == 7 and opened.read() == b"written"
        opened.close()
        lease = storage.pool.acquire()
        storage.pool.release(lease)
        storage.disconnect()
        assert lease.connection.sock is None  # the pooled connection is closed
        assert storage.exists("w.txt")  # and the storage reconnects

    def test_hostile_names_refused_before_connecting(self):
        closed = f"ftp://u:{FTP_PASSWORD}@{LOOPBACK}:{free_port()}/rel/"
        storage = FTPStorage(location=closed)
        for call in (storage.exists, storage.open, storage.delete, storage.size):
            with pytest.raises(SuspiciousFileOperation):
                call("../escape.txt")
        with pytest.raises(SuspiciousFileOperation):
            storage.save("../../escape.txt", ContentFile(b"x"))

    def test_active_mode_with_tls_on_vsftpd(self, vsftpd_server):
        subdir = unique()
        storage = FTPStorage(
            location=vsftpd_server.location(subdir), ca_file=vsftpd_server.ca_file, passive=False
        )
        storage.save("tls.txt", ContentFile(b"active"))
        assert storage.open("tls.txt").read() == b"active"
        assert storage.listdir("") == ([], ["tls.txt"])
        assert (vsftpd_server.root / subdir / "tls.txt").read_bytes() == b"active"
        storage.disconnect()


# --- SFTP ------------------------------------------------------------------------


def sftp_options(server: SSHServerInfo, root: str, **extra) -> dict:
    return {
        "host": LOOPBACK,
        "params": server.params(),
        "root_path": f"{server.root / root}/",  # their docs: with a trailing slash
        "known_host_file": str(server.known_hosts),
        **extra,
    }


class TestSFTPConfiguredAsDjangoStorages:
    def test_default_file_storage_with_global_settings(self, sshd_server):
        root = unique()
        with override_settings(
            **legacy_overrides(
                DEFAULT_FILE_STORAGE="storages.backends.sftpstorage.SFTPStorage",
                SFTP_STORAGE_HOST=LOOPBACK,
                SFTP_STORAGE_PARAMS=sshd_server.params(),
                SFTP_STORAGE_ROOT=f"{sshd_server.root / root}/",
                SFTP_KNOWN_HOST_FILE=str(sshd_server.known_hosts),
                SFTP_STORAGE_INTERACTIVE=False,
                SFTP_STORAGE_FILE_MODE=0o640,
                SFTP_STORAGE_DIR_MODE=0o750,
                SFTP_STORAGE_UID=os.getuid(),
                SFTP_STORAGE_GID=os.getgid(),
                SFTP_BASE_URL="https://files.example.com/",
            )
        ):
            storage = storages["default"]
            assert type(storage) is SFTPStorage
            assert storage.deconstruct()[0] == "storages.backends.sftpstorage.SFTPStorage"
            name = storage.save("d/f.txt", ContentFile(b"global"))
            assert storage.url(name) == "https://files.example.com/d/f.txt"
            assert KEY_PASSPHRASE not in repr(storage)
        stored = sshd_server.root / root / name
        assert stored.read_bytes() == b"global"
        assert stored.stat().st_mode & 0o777 == 0o640
        assert stored.parent.stat().st_mode & 0o777 == 0o750
        assert (stored.stat().st_uid, stored.stat().st_gid) == (os.getuid(), os.getgid())

    def test_storages_options(self, sshd_server):
        root = unique()
        options = sftp_options(sshd_server, root, base_url="/sftp/", interactive=False)
        backend = "storages.backends.sftpstorage.SFTPStorage"
        with override_settings(STORAGES=storages_setting(backend, options)):
            storage = storages["default"]
            first = storage.save("n.txt", ContentFile(b"1"))
            second = storage.save("n.txt", ContentFile(b"2"))
            assert first == "n.txt" and second != first  # not replaced
            assert sorted(storage.listdir("")[1]) == sorted([first, second])
            assert storage.url(first) == "/sftp/n.txt"
            assert isinstance(storage.open(first), SFTPStorageFile)

    def test_subclass_with_class_attributes(self, sshd_server):
        root = unique()

        class Uploads(SFTPStorage):
            host = LOOPBACK
            params = sshd_server.params()
            root_path = str(sshd_server.root / root)
            known_host_file = str(sshd_server.known_hosts)
            file_mode = 0o600

        storage = Uploads()
        storage.save("u.txt", ContentFile(b"u"))
        assert (sshd_server.root / root / "u.txt").stat().st_mode & 0o777 == 0o600

    def test_context_manager_and_sftp_client(self, sshd_server):
        root = unique()
        with SFTPStorage(**sftp_options(sshd_server, root)) as storage:
            storage.save("c.txt", ContentFile(b"ctx"))
            client = storage.sftp
            assert isinstance(client, paramiko.SFTPClient)
            assert client is storage.sftp  # one client, kept
            assert client.listdir(str(sshd_server.root / root)) == ["c.txt"]
            with client.open(str(sshd_server.root / root / "c.txt"), "rb") as raw:
                assert raw.read() == b"ctx"
            lease = storage.pool.acquire()
            storage.pool.release(lease)
        assert not client.get_channel().get_transport().is_active()
        assert not lease.connection.client.get_transport()  # the pool's, too
        assert storage.sftp.listdir(str(sshd_server.root / root)) == ["c.txt"]  # reconnects
        storage.close()

    def test_storage_file_built_directly(self, sshd_server):
        storage = SFTPStorage(**sftp_options(sshd_server, unique()))
        with SFTPStorageFile("w.bin", storage, "wb") as handle:
            handle.write(b"direct")
        with SFTPStorageFile("w.bin", storage, "rb") as handle:
            assert handle.size == 6 and handle.read() == b"direct"

    def test_wrong_password(self, sshd_server, caplog):
        caplog.set_level(logging.DEBUG)
        params = sshd_server.params(password=WRONG_PASSWORD, key_filename=None)
        storage = SFTPStorage(**sftp_options(sshd_server, unique(), params=params))
        with pytest.raises(SFTPStorageError) as info:
            storage.save("s.txt", ContentFile(b"s"))
        with pytest.raises(OSError) as direct:
            storage.sftp  # noqa: B018 - the property connects
        assert "authentication" in str(info.value)
        for secret in (WRONG_PASSWORD, KEY_PASSPHRASE):
            assert_no_secret(secret, str(info.value), str(direct.value), repr(storage), caplog.text)

    def test_missing_known_hosts_file_refuses_the_host(self, sshd_server, tmp_path):
        missing = tmp_path / "no-such-known_hosts"
        storage = SFTPStorage(**sftp_options(sshd_server, unique(), known_host_file=str(missing)))
        with pytest.raises(HostKeyError, match="does not exist"):
            storage.exists("x.txt")

    def test_hostile_names(self, sshd_server):
        storage = SFTPStorage(**sftp_options(sshd_server, unique()))
        for call in (storage.exists, storage.open, storage.delete, storage.size):
            with pytest.raises(SuspiciousFileOperation):
                call("../escape.txt")

    def test_sftp_client_follows_settings_changes(self, sshd_server):
        with override_settings(
            SFTP_STORAGE_HOST=LOOPBACK,
            SFTP_STORAGE_PARAMS=sshd_server.params(),
            SFTP_KNOWN_HOST_FILE=str(sshd_server.known_hosts),
            SFTP_STORAGE_ROOT=str(sshd_server.root),
        ):
            storage = SFTPStorage()
            old = storage.sftp
            with override_settings(SFTP_STORAGE_PARAMS=sshd_server.params(timeout=7)):
                assert not old.get_channel().get_transport().is_active()  # closed, not leaked
                assert storage.sftp is not old
            storage.close()
