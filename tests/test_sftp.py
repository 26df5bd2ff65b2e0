"""SFTPStorage on OpenSSH's sshd: the contract, host-key checks, failures, secrets."""

from __future__ import annotations

import logging
import os
import pickle
import threading
import uuid

import pytest
from django.core.files.base import ContentFile

from storages.backends.sftp import HostKeyError, SFTPStorage, SFTPStorageError
from tests.contract import StorageContract
from tests.servers.process import LOOPBACK
from tests.servers.sftp import (
    KEY_PASSPHRASE,
    SSHServerInfo,
    keygen,
    kill_sshd,
    known_hosts_line,
    make_sshd,
)


def options_for(server: SSHServerInfo, **extra) -> dict:
    return {
        "host": LOOPBACK,
        "params": server.params(),
        "root_path": str(server.root / f"t-{uuid.uuid4().hex[:12]}"),
        "known_host_file": str(server.known_hosts),
        "base_url": "/media/",
        **extra,
    }


SETTING_NAMES = {
    "host": "SFTP_STORAGE_HOST",
    "params": "SFTP_STORAGE_PARAMS",
    "root_path": "SFTP_STORAGE_ROOT",
    "known_host_file": "SFTP_KNOWN_HOST_FILE",
    "base_url": "SFTP_BASE_URL",
}


class TestSshdContract(StorageContract):
    backend = "storages.backends.sftp.SFTPStorage"

    @pytest.fixture
    def backend_options(self, sshd_server):
        return options_for(sshd_server)

    @pytest.fixture
    def backend_settings(self, backend_options):
        return {SETTING_NAMES[key]: value for key, value in backend_options.items()}


def fresh(server: SSHServerInfo, **extra) -> SFTPStorage:
    return SFTPStorage(**options_for(server, **extra))


class TestHostKeys:
    def test_unknown_host_key_is_refused(self, sshd_server, tmp_path):
        empty = tmp_path / "known_hosts"
        empty.write_text("")
        storage = fresh(sshd_server, known_host_file=str(empty))
        with pytest.raises(HostKeyError, match=r"not in .*known_hosts.*insecure"):
            storage.exists("x")

    def test_changed_host_key_is_refused_even_with_the_opt_in(self, sshd_server, tmp_path):
        other = keygen(tmp_path / "other_host_key")
        wrong = tmp_path / "known_hosts"
        wrong.write_text(known_hosts_line(sshd_server.port, other))
        for allow in (False, True):
            storage = fresh(sshd_server, known_host_file=str(wrong), allow_unknown_host_keys=allow)
            with pytest.raises(HostKeyError, match="does not match"):
                storage.exists("x")

    def test_unknown_key_accepted_only_on_opt_in(self, sshd_server, tmp_path, caplog):
        empty = tmp_path / "known_hosts"
        empty.write_text("")
        storage = fresh(sshd_server, known_host_file=str(empty), allow_unknown_host_keys=True)
        with caplog.at_level(logging.WARNING, logger="storages"):
            storage.save("a.txt", ContentFile(b"a"))
        assert "unknown SSH host key" in caplog.text
        assert empty.read_text() == ""  # nothing is written to the user's known hosts


class TestBehaviour:
    def test_overwrite_option_replaces_atomically(self, sshd_server):
        storage = fresh(sshd_server, allow_overwrite=True)
        assert storage.save("f.txt", ContentFile(b"one")) == "f.txt"
        assert storage.save("f.txt", ContentFile(b"two")) == "f.txt"
        assert storage.open("f.txt").read() == b"two"
        assert storage.listdir("") == ([], ["f.txt"])

    def test_modes_and_owner(self, sshd_server):
        storage = fresh(sshd_server, file_mode=0o640, dir_mode=0o750, uid=os.getuid())
        name = storage.save("d/e/f.txt", ContentFile(b"m"))
        root = sshd_server.root / os.path.basename(storage.root_path)
        assert (root / name).stat().st_mode & 0o777 == 0o640
        assert (root / "d/e").stat().st_mode & 0o777 == 0o750
        assert (root / name).stat().st_uid == os.getuid()

    def test_large_streaming_with_seek(self, sshd_server):
        storage = fresh(sshd_server)
        payload = os.urandom(9 * 1024 * 1024 + 5)
        name = storage.save("big.bin", ContentFile(payload))
        with storage.open(name, "rb") as handle:
            handle.seek(8 * 1024 * 1024 + 3)
            assert handle.read(1000) == payload[8 * 1024 * 1024 + 3 : 8 * 1024 * 1024 + 1003]
            handle.seek(0)
            assert handle.read() == payload

    def test_partial_read_then_other_calls(self, sshd_server):
        storage = fresh(sshd_server, max_idle_connections=1)
        payload = os.urandom(20 * 1024 * 1024)
        name = storage.save("partial.bin", ContentFile(payload))
        for _ in range(2):
            with storage.open(name, "rb") as handle:
                assert handle.read(100) == payload[:100]
            # The same connection, with read-ahead answers still on the way.
            assert storage.size(name) == len(payload)
            assert storage.open(name).read(10) == payload[:10]

    def test_threads_share_the_storage(self, sshd_server):
        storage = fresh(sshd_server)
        errors: list[BaseException] = []

        def work(index: int) -> None:
            try:
                for step in range(4):
                    name = storage.save(f"t{index}/{step}.txt", ContentFile(b"x" * step))
                    assert storage.open(name).read() == b"x" * step
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=work, args=(i,)) for i in range(5)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        assert not errors

    def test_pickles_and_closes(self, sshd_server):
        storage = fresh(sshd_server)
        storage.save("p.txt", ContentFile(b"p"))
        revived = pickle.loads(pickle.dumps(storage))
        assert "_pool" not in revived.__dict__
        assert revived.open("p.txt").read() == b"p"
        lease = storage.pool.acquire()
        storage.pool.release(lease)
        storage.close()
        assert not lease.connection.client.get_transport()

    def test_secrets_never_shown(self, sshd_server, caplog):
        caplog.set_level(logging.DEBUG)
        secret = "hunter2-Pa55word-zz"
        storage = fresh(sshd_server, params=sshd_server.params(password=secret, key_filename=None))
        with pytest.raises(SFTPStorageError) as info:
            storage.save("s.txt", ContentFile(b"s"))
        good = fresh(sshd_server)
        with pytest.raises(FileNotFoundError) as missing:
            good.open("nothing.txt")
        texts = (str(info.value), repr(storage), repr(good), str(missing.value), caplog.text)
        for text in texts:
            assert secret not in text
            assert KEY_PASSPHRASE not in text
        assert "authentication" in str(info.value)


class TestServerFailures:
    @pytest.fixture
    def own_server(self, tmp_path):
        info = make_sshd(tmp_path / "sshd")
        yield info
        info.process.stop()

    def test_killed_mid_upload_leaves_nothing_and_reconnects(self, own_server):
        storage = fresh(own_server)
        assert storage.save("warm.txt", ContentFile(b"w")) == "warm.txt"

        class Killing(ContentFile):
            def chunks(self, chunk_size=None):
                yield b"a" * 65536
                kill_sshd(own_server)
                for _ in range(400):
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
        assert storage.exists("a.txt")
        assert storage.open("a.txt").read() == b"a"
