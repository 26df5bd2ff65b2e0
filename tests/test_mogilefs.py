"""MogileFSStorage against the protocol-faithful tracker and storage nodes (tests/servers)."""

from __future__ import annotations

import io
import socket
import threading
import uuid

import pytest
from django.core.files.base import ContentFile, File
from django.core.files.storage import default_storage
from django.test import override_settings
from django.test.client import RequestFactory
from django.urls import re_path

from storages.backends.mogilefs import MogileFSStorage, serve_mogilefs_file
from storages.backends.mogilefs.tracker import (
    MogileFSError,
    TrackerClient,
    TrackersUnavailable,
    UnknownKey,
    decode_reply,
    encode_request,
)
from tests.scenarios import CommonScenarios, NamedSettingsContract
from tests.servers.process import LOOPBACK, free_port

MEDIA_URL = "/mogilefs/"

# The original's URL wiring: everything under MOGILEFS_MEDIA_URL goes to the view.
urlpatterns = [re_path(rf"^{MEDIA_URL[1:]}(?P<key>.*)", serve_mogilefs_file)]


def new_domain(cluster, *classes: str) -> str:
    domain = f"d{uuid.uuid4().hex[:10]}"
    assert cluster.command(f"create_domain domain={domain}").startswith("OK")
    for cls in classes:
        assert cluster.command(f"create_class domain={domain}&class={cls}").startswith("OK")
    return domain


@pytest.fixture
def domain(mogilefs_cluster):
    return new_domain(mogilefs_cluster, "avatar", "thumb")


@pytest.fixture
def options(mogilefs_cluster, domain):
    return {"domain": domain, "trackers": mogilefs_cluster.trackers, "base_url": MEDIA_URL}


class TestMogileFSContract(NamedSettingsContract):
    backend = "storages.backends.mogilefs.MogileFSStorage"
    setting_names = {
        "domain": "MOGILEFS_DOMAIN",
        "trackers": "MOGILEFS_TRACKERS",
        "base_url": "MOGILEFS_MEDIA_URL",
    }


class TestSharedScenarios(CommonScenarios):
    storage_path = "storages.backends.mogilefs.MogileFSStorage"


class TestProtocol:
    def test_request_and_reply_encoding(self):
        assert encode_request("get_paths", {"domain": "d", "key": "a b&c=d/é%"}) == (
            b"get_paths domain=d&key=a+b%26c%3Dd%2F%C3%A9%25\r\n"
        )
        assert decode_reply(b"OK paths=1&path1=http%3A%2F%2Fh%2Fdev1%2Fx.fid\r\n") == {
            "paths": "1",
            "path1": "http://h/dev1/x.fid",
        }
        assert decode_reply(b"OK \r\n") == {}
        with pytest.raises(UnknownKey) as info:
            decode_reply(b"ERR unknown_key unknown_key\r\n", "get_paths")
        assert isinstance(info.value, FileNotFoundError)
        with pytest.raises(MogileFSError) as info:
            decode_reply(b"ERR none_match No+keys+match+%28if+any%29.\r\n")
        assert (info.value.code, info.value.text) == ("none_match", "No keys match (if any).")

    def test_awkward_keys_round_trip(self, options):
        storage = MogileFSStorage(**options)
        names = ["a b&c=d.txt", "100%/+plus.txt", "ünï/名前.txt"]
        for name in names:
            assert storage.save(name, ContentFile(name.encode())) == name
            assert storage.open(name).read() == name.encode()
        assert storage.listdir("")[1] == ["a b&c=d.txt"]
        assert storage.listdir("100%")[1] == ["+plus.txt"]

    def test_client_commands_against_the_tracker(self, mogilefs_cluster, domain):
        client = TrackerClient(domain, mogilefs_cluster.trackers)
        with pytest.raises(UnknownKey):
            client.file_info("nothing")
        with pytest.raises(MogileFSError, match="unreg_class"):
            client.create_open("k", "no-such-class")
        assert list(client.list_keys("")) == []
        other = TrackerClient("no-such-domain", mogilefs_cluster.trackers)
        with pytest.raises(MogileFSError) as info:
            other.get_paths("k")
        assert info.value.code == "unreg_domain"

    def test_size_mismatch_is_refused(self, mogilefs_cluster, domain):
        client = TrackerClient(domain, mogilefs_cluster.trackers)
        fid, dests = client.create_open("sized")
        from storages.backends.mogilefs.tracker import http_put

        http_put(dests[0][1], io.BytesIO(b"abc"), 3, 10)
        with pytest.raises(MogileFSError) as info:
            client.create_close("sized", fid, dests[0][0], dests[0][1], 4)
        assert info.value.code == "size_mismatch"
        with pytest.raises(UnknownKey):
            client.file_info("sized")

    def test_list_keys_pages(self, options):
        storage = MogileFSStorage(**options)
        client = storage.client
        for index in range(5):
            storage.save(f"p/{index}.txt", ContentFile(b"x"))
        assert list(client.list_keys("p/", limit=2)) == [f"p/{i}.txt" for i in range(5)]


