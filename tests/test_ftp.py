"""FTPStorage on real servers: pyftpdlib (plain, explicit TLS), vsftpd (explicit, implicit TLS)."""

from __future__ import annotations

import logging
import os
import pickle
import threading
import uuid

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.core.files.base import ContentFile

from storages.backends.ftp import FTPStorage, FTPStorageError
from tests.contract import StorageContract
from tests.servers.ftp import FTP_PASSWORD, FTPServerInfo, start_pyftpdlib


def options_for(server: FTPServerInfo, subdir: str, **extra) -> dict:
    options = {"location": server.location(subdir), "base_url": "/media/"}
    if server.ca_file:
        options["ca_file"] = server.ca_file
    if server.implicit_tls:
        options["implicit_tls"] = True
    options.update(extra)
    return options


def settings_for(options: dict) -> dict:
    names = {
        "location": "FTP_STORAGE_LOCATION",
        "base_url": "BASE_URL",
        "ca_file": "FTP_STORAGE_CA_FILE",
        "implicit_tls": "FTP_STORAGE_IMPLICIT_TLS",
    }
    return {names[key]: value for key, value in options.items()}


class FTPContract(StorageContract):
    backend = "storages.backends.ftp.FTPStorage"
    server_fixture = ""

    @pytest.fixture
    def server(self, request) -> FTPServerInfo:
        return request.getfixturevalue(self.server_fixture)

    @pytest.fixture
    def backend_options(self, server):
        return options_for(server, f"t-{uuid.uuid4().hex[:12]}")

    @pytest.fixture
    def backend_settings(self, backend_options):
        return settings_for(backend_options)


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


class TestBehaviour:
    def test_lists_without_mlsd_on_vsftpd(self, vsftpd_server):
        storage = fresh(vsftpd_server)
        storage.save("d/-dash.txt", ContentFile(b"1"))
        storage.save("d/sub dir/x.txt", ContentFile(b"2"))
        ftp = storage.pool.acquire().connection
        assert not ftp.has_mlsd  # this test is about the LIST fallback
        assert storage.listdir("d") == (["sub dir"], ["-dash.txt"])

    def test_overwrite_option_replaces(self, pyftpdlib_server):
        storage = fresh(pyftpdlib_server, allow_overwrite=True)
        assert storage.save("f.txt", ContentFile(b"one")) == "f.txt"
        assert storage.save("f.txt", ContentFile(b"two")) == "f.txt"
        assert storage.open("f.txt").read() == b"two"
        assert storage.listdir("") == ([], ["f.txt"])

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

    def test_threads_share_the_storage(self, pyftpdlib_server):
        storage = fresh(pyftpdlib_server)
        errors: list[BaseException] = []

        def work(index: int) -> None:
            try:
                for step in range(5):
                    name = storage.save(f"t{index}/{step}.txt", ContentFile(b"x" * step))
                    assert storage.size(name) == step
                    assert storage.open(name).read() == b"x" * step
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=work, args=(i,)) for i in range(6)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        assert not errors

    def test_pickles_without_connections(self, pyftpdlib_server):
        storage = fresh(pyftpdlib_server)
        storage.save("p.txt", ContentFile(b"p"))
        revived = pickle.loads(pickle.dumps(storage))
        assert "_pool" not in revived.__dict__
        assert revived.open("p.txt").read() == b"p"

    def test_write_mode_file(self, pyftpdlib_server):
        storage = fresh(pyftpdlib_server)
        with storage.open("w/new.txt", "w") as handle:
            handle.write("héllo")
        assert storage.open("w/new.txt").read() == b"h\xc3\xa9llo"

    def test_wrong_ca_fails_verification(self, pyftpdlib_tls_server, ftp_certificates):
        storage = fresh(pyftpdlib_tls_server, ca_file=ftp_certificates["other_ca"])
        with pytest.raises(FTPStorageError, match="certificate"):
            storage.exists("x.txt")

    def test_wrong_ca_fails_implicit_tls(self, vsftpd_implicit_server, ftp_certificates):
        storage = fresh(vsftpd_implicit_server, ca_file=ftp_certificates["other_ca"])
        with pytest.raises(FTPStorageError, match="certificate"):
            storage.exists("x.txt")

    def test_password_never_shown(self, pyftpdlib_server, caplog):
        caplog.set_level(logging.DEBUG)
        wrong = "Not-The-Pa55word-xyz"
        location = pyftpdlib_server.location("s").replace(FTP_PASSWORD, wrong)
        storage = FTPStorage(location=location)
        with pytest.raises(FTPStorageError) as info:
            storage.save("s.txt", ContentFile(b"s"))
        good = fresh(pyftpdlib_server)
        with pytest.raises(FileNotFoundError) as missing:
            good.open("nothing-here.txt")
        for text in (str(info.value), repr(storage), repr(good), str(missing.value), caplog.text):
            assert wrong not in text
            assert FTP_PASSWORD not in text
        assert "530" in str(info.value)

    def test_bad_location_is_refused_without_echo(self):
        with pytest.raises(ImproperlyConfigured) as info:
            FTPStorage(location="http://u:hunter2pw@example.com/")
        assert "hunter2pw" not in str(info.value)


class TestServerFailures:
    @pytest.fixture
    def own_server(self, tmp_path):
        process, port = start_pyftpdlib(tmp_path / "root", None)
        info = FTPServerInfo("pyftpdlib", port, tmp_path / "root", "/", process=process)
        yield info
        process.stop()

    def test_killed_mid_upload_leaves_nothing_and_reconnects(self, own_server):
        storage = fresh(own_server)
        assert storage.save("warm.txt", ContentFile(b"w")) == "warm.txt"  # an idle connection

        class Killing(ContentFile):
            def chunks(self, chunk_size=None):
                yield b"a" * 65536
                own_server.process.kill()
                for _ in range(200):  # keep sending until the dead peer is noticed
                    yield b"b" * 65536

        with pytest.raises(OSError):
            storage.save("doc.bin", Killing(b""))
        own_server.process.start()
        assert not storage.exists("doc.bin")
        assert storage.listdir("")[1] == ["warm.txt"]
        assert storage.save("doc.bin", ContentFile(b"ok")) == "doc.bin"
        assert storage.open("doc.bin").read() == b"ok"

    def test_dropped_idle_connection_is_replaced(self, own_server):
        storage = fresh(own_server)
        storage.save("a.txt", ContentFile(b"a"))
        own_server.process.stop()
        own_server.process.start()
        assert storage.exists("a.txt")  # the idle connection died with the server
        assert storage.open("a.txt").read() == b"a"
