"""AzureStorage against Azurite on 127.0.0.1: the contract, the shared scenarios and more."""

from __future__ import annotations

import datetime
import hashlib
import io
import logging
import os
import pickle
import socket
import threading
import urllib.error
import urllib.request
from urllib.parse import urlsplit

import pytest
from django.core.exceptions import ImproperlyConfigured, SuspiciousFileOperation
from django.core.files.base import ContentFile
from django.core.files.storage import storages
from django.test import override_settings

from storages.backends.azure_storage import (
    AzureManifestStaticStorage,
    AzureStaticStorage,
    AzureStorage,
    AzureStorageError,
    AzureStorageFile,
)
from tests.concurrency import run_in_threads
from tests.contract import ROOT_NAMES, UNSAFE_NAMES, URL_ATTACKS
from tests.scenarios import (
    CommonScenarios,
    NamedSettingsContract,
    OwnServer,
    SecretsScenario,
    ServerLossScenario,
)
from tests.servers.azure import ACCOUNT_KEY, start_azurite

#: Small blocks, so a few hundred KiB go up as staged blocks and come down in chunks.
SMALL_BLOCKS = {
    "max_single_put_size": 64 * 1024,
    "max_block_size": 64 * 1024,
    "max_single_get_size": 64 * 1024,
    "max_chunk_get_size": 64 * 1024,
}

_connected: list[tuple] = []


@pytest.fixture(autouse=True)
def loopback_only(monkeypatch):
    """Every connection any test here opens goes to 127.0.0.1 (never a cloud)."""
    connect = socket.socket.connect

    def guarded(sock, address):
        _connected.append(address)
        if sock.family in (socket.AF_INET, socket.AF_INET6) and address[0] != "127.0.0.1":
            raise AssertionError(f"a test tried to reach {address!r}")
        return connect(sock, address)

    monkeypatch.setattr(socket.socket, "connect", guarded)


@pytest.fixture
def options(azurite_server, azure_container):
    return {
        "connection_string": azurite_server.connection_string(),
        "azure_container": azure_container,
    }


def make(options, **extra):
    return AzureStorage(**{**options, **extra})


def blob_names(storage, *, uncommitted=False):
    include = ["uncommittedblobs"] if uncommitted else None
    return sorted(blob.name for blob in storage.client.list_blobs(include=include))


class Requests(list):
    """(method, url, headers) of every request a storage's client sends."""

    def __bool__(self):  # azure-core calls the hook only if it is truthy
        return True

    def __call__(self, request):
        http = request.http_request
        self.append((http.method, http.url, dict(http.headers)))


def recording(options, **extra):
    requests = Requests()
    storage = make(options, client_options={"raw_request_hook": requests}, **extra)
    return storage, requests


class TestAzureContract(NamedSettingsContract):
    backend = "storages.backends.azure_storage.AzureStorage"
    setting_names = {
        "connection_string": "AZURE_CONNECTION_STRING",
        "azure_container": "AZURE_CONTAINER",
    }


class TestAzureLocationContract(TestAzureContract):
    setting_names = {**TestAzureContract.setting_names, "location": "AZURE_LOCATION"}

    @pytest.fixture
    def options(self, azurite_server, azure_container):
        return {
            "connection_string": azurite_server.connection_string(),
            "azure_container": azure_container,
            "location": "media/files",
        }


