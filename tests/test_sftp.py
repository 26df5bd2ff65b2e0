"""SFTPStorage on OpenSSH's sshd: the contract, host-key checks, failures, secrets."""

from __future__ import annotations

import logging
import os
import uuid

import pytest
from django.core.files.base import ContentFile

from storages.backends.sftp import HostKeyError, SFTPStorage, SFTPStorageError
from tests.scenarios import (
    CommonScenarios,
    NamedSettingsContract,
    OwnServer,
    SecretsScenario,
    ServerLossScenario,
)
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


class TestSshdContract(NamedSettingsContract):
    backend = "storages.backends.sftp.SFTPStorage"
    setting_names = {
        "host": "SFTP_STORAGE_HOST",
        "params": "SFTP_STORAGE_PARAMS",
        "root_path": "SFTP_STORAGE_ROOT",
        "known_host_file": "SFTP_KNOWN_HOST_FILE",
        "base_url": "SFTP_BASE_URL",
    }

    @pytest.fixture
    def backend_options(self, sshd_server):
        return options_for(sshd_server)


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


class TestBehaviour(CommonScenarios, SecretsScenario):
    storage_path = "storages.backends.sftp.SFTPStorage"
    overwrite_option = "allow_overwrite"
    threads = 5
    auth_error = SFTPStorageError
    auth_failure_text = "authentication"

    @pytest.fixture
    def make_storage(self, sshd_server):
        return lambda **extra: fresh(sshd_server, **extra)

    def badly_authenticated(self, make_storage):
        secret = "hunter2-Pa55word-zz"
        params = make_storage().params | {"password": secret, "key_filename": None}
        return make_storage(params=params), [secret, KEY_PASSPHRASE]

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

    def test_close_ends_idle_connections(self, sshd_server):
        storage = fresh(sshd_server)
        lease = storage.pool.acquire()
        storage.pool.release(lease)
        storage.close()
        assert not lease.connection.client.get_transport()


class TestServerFailures(ServerLossScenario):
    blocks_after_crash = 400

    @pytest.fixture
    def own_server(self, tmp_path):
        info = make_sshd(tmp_path / "sshd")
        # The sessions go down with the server, as in a machine failure.
        yield OwnServer(info.process, lambda: fresh(info), crash=lambda: kill_sshd(info))
        info.process.stop()