class TestOriginalDocumentation:
    def test_avatar_storage_class_attribute(self, mogilefs_cluster, domain):
        with override_settings(
            DEFAULT_FILE_STORAGE="storages.backends.mogilefs.MogileFSStorage",
            MOGILEFS_DOMAIN=domain,
            MOGILEFS_TRACKERS=mogilefs_cluster.trackers,
            MOGILEFS_MEDIA_URL=MEDIA_URL,
        ):
            storage = default_storage

            class AvatarStorage(storage.__class__):
                mogile_class = "avatar"

            class ThumbnailStorage(storage.__class__):
                mogile_class = "thumb"

            avatar = AvatarStorage().save("u/1.png", ContentFile(b"a"))
            thumb = ThumbnailStorage().save("u/1_t.png", ContentFile(b"t"))
            plain = storage.save("u/plain.txt", ContentFile(b"p"))
            client = storage.client
            assert client.file_info(avatar)["class"] == "avatar"
            assert client.file_info(thumb)["class"] == "thumb"
            assert client.file_info(plain)["class"] == "default"

    def test_url_uses_mogilefs_media_url(self, options):
        storage = MogileFSStorage(**options)
        assert storage.url("avatars/a b.png") == "/mogilefs/avatars/a%20b.png"

    def test_trackers_as_a_comma_separated_string(self, options):
        storage = MogileFSStorage(**{**options, "trackers": ",".join(options["trackers"])})
        assert storage.trackers == options["trackers"]
        assert not storage.exists("x")


class TestServingView:
    @pytest.fixture
    def configured(self, settings, mogilefs_cluster, domain):
        settings.ROOT_URLCONF = __name__
        settings.MOGILEFS_DOMAIN = domain
        settings.MOGILEFS_TRACKERS = mogilefs_cluster.trackers
        settings.MOGILEFS_MEDIA_URL = MEDIA_URL
        return MogileFSStorage()

    def test_streams_without_perlbal(self, client, configured):
        payload = bytes(range(256)) * 2000
        configured.save("avatars/me.png", ContentFile(payload))
        response = client.get("/mogilefs/avatars/me.png")
        assert response.status_code == 200
        assert response.streaming
        assert response["Content-Type"] == "image/png"
        assert b"".join(response.streaming_content) == payload
        assert "X-REPROXY-URL" not in response

    def test_reproxies_with_perlbal(self, client, configured, settings):
        settings.SERVE_WITH_PERLBAL = True
        configured.save("avatars/me.png", ContentFile(b"png"))
        response = client.get("/mogilefs/avatars/me.png")
        assert response.status_code == 200
        paths = response["X-REPROXY-URL"].split()
        assert len(paths) == 2 and all(p.endswith(".fid") for p in paths)
        assert response.content == b""

    @pytest.mark.parametrize("perlbal", [False, True])
    def test_missing_is_404(self, client, configured, settings, perlbal):
        settings.SERVE_WITH_PERLBAL = perlbal
        assert client.get("/mogilefs/nothing.png").status_code == 404

    def test_class_attribute_view_and_explicit_storage(self, configured):
        configured.save("x.txt", ContentFile(b"x"))
        request = RequestFactory().get("/mogilefs/x.txt")
        response = MogileFSStorage.serve_mogilefs_file(request, key="x.txt", storage=configured)
        assert b"".join(response.streaming_content) == b"x"