class TestAzureBehaviour(CommonScenarios, SecretsScenario):
    storage_path = "storages.backends.azure_storage.AzureStorage"
    overwrite_option = "overwrite_files"
    seek_options = {"client_options": SMALL_BLOCKS}
    auth_error = AzureStorageError
    auth_failure_text = "403"

    def badly_authenticated(self, make_storage):
        wrong = "V3JvbmdLZXlXcm9uZ0tleVdyb25nS2V5V3JvbmdLZXlXcm9uZ0tleVdyb25nS2V5WA=="
        storage = make_storage(
            connection_string=make_storage().connection_string.replace(ACCOUNT_KEY, wrong)
        )
        return storage, [wrong, ACCOUNT_KEY]

    def check_backing_store(self, storage, names):
        assert blob_names(storage, uncommitted=True) == sorted(names)

    def test_url_stays_under_its_base(self, make_storage):
        # Azure's URL base is the custom domain (a host) and the container.
        storage = make_storage(custom_domain="cdn.example.com", azure_container="media")
        for name in URL_ATTACKS + UNSAFE_NAMES + ROOT_NAMES + ["a/../b.txt", "a/"]:
            with pytest.raises(SuspiciousFileOperation):
                storage.url(name)
        for name in ["a b/c.txt", "a//c.txt", "x:y.txt", "?q#f.txt", "%2e%2e/x", "a\\c.txt"]:
            url = storage.url(name)
            parts = urlsplit(url)
            assert url.startswith("http://cdn.example.com/devstoreaccount1/media/"), url
            assert parts.netloc == "cdn.example.com", url
            assert not parts.query and not parts.fragment, url
            assert ".." not in parts.path.split("/"), url


# --- saves: atomic create, next name, staged blocks, failures -------------------------


def test_same_name_save_is_one_create_only_request(options):
    storage, requests = recording(options)
    assert storage.save("one.txt", ContentFile(b"1")) == "one.txt"
    del requests[:]
    assert storage.save("one.txt", ContentFile(b"2")) != "one.txt"
    puts = [headers for method, _path, headers in requests if method == "PUT"]
    assert len(requests) == 2 and len(puts) == 2  # refused create, then the next name
    assert all(headers.get("If-None-Match") == "*" for headers in puts)
    assert storage.open("one.txt").read() == b"1"


def test_overwrite_files_sends_no_condition(options):
    storage, requests = recording(options, overwrite_files=True)
    storage.save("o.txt", ContentFile(b"1"))
    storage.save("o.txt", ContentFile(b"2"))
    assert [method for method, _p, _h in requests] == ["PUT", "PUT"]
    assert not any("If-None-Match" in headers for _m, _p, headers in requests)
    assert storage.open("o.txt").read() == b"2"


def test_concurrent_staged_block_saves_of_one_name_keep_every_file(options):
    storage = make(options, client_options=SMALL_BLOCKS, upload_max_conn=3)
    payloads = [bytes([index]) * 300_000 for index in range(4)]
    barrier = threading.Barrier(len(payloads))
    names: list[str] = []
    errors: list[BaseException] = []

    def save(index):
        try:
            barrier.wait(timeout=30)
            names.append(storage.save("race.bin", ContentFile(payloads[index])))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=save, args=(i,)) for i in range(len(payloads))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors, errors
    assert len(set(names)) == len(payloads)
    assert sorted(storage.open(name).read() for name in names) == sorted(payloads)
    assert blob_names(storage) == sorted(names)


def test_concurrent_staged_block_overwrites_keep_one_whole_file(options):
    storage = make(options, client_options=SMALL_BLOCKS, upload_max_conn=2, overwrite_files=True)
    payloads = [bytes([index]) * 400_000 for index in range(4)]

    def save(index):
        return storage.save("same.bin", ContentFile(payloads[index]))

    assert run_in_threads(save, len(payloads)) == ["same.bin"] * len(payloads)
    assert storage.open("same.bin").read() in payloads
    assert blob_names(storage) == ["same.bin"]


def test_staged_blocks_in_bounded_memory_carry_md5(options):
    requests = Requests()
    storage = make(options, client_options={**SMALL_BLOCKS, "raw_request_hook": requests})
    payload = io.BytesIO(bytes(range(256)) * 2000)  # 512,000 bytes: 8 blocks
    name = storage.save("blocks.bin", payload)
    puts = [method for method, _path, _headers in requests if method == "PUT"]
    assert len(puts) == 9  # 8 Put Block + 1 Put Block List

    entry = dict((n, (size, md5)) for n, size, _m, md5 in storage.list_stored())
    assert entry[name] == (512_000, hashlib.md5(payload.getvalue()).hexdigest())
    assert storage.open(name).read() == payload.getvalue()


