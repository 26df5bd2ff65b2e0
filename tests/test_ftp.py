"""FTPStorage on real servers: pyftpdlib (plain, explicit TLS), vsftpd (explicit, implicit TLS)."""

from __future__ import annotations

import os
import uuid

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.core.files.base import ContentFile

from storages.backends.ftp import FTPStorage, FTPStorageError
from tests.scenarios import (
    CommonScenarios,
    NamedSettingsContract,
    OwnServer,
    SecretsScenario,
    ServerLossScenario,
)
from tests.servers.ftp import FTP_PASSWORD, FTPServerInfo, start_pyftpdlib


def options_for(server: FTPServerInfo, subdir: str, **extra) -> dict:
    options = {"location": server.location(subdir), "base_url": "/media/"}
    if server.ca_file:
        options["ca_file"] = server.ca_file
    if server.implicit_tls:
        options["implicit_tls"] = True
    options.update(extra)
    return options


class FTPContract(NamedSettingsContract):
    backend = "storages.backends.ftp.FTPStorage"
    setting_names = {
        "location": "FTP_STORAGE_LOCATION",
        "base_url": "BASE_URL",
        "ca_file": "FTP_STORAGE_CA_FILE",
        "implicit_tls": "FTP_STORAGE_IMPLICIT_TLS",
    }
    server_fixture = ""

    @pytest.fixture
    def server(self, request) -> FTPServerInfo:
        return request.getfixturevalue(self.server_fixture)

    @pytest.fixture
    def backend_options(self, server):
        return options_for(server, f"t-{uuid.uuid4().hex[:12]}")


class TestPyftpdlibContract(FTPContract):
    server_fixture = "pyftpdlib_server"


class TestPyftpdlibTLSContract(FTPContract):
    server_fixture = "pyftpdlib_tls_server"


class TestVsftpdContract(FTPContract):
    server_fixture = "vsftpd_server"


def fresh(server: FTPServerInfo, **extra) -> FTPStorage:
    return FTPStorage(**options_for(server, f"t-{uuid.uuid4().hex[:12]}", **extra))


class TestVsftpdImplicitTLS:
    def test_round_trip_listing_and_times(self, vsftpd_implicit_server):
        storage = fresh(vsftpd_implicit_server)
        name = storage.save("a dir/b file.txt", ContentFile(b"implicit"))
        assert storage.open(name).read() == b"implicit"
        assert storage.listdir("a dir") == ([], ["b file.txt"])
        assert storage.size(name) == 8
        assert storage.get_modified_time(name).tzinfo is not None
        storage.delete(name)
        assert not storage.exists(name)
        storage.close()


class TestBehaviour(CommonScenarios, SecretsScenario):
    storage_path = "storages.backends.ftp.FTPStorage"
    overwrite_option = "allow_overwrite"
    auth_error = FTPStorageError
    auth_failure_text = "530"

    @pytest.fixture
    def make_storage(self, pyftpdlib_server):
        return lambda **extra: fresh(pyftpdlib_server, **extra)

    def badly_authenticated(self, make_storage):
        wrong = "Not-The-Pa55word-xyz"
        location = make_storage().location.replace(FTP_PASSWORD, wrong)
        return make_storage(location=location), [wrong, FTP_PASSWORD]

    def test_lists_without_mlsd_on_vsftpd(self, vsftpd_server):
        storage = fresh(vsftpd_server)
        storage.save("d/-dash.txt", ContentFile(b"1"))
        storage.save("d/sub dir/x.txt", ContentFile(b"2"))
        ftp = storage.pool.acquire().connection
        assert not ftp.has_mlsd  # this test is about the LIST fallback
        assert storage.listdir("d") == (["sub dir"], ["-dash.txt"])

    def test_large_streaming_both_ways_with_seek(self, pyftpdlib_tls_server):
        storage = fresh(pyftpdlib_tls_server)
        payload = os.urandom(3 * 1024 * 1024 + 17)
        name = storage.save("big.bin", ContentFile(payload))
        with storage.open(name, "rb") as handle:
            assert handle.read(10) == payload[:10]
            handle.seek(2 * 1024 * 1024)
            assert handle.read(100) == payload[2 * 1024 * 1024 : 2 * 1024 * 1024 + 100]
            handle.seek(0)
            assert handle.read() == payload

    def test_partial_read_then_other_calls(self, vsftpd_server):
        storage = fresh(vsftpd_server)
        payload = os.urandom(4 * 1024 * 1024)
        name = storage.save("partial.bin", ContentFile(payload))
        for _ in range(3):
            with storage.open(name, "rb") as handle:
                assert handle.read(100) == payload[:100]
            assert storage.size(name) == len(payload)
        with storage.open(name, "rb") as handle:
            assert handle.read() == payload
        assert storage.exists(name)

    def test_connections_are_reused_and_closed(self, pyftpdlib_server):
        storage = fresh(pyftpdlib_server)
        storage.save("a.txt", ContentFile(b"a"))
        first = storage.pool.acquire()
        storage.pool.release(first)
        storage.exists("a.txt")
        second = storage.pool.acquire()
        assert second.connection is first.connection
        storage.pool.release(second)
        storage.close()
        assert first.connection.sock is None

    def test_wrong_ca_fails_verification(self, pyftpdlib_tls_server, ftp_certificates):
        storage = fresh(pyftpdlib_tls_server, ca_file=ftp_certificates["other_ca"])
        with pytest.raises(FTPStorageError, match="certificate"):
            storage.exists("x.txt")

    def test_wrong_ca_fails_implicit_tls(self, vsftpd_implicit_server, ftp_certificates):
        storage = fresh(vsftpd_implicit_server, ca_file=ftp_certificates["other_ca"])
        with pytest.raises(FTPStorageError, match="certificate"):
            storage.exists("x.txt")

    def test_bad_location_is_refused_without_echo(self):
        with pytest.raises(ImproperlyConfigured) as info:
            FTPStorage(location="http://u:hunter2pw@example.com/")
        assert "hunter2pw" not in str(info.value)


class TestServerFailures(ServerLossScenario):
    @pytest.fixture
    def own_server(self, tmp_path):
        process, port = start_pyftpdlib(tmp_path / "root", None)
        info = FTPServerInfo("pyftpdlib", port, tmp_path / "root", "/", process=process)
        yield OwnServer(process, lambda: fresh(info))
        process.stop()