class TestFailover:
    def test_dead_tracker_is_skipped(self, mogilefs_cluster, domain):
        dead = f"{LOOPBACK}:{free_port()}"
        storage = MogileFSStorage(
            domain=domain, trackers=[dead, *mogilefs_cluster.trackers], dead_tracker_retry=60
        )
        name = storage.save("f.txt", ContentFile(b"failover"))
        assert storage.open(name).read() == b"failover"

    def test_tracker_that_hangs_up_is_skipped(self, mogilefs_cluster, domain):
        listener = socket.create_server((LOOPBACK, 0))
        stop = threading.Event()

        def hang_up():
            listener.settimeout(0.2)
            while not stop.is_set():
                try:
                    conn, _ = listener.accept()
                except OSError:
                    continue
                conn.recv(1024)
                conn.close()

        thread = threading.Thread(target=hang_up, daemon=True)
        thread.start()
        try:
            rude = f"{LOOPBACK}:{listener.getsockname()[1]}"
            storage = MogileFSStorage(domain=domain, trackers=[rude, mogilefs_cluster.trackers[1]])
            assert storage.save("g.txt", ContentFile(b"g")) == "g.txt"
            assert storage.exists("g.txt")
        finally:
            stop.set()
            thread.join(timeout=5)
            listener.close()

    def test_no_tracker_at_all(self, domain):
        storage = MogileFSStorage(domain=domain, trackers=[f"{LOOPBACK}:{free_port()}"])
        with pytest.raises(TrackersUnavailable) as info:
            storage.exists("x")
        assert isinstance(info.value, OSError)

    def test_dead_storage_path_on_read_and_write(self, mogilefs_private_cluster):
        cluster = mogilefs_private_cluster
        domain = new_domain(cluster)
        storage = MogileFSStorage(domain=domain, trackers=cluster.trackers)
        name = storage.save("both.txt", ContentFile(b"replicated"))
        assert len(storage.paths(name)) == 2
        cluster.node(1).kill()
        # The first path is dead: reading falls through to the second.
        assert storage.open(name).read() == b"replicated"
        assert storage.size(name) == len(b"replicated")
        # Writing: the first destination refuses, the second takes the file.
        other = storage.save("later.txt", ContentFile(b"on node two"))
        assert storage.open(other).read() == b"on node two"
        assert storage.paths(other)[0].split("/")[3] == "dev2"

    def test_node_stopped_mid_upload_leaves_nothing(self, mogilefs_private_cluster):
        cluster = mogilefs_private_cluster
        domain = new_domain(cluster)
        storage = MogileFSStorage(domain=domain, trackers=cluster.trackers)
        node1, node2 = cluster.node(1), cluster.node(2)

        class KillingStream(io.RawIOBase):
            """Content that stops both nodes once part of it has gone up."""

            def __init__(self):
                self.sent = 0

            def readable(self):
                return True

            def seekable(self):
                return True

            def seek(self, offset, whence=0):
                self.sent = offset + (1024 * 1024 if whence == io.SEEK_END else 0)
                return self.sent

            def tell(self):
                return self.sent

            def readinto(self, buffer):
                if self.sent > 256 * 1024:
                    for node in (node1, node2):
                        if node.running:
                            node.kill()
                count = min(len(buffer), 1024 * 1024 - self.sent)
                buffer[:count] = b"z" * count
                self.sent += count
                return count

        with pytest.raises(OSError):
            storage.save("cut.bin", File(KillingStream()))
        assert not storage.exists("cut.bin")
        assert list(storage.client.list_keys("")) == []