def test_no_md5_above_content_md5_max_size(options, tmp_path):
    from django.core.files import File

    storage = make(options, client_options=SMALL_BLOCKS, content_md5_max_size=300_000)
    payload = os.urandom(400_000)
    path = tmp_path / "big.bin"
    path.write_bytes(payload)
    with open(path, "rb") as handle:  # from the disk and from memory: the same rule
        on_disk = storage.save("disk.bin", File(handle, name="disk.bin"))
    in_memory = storage.save("memory.bin", io.BytesIO(payload))
    small = storage.save("small.bin", io.BytesIO(payload[:200_000]))  # staged, under the limit
    entry = {n: (size, md5) for n, size, _m, md5 in storage.list_stored()}
    assert entry[on_disk] == entry[in_memory] == (400_000, None)
    assert entry[small] == (200_000, hashlib.md5(payload[:200_000]).hexdigest())
    assert storage.open(on_disk).read() == storage.open(in_memory).read() == payload
    unlimited = make(options, client_options=SMALL_BLOCKS, content_md5_max_size=None)
    name = unlimited.save("unlimited.bin", io.BytesIO(payload))
    entry = {n: md5 for n, _size, _m, md5 in unlimited.list_stored()}
    assert entry[name] == hashlib.md5(payload).hexdigest()


def test_failed_staged_upload_leaves_nothing_and_keeps_the_old_file(options):
    requests = Requests()
    storage = make(
        options,
        client_options={**SMALL_BLOCKS, "raw_request_hook": requests},
        overwrite_files=True,
    )
    storage.save("big.bin", ContentFile(b"old"))

    class Failing(io.BytesIO):
        """Seekable content (uploaded straight from it) whose disk fails after 200 KB."""

        def read(self, size=-1):
            if self.tell() > 200_000:
                raise OSError("the disk went away")
            return super().read(size)

    for name in ("big.bin", "new.bin"):
        del requests[:]
        with pytest.raises(OSError, match="the disk went away"):
            storage.save(name, Failing(b"x" * 500_000))
        urls = [url for _method, url, _headers in requests]
        assert sum("comp=block&" in url for url in urls) >= 1  # blocks staged, then the failure
        assert not any("comp=blocklist" in url for url in urls)  # never committed
    with pytest.raises(OSError, match="stopped"), storage.open("w.bin", "wb") as handle:
        handle.write(b"y" * 300_000)
        raise OSError("stopped")
    assert storage.open("big.bin").read() == b"old"
    assert not storage.exists("new.bin") and not storage.exists("w.bin")
    assert blob_names(storage) == ["big.bin"]  # staged blocks are not a blob


def test_file_on_disk_is_sent_from_the_disk_with_its_md5(options, tmp_path, monkeypatch):
    from django.core.files import File

    from storages.backends.azure_storage import files as azure_files
    from storages.files import file_on_disk

    requests = Requests()
    storage = make(options, client_options={**SMALL_BLOCKS, "raw_request_hook": requests})
    path = tmp_path / "big.bin"
    payload = os.urandom(64 * 1024 * 7 + 123)  # 7 whole blocks and a short one
    path.write_bytes(payload)
    with open(path, "rb") as handle:
        assert file_on_disk(File(handle)) == (handle.fileno(), 0, len(payload))
        staged = []
        real = azure_files._stage_from_disk
        monkeypatch.setattr(
            azure_files, "_stage_from_disk", lambda *a: staged.append(a[1:3]) or real(*a)
        )
        name = storage.save("disk.bin", File(handle, name="disk.bin"))
        assert staged == [(handle.fileno(), 0)]  # read from the disk by offset
    puts = [url for method, url, _headers in requests if method == "PUT"]
    assert sum("comp=block&" in url for url in puts) == 8
    assert sum("comp=blocklist" in url for url in puts) == 1
    assert storage.open(name).read() == payload
    entry = {n: (size, md5) for n, size, _m, md5 in storage.list_stored()}
    assert entry[name] == (len(payload), hashlib.md5(payload).hexdigest())
    # Not from the disk: text mode, a File with a read of its own, memory.
    with open(path) as text:
        assert file_on_disk(text) is None
    assert file_on_disk(io.BytesIO(payload)) is None


def test_failed_upload_from_disk_leaves_nothing(options, tmp_path, monkeypatch):
    from django.core.files import File

    from storages.backends.azure_storage import files as azure_files

    requests = Requests()
    storage = make(options, client_options={**SMALL_BLOCKS, "raw_request_hook": requests})
    path = tmp_path / "big.bin"
    path.write_bytes(os.urandom(64 * 1024 * 6))
    real = azure_files.pread_exactly
    calls = []

    def failing(fd, length, offset):
        if length == 64 * 1024 and offset >= 3 * 64 * 1024:  # a worker's block read
            calls.append(offset)
            raise OSError("the disk went away")
        return real(fd, length, offset)

    monkeypatch.setattr(azure_files, "pread_exactly", failing)
    with open(path, "rb") as handle, pytest.raises(OSError, match="the disk went away"):
        storage.save("disk.bin", File(handle, name="disk.bin"))
    assert calls
    assert not any("comp=blocklist" in url for _method, url, _headers in requests)
    assert blob_names(storage) == []


def test_open_modes(options):
    storage = make(options)
    with storage.open("m.txt", "w") as handle:
        assert isinstance(handle, AzureStorageFile)
        handle.write("text")
    with storage.open("m.txt", "r") as handle:
        assert isinstance(handle, AzureStorageFile)
        assert handle.read() == "text"
    for mode in ("a", "r+", "x"):
        with pytest.raises(ValueError):
            storage.open("m.txt", mode)


# --- reads ----------------------------------------------------------------------------


def test_read_is_one_request_and_seek_reads_a_range(options):
    storage = make(options)
    payload = bytes(range(256)) * 4000
    storage.save("r.bin", ContentFile(payload))
    requests = Requests()
    reader = make(options, client_options={**SMALL_BLOCKS, "raw_request_hook": requests})
    with reader.open("r.bin") as handle:
        assert handle.size == len(payload)
        handle.seek(900_000)
        assert handle.read(5) == payload[900_000:900_005]
    ranges = [headers.get("x-ms-range") for method, _p, headers in requests if method == "GET"]
    assert ranges[0] == "bytes=0-65535"  # the first download also gives size and ETag
    assert ranges[1].startswith("bytes=900000-")
    assert all(headers.get("If-Match") for m, _p, headers in requests[1:] if m == "GET")


def test_blob_replaced_mid_read_is_an_error_not_a_mix(options):
    storage = make(options, client_options=SMALL_BLOCKS, overwrite_files=True)
    storage.save("v.bin", ContentFile(b"a" * 200_000))
    with storage.open("v.bin") as handle:
        handle.read(10)
        storage.save("v.bin", ContentFile(b"b" * 200_000))
        handle.seek(150_000)
        with pytest.raises(OSError, match=r"v\.bin"):
            handle.read(10)


def test_missing_blob_and_container_name_file_and_store(options):
    storage = make(options)
    with pytest.raises(FileNotFoundError, match=r"nothing\.txt") as info:
        storage.open("nothing.txt")
    assert options["azure_container"] in str(info.value)
    gone = make(options, azure_container="nosuchcontainer")
    with pytest.raises(FileNotFoundError, match="nosuchcontainer"):
        gone.save("x.txt", ContentFile(b"x"))
    assert not gone.exists("x.txt")


# --- URLs -------------------------------------------------------------------------------


def fetch(url, data=None, method="GET", headers=None):
    request = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return answer.status, answer.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def test_url_makes_no_request(options):
    storage, requests = recording(options, expiration_secs=300)
    storage.url("warm.txt")
    for index in range(50):
        assert "sig=" in storage.url(f"u/{index}.txt")
        storage.url(f"u/{index}.txt", expire=None)
    plain = make(options, client_options={"raw_request_hook": requests})
    assert "?" not in plain.url("p.txt")
    assert requests == []


def test_sas_url_is_checked_by_azurite(options):
    storage = make(options, expiration_secs=60)
    name = storage.save("private/doc one.txt", ContentFile(b"secret doc"))
    url = storage.url(name)
    assert fetch(url) == (200, b"secret doc")
    status, _ = fetch(url.split("?")[0])  # the container is private
    assert status in (403, 404)
    tampered = url.replace("sig=", "sig=A")
    assert fetch(tampered)[0] == 403
    assert fetch(storage.url(name, expire=-60))[0] == 403  # expired a minute ago
    unicode = storage.save("private/ünï cödé 名.txt", ContentFile(b"u"))
    assert fetch(storage.url(unicode)) == (200, b"u")
    storage.save("private/other.txt", ContentFile(b"other"))
    assert fetch(url.replace("doc%20one.txt", "other.txt"))[0] == 403  # signed for one blob


def test_sas_parameters_are_signed(options):
    storage = make(options)
    name = storage.save("report.csv", ContentFile(b"a,b"))
    url = storage.url(name, expire=60, parameters={"content_disposition": "attachment"})
    request = urllib.request.Request(url)
    with urllib.request.urlopen(request, timeout=10) as answer:
        assert answer.headers["Content-Disposition"] == "attachment"


def test_upload_sas_put_over_http(options):
    storage = make(options)
    url = storage.url("uploads/direct.bin", expire=60, mode="w")
    status, _ = fetch(url, b"from the browser", "PUT", {"x-ms-blob-type": "BlockBlob"})
    assert status == 201
    assert storage.open("uploads/direct.bin").read() == b"from the browser"
    read_only = storage.url("uploads/denied.bin", expire=60)
    status, _ = fetch(read_only, b"no", "PUT", {"x-ms-blob-type": "BlockBlob"})
    assert status == 403
    assert not storage.exists("uploads/denied.bin")


def test_plain_urls_custom_domain_and_public_container(azurite_server, options):
    public = azurite_server.create_container(public=True)
    storage = make(options, azure_container=public)
    name = storage.save("pub/a.txt", ContentFile(b"public"))
    assert fetch(storage.url(name)) == (200, b"public")
    cdn = make(options, custom_domain="cdn.example.com", expiration_secs=30)
    url = cdn.url("a b.txt")
    assert url.startswith("http://cdn.example.com/devstoreaccount1/")
    assert "a%20b.txt?" in url and "sig=" in url
    static = AzureStaticStorage(**options)
    assert "?" not in static.url("css/site.css")


def test_sas_token_connection_string_authenticates_and_goes_on_plain_urls(azurite_server, options):
    from azure.storage.blob import ContainerSasPermissions, generate_container_sas

    container = options["azure_container"]
    token = generate_container_sas(
        "devstoreaccount1",
        container,
        account_key=ACCOUNT_KEY,
        permission=ContainerSasPermissions(read=True, write=True, create=True, list=True),
        expiry=datetime.datetime.now(datetime.UTC) + datetime.timedelta(minutes=5),
    )
    connection_string = f"BlobEndpoint={azurite_server.blob_endpoint};SharedAccessSignature={token}"
    storage = AzureStorage(connection_string=connection_string, azure_container=container)
    name = storage.save("via-sas.txt", ContentFile(b"sas"))
    assert storage.open(name).read() == b"sas"
    assert storage.listdir("") == ([], ["via-sas.txt"])
    url = storage.url(name)
    assert url.endswith(f"/{container}/via-sas.txt?{token}")
    assert fetch(url) == (200, b"sas")
    signature = token.split("sig=")[1].split("&")[0]
    assert signature not in repr(storage)


def test_expiring_url_without_key_or_credential_is_refused(azurite_server, options):
    sas_only = AzureStorage(
        account_name="devstoreaccount1",
        sas_token="sv=2024-01-01&sig=abc",
        azure_container="c",
    )
    assert sas_only.url("x.txt").endswith("/c/x.txt?sv=2024-01-01&sig=abc")
    with pytest.raises(ImproperlyConfigured, match="AZURE_ACCOUNT_KEY"):
        sas_only.url("x.txt", expire=60)


# --- configuration: django-storages style ------------------------------------------


def test_django_storages_style_subclass_and_settings(azurite_server, azure_container):
    container = azure_container

    class MediaStorage(AzureStorage):
        azure_container = container
        location = "media"
        expiration_secs = None

    with override_settings(AZURE_CONNECTION_STRING=azurite_server.connection_string()):
        storage = MediaStorage()
        name = storage.save("a.txt", ContentFile(b"a"))
        assert storage.open(name).read() == b"a"
        assert storage.url(name).endswith(f"/{azure_container}/media/a.txt")
        assert storage.list_all() == ["media/a.txt"]
        assert storage.listdir("") == ([], ["a.txt"])
        assert storage.service_client.account_name == "devstoreaccount1"
        assert storage.account_key == ACCOUNT_KEY  # from the connection string, for SAS


def test_django_storages_get_default_settings_override(azurite_server, azure_container):
    class Custom(AzureStorage):
        def get_default_settings(self):
            defaults = super().get_default_settings()
            defaults["azure_container"] = azure_container
            defaults["connection_string"] = azurite_server.connection_string()
            return defaults

    storage = Custom()
    assert storage.open(storage.save("c.txt", ContentFile(b"c"))).read() == b"c"


def test_global_settings_and_storages_options(azurite_server, azure_container):
    with override_settings(
        AZURE_CONNECTION_STRING=azurite_server.connection_string(),
        AZURE_CONTAINER=azure_container,
        AZURE_LOCATION="site",
        AZURE_OVERWRITE_FILES=True,
        AZURE_CACHE_CONTROL="public, max-age=60",
        AZURE_OBJECT_PARAMETERS={"content_disposition": "inline"},
        AZURE_URL_EXPIRATION_SECS=120,
        STORAGES={
            "default": {"BACKEND": "storages.backends.azure_storage.AzureStorage"},
            "staticfiles": {
                "BACKEND": "storages.backends.azure_storage.AzureStaticStorage",
                "OPTIONS": {"location": "static"},
            },
        },
    ):
        media, static = storages["default"], storages["staticfiles"]
        assert media.save("x.txt", ContentFile(b"1")) == "x.txt"
        assert media.save("x.txt", ContentFile(b"2")) == "x.txt"
        props = media.client.get_blob_client("site/x.txt").get_blob_properties()
        assert props.content_settings.cache_control == "public, max-age=60"
        assert props.content_settings.content_disposition == "inline"
        assert props.content_settings.content_type == "text/plain"
        assert "se=" in media.url("x.txt")
        assert static.location == "static" and "?" not in static.url("x.css")


def test_deprecated_api_version_and_unknown_option(options):
    storage = make(options, api_version="2021-08-06")
    with pytest.warns(DeprecationWarning, match="AZURE_CLIENT_OPTIONS"):
        assert storage.service_client.api_version == "2021-08-06"
    with pytest.raises(ImproperlyConfigured, match="no option 'bucket_name'"):
        AzureStorage(bucket_name="x")


def test_missing_container_is_a_clear_error():
    with pytest.raises(ImproperlyConfigured, match="AZURE_CONTAINER"):
        AzureStorage(connection_string="BlobEndpoint=http://127.0.0.1:9/a;").exists("x")


def test_secrets_masked_in_repr_errors_and_logs(azurite_server, options, caplog):
    caplog.set_level(logging.DEBUG)
    wrong = "QmFkS2V5QmFkS2V5QmFkS2V5QmFkS2V5QmFkS2V5QmFkS2V5QmFkS2V5QmFkS2V5QQ=="
    storage = make(options, connection_string=azurite_server.connection_string(wrong))
    with pytest.raises(AzureStorageError) as info:
        storage.exists("x.txt")
    sas = make(
        options,
        sas_token="sv=2024&sig=TopSecretSignature",
        connection_string=None,
        account_name="devstoreaccount1",
    )
    for text in (str(info.value), repr(storage), repr(sas), caplog.text):
        assert wrong not in text and ACCOUNT_KEY not in text
        assert "TopSecretSignature" not in text
    assert "'x.txt'" in str(info.value) and options["azure_container"] in str(info.value)
    revived = pickle.loads(pickle.dumps(info.value))
    assert str(revived) == str(info.value) and isinstance(revived, AzureStorageError)


# --- beyond Django's API -------------------------------------------------------------


def test_delete_many_and_list_stored(options):
    storage, requests = recording(options, location="lst")
    names = [storage.save(f"d/{index}.txt", ContentFile(b"x" * index)) for index in range(5)]
    stored = sorted(storage.list_stored())
    assert [(name, size) for name, size, _m, _e in stored] == [(n, i) for i, n in enumerate(names)]
    assert all(len(etag) == 32 and moment.tzinfo for _n, _s, moment, etag in stored)
    del requests[:]
    storage.delete_many([*names[:3], "d/missing.txt"])
    assert len(requests) == 1  # one blob batch
    assert storage.listdir("d") == ([], ["3.txt", "4.txt"])


def test_manifest_static_storage_deconstructs(options):
    storage = AzureManifestStaticStorage(**options)
    assert storage.deconstruct()[0] == (
        "storages.backends.azure_storage.AzureManifestStaticStorage"
    )
    assert storage.overwrite_files is True


def test_no_connection_left_the_machine(options):
    # Every test here runs under loopback_only, which refuses any other address.
    start = len(_connected)
    storage = make(options, expiration_secs=60)
    name = storage.save("n.txt", ContentFile(b"n"))
    assert fetch(storage.url(name)) == (200, b"n")
    seen = {address[0] for address in _connected[start:] if isinstance(address, tuple)}
    assert seen == {"127.0.0.1"}
    with pytest.raises(AssertionError, match="tried to reach"):
        socket.create_connection(("192.0.2.1", 443), timeout=0.1)


# --- our collectstatic into Azurite ----------------------------------------------------

STATIC_FILES = {
    "css/site.css": 'body { background: url("../img/logo.png"); }\n',
    "img/logo.png": "\x89PNG not really",
    "app.js": "console.log('hi');\n",
    "js/vendor/lib.js": "var lib = 1;\n",
}


@pytest.fixture
def collect(tmp_path, options):
    """``(configure, requests)``: settings for collectstatic into a fresh container."""
    root = tmp_path / "static-src"
    for name, text in STATIC_FILES.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    requests = Requests()

    def configure(backend="storages.backends.azure_storage.AzureStaticStorage"):
        static_options = {**options, "client_options": {"raw_request_hook": requests}}
        return override_settings(
            STORAGES={
                "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
                "staticfiles": {"BACKEND": backend, "OPTIONS": static_options},
            },
            STATICFILES_DIRS=[str(root)],
            STATICFILES_FINDERS=["django.contrib.staticfiles.finders.FileSystemFinder"],
        )

    return configure, requests, root


def collectstatic():
    from django.core.management import call_command

    out = io.StringIO()
    call_command("collectstatic", interactive=False, verbosity=1, stdout=out)
    return out.getvalue()


def touch_all(root, seconds_ahead=10):
    import os
    import time

    later = time.time() + seconds_ahead
    for path in root.rglob("*"):
        if path.is_file():
            os.utime(path, (later, later))


def test_collectstatic_uploads_once_then_lists_once(collect):
    configure, requests, root = collect
    with configure():
        assert "4 static files copied." in collectstatic()
        puts = sorted(u.split("?")[0].rsplit("/", 1)[-1] for m, u, _h in requests if m == "PUT")
        assert puts == sorted(name.rsplit("/", 1)[-1] for name in STATIC_FILES)
        assert not [u for m, u, _h in requests if m in ("GET", "HEAD") and "comp=list" not in u]
        touch_all(root)  # new mtimes (a fresh checkout): still unchanged, by MD5
        del requests[:]
        assert "0 static files copied, 4 unmodified." in collectstatic()
        assert len(requests) == 1 and "comp=list" in requests[0][1]
        (root / "js/vendor/lib.js").write_text("var lib = 2;\n")  # same size, new bytes
        del requests[:]
        assert "1 static file copied, 3 unmodified." in collectstatic()
        assert storages["staticfiles"].open("js/vendor/lib.js").read() == b"var lib = 2;\n"


def test_collectstatic_with_the_manifest_storage(collect):
    configure, requests, root = collect
    with configure("storages.backends.azure_storage.AzureManifestStaticStorage"):
        out = collectstatic()
        assert "4 static files copied" in out and "post-processed" in out
        puts = [u.split("?")[0] for m, u, _h in requests if m == "PUT"]
        assert puts[-1].endswith("/staticfiles.json")
        static = storages["staticfiles"]
        import json

        manifest = json.loads(static.open("staticfiles.json").read())
        assert static.url("css/site.css").endswith(manifest["paths"]["css/site.css"])
        touch_all(root)
        del requests[:]
        assert "0 static files copied, 4 unmodified." in collectstatic()
        assert not [m for m, _u, _h in requests if m == "PUT"]


def test_system_check_reports_a_missing_container():
    from django.core.checks import run_checks

    with override_settings(
        STORAGES={
            "default": {
                "BACKEND": "storages.backends.azure_storage.AzureStorage",
                "OPTIONS": {"connection_string": "BlobEndpoint=http://127.0.0.1:9/a;"},
            },
            "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
        }
    ):
        messages = [m for m in run_checks() if m.id == "storages.E002"]
    assert len(messages) == 1 and "AZURE_CONTAINER" in messages[0].msg


def test_account_name_and_key_build_the_public_endpoint_without_a_request():
    # Built as text only: nothing here is ever sent (loopback_only would refuse it).
    storage = AzureStorage(account_name="acct", account_key=ACCOUNT_KEY, azure_container="c")
    assert storage.url("a b.txt") == "https://acct.blob.core.windows.net/c/a%20b.txt"
    assert storage.client.url == "https://acct.blob.core.windows.net/c"
    signed = storage.url("a.txt", expire=60)
    assert signed.startswith("https://acct.blob.core.windows.net/c/a.txt?se=")
    assert "sp=r" in signed and "sr=b" in signed and "sig=" in signed
    other = AzureStorage(
        account_name="acct",
        account_key=ACCOUNT_KEY,
        azure_container="c",
        azure_ssl=False,
        endpoint_suffix="core.chinacloudapi.cn",
        location="m",
    )
    assert other.url("x.txt") == "http://acct.blob.core.chinacloudapi.cn/c/m/x.txt"
    assert "sp=w" in other.url("up.bin", expire=60, mode="w")


class TestServerLoss(ServerLossScenario):
    # Blocks of 64 KiB: the crash comes while the content is being read, the upload
    # then meets a dead server; the SDK's retries are cut short to keep this fast.
    upload_error = AzureStorageError

    @pytest.fixture
    def own_server(self, tmp_path):
        server = start_azurite(location=str(tmp_path / "azurite"))
        container = server.create_container()
        options = {
            "connection_string": server.connection_string(),
            "azure_container": container,
            "client_options": {
                **SMALL_BLOCKS,
                "retry_total": 1,
                "initial_backoff": 0.1,
                "increment_base": 1,
                "random_jitter_range": 0.1,
                "connection_timeout": 2,
            },
        }
        # SIGTERM: Azurite keeps its metadata in a database it saves at intervals
        # and on shutdown; a SIGKILL would lose the container itself.
        yield OwnServer(server.process, lambda: AzureStorage(**options), crash=server.process.stop)
        server.stop()


def test_storage_copy_and_sync_between_local_disk_and_azure(tmp_path, options):
    from django.core.management import call_command

    source = tmp_path / "src"
    for name in ("a.txt", "d/b.txt", "d/e/c.bin"):
        (source / name).parent.mkdir(parents=True, exist_ok=True)
        (source / name).write_bytes(name.encode() * 100)
    with override_settings(
        STORAGES={
            "default": {
                "BACKEND": "storages.backends.azure_storage.AzureStorage",
                "OPTIONS": options,
            },
            "local": {
                "BACKEND": "django.core.files.storage.FileSystemStorage",
                "OPTIONS": {"location": str(source)},
            },
            "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
        }
    ):
        call_command("storage_copy", "local", "default", stdout=io.StringIO())
        azure = storages["default"]
        assert blob_names(azure) == ["a.txt", "d/b.txt", "d/e/c.bin"]
        assert azure.open("d/e/c.bin").read() == b"d/e/c.bin" * 100
        (source / "a.txt").unlink()
        call_command("storage_sync", "local", "default", "--delete", stdout=io.StringIO())
        assert blob_names(azure) == ["d/b.txt", "d/e/c.bin"]
