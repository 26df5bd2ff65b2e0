"""The three local-disk backends against the contract, plus what is special to each."""

from __future__ import annotations

import os
import threading

import pytest
from django.core.exceptions import ImproperlyConfigured, SuspiciousFileOperation
from django.core.files import File
from django.core.files.base import ContentFile

from storages.backends.image import ImageStorage, NotAnImageError
from storages.backends.overwrite import OverwriteStorage
from storages.backends.symlinkorcopy import SymlinkOrCopyStorage
from tests.contract import StorageContract, tiny_png


class LocalDiskContract(StorageContract):
    @pytest.fixture
    def backend_options(self, tmp_path):
        return {"location": str(tmp_path / "media"), "base_url": "/media/"}

    @pytest.fixture
    def backend_settings(self, backend_options):
        return {"MEDIA_ROOT": backend_options["location"], "MEDIA_URL": "/media/"}


class TestOverwriteContract(LocalDiskContract):
    backend = "storages.backends.overwrite.OverwriteStorage"
    overwrites = True


class TestSymlinkOrCopyContract(LocalDiskContract):
    backend = "storages.backends.symlinkorcopy.SymlinkOrCopyStorage"


class TestImageContract(LocalDiskContract):
    backend = "storages.backends.image.ImageStorage"
    default_field = "default_image"
    accepts_any_content = False

    def sample(self, payload: bytes) -> bytes:
        # Pillow identifies by the header; the payload rides after the PNG's end.
        return tiny_png() + payload

    def stored_name(self, name: str) -> str:
        return os.path.splitext(name)[0] + ".png"


class FailingContent(ContentFile):
    """Content whose reading breaks half-way, like a dropped upload."""

    def chunks(self, chunk_size=None):
        yield b"first half"
        raise OSError("connection reset by peer")


class TestOverwrite:
    def test_replaces_without_suffix(self, tmp_path):
        storage = OverwriteStorage(location=tmp_path)
        assert storage.save("a/b.txt", ContentFile(b"one")) == "a/b.txt"
        assert storage.save("a/b.txt", ContentFile(b"two")) == "a/b.txt"
        assert (tmp_path / "a/b.txt").read_bytes() == b"two"
        assert os.listdir(tmp_path / "a") == ["b.txt"]

    def test_failed_save_keeps_old_file_and_leaves_no_temporary(self, tmp_path):
        storage = OverwriteStorage(location=tmp_path)
        storage.save("doc.txt", ContentFile(b"old content"))
        with pytest.raises(OSError, match="connection reset"):
            storage.save("doc.txt", FailingContent(b""))
        assert (tmp_path / "doc.txt").read_bytes() == b"old content"
        assert os.listdir(tmp_path) == ["doc.txt"]

    def test_readers_never_see_a_partial_file(self, tmp_path):
        storage = OverwriteStorage(location=tmp_path)
        versions = [bytes([65 + i]) * (512 * 1024) for i in range(4)]
        storage.save("big.bin", ContentFile(versions[0]))
        stop = threading.Event()
        seen: set[bytes] = set()

        def read_repeatedly():
            while not stop.is_set():
                seen.add((tmp_path / "big.bin").read_bytes())

        reader = threading.Thread(target=read_repeatedly)
        reader.start()
        for version in versions * 5:
            storage.save("big.bin", ContentFile(version))
        stop.set()
        reader.join()
        assert seen <= set(versions)

    def test_respects_file_permissions_mode(self, tmp_path):
        storage = OverwriteStorage(location=tmp_path, file_permissions_mode=0o640)
        storage.save("mode.txt", ContentFile(b"x"))
        assert (tmp_path / "mode.txt").stat().st_mode & 0o777 == 0o640

    def test_max_length_is_enforced(self, tmp_path):
        from django.core.exceptions import SuspiciousFileOperation

        storage = OverwriteStorage(location=tmp_path)
        with pytest.raises(SuspiciousFileOperation, match="longer than 10"):
            storage.save("a-rather-long-name.txt", ContentFile(b"x"), max_length=10)


class TestDjangoCallers:
    def test_absolute_paths_inside_the_location_work_as_in_django(self, tmp_path):
        storage = OverwriteStorage(location=tmp_path)
        storage.save("a/b.txt", ContentFile(b"x"))
        assert storage.exists(storage.location)  # what collectstatic asks
        assert storage.exists(os.path.join(storage.location, "a", "b.txt"))
        for outside in ("/etc/passwd", str(tmp_path) + "-other/x", str(tmp_path / "../x")):
            with pytest.raises(SuspiciousFileOperation):
                storage.exists(outside)

    def test_djangos_own_collectstatic_runs(self, tmp_path, settings):
        from django.contrib.staticfiles.management.commands.collectstatic import (
            Command as DjangoCollectstatic,
        )
        from django.core.management import call_command

        (tmp_path / "src" / "css").mkdir(parents=True)
        (tmp_path / "src" / "css" / "site.css").write_text("body {}")
        settings.STATICFILES_DIRS = [str(tmp_path / "src")]
        settings.STORAGES = {
            "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
            "staticfiles": {
                "BACKEND": "storages.backends.overwrite.OverwriteStorage",
                "OPTIONS": {"location": str(tmp_path / "static")},
            },
        }
        call_command(DjangoCollectstatic(), interactive=False, verbosity=0)
        call_command(DjangoCollectstatic(), interactive=False, verbosity=0)  # over existing
        assert (tmp_path / "static" / "css" / "site.css").read_text() == "body {}"


class TestSymlinkOrCopy:
    def test_file_under_symlink_within_is_linked(self, tmp_path):
        originals = tmp_path / "originals"
        originals.mkdir()
        (originals / "song.mp3").write_bytes(b"music")
        storage = SymlinkOrCopyStorage(location=tmp_path / "media", symlink_within=[originals])
        with open(originals / "song.mp3", "rb") as handle:
            name = storage.save("songs/song.mp3", File(handle))
        stored = tmp_path / "media" / name
        assert stored.is_symlink()
        assert os.path.realpath(stored) == str((originals / "song.mp3").resolve())
        assert storage.open(name).read() == b"music"

    def test_file_elsewhere_is_copied(self, tmp_path):
        elsewhere = tmp_path / "elsewhere"
        elsewhere.mkdir()
        (elsewhere / "doc.txt").write_bytes(b"doc")
        storage = SymlinkOrCopyStorage(
            location=tmp_path / "media", symlink_within=str(tmp_path / "originals")
        )
        with open(elsewhere / "doc.txt", "rb") as handle:
            name = storage.save("doc.txt", File(handle))
        stored = tmp_path / "media" / name
        assert not stored.is_symlink()
        assert stored.read_bytes() == b"doc"

    def test_prefix_lookalike_directory_is_not_inside(self, tmp_path):
        # "/x/originals-evil" starts with "/x/originals" but is not under it.
        (tmp_path / "originals").mkdir()
        lookalike = tmp_path / "originals-evil"
        lookalike.mkdir()
        (lookalike / "f.txt").write_bytes(b"f")
        storage = SymlinkOrCopyStorage(
            location=tmp_path / "media", symlink_within=[tmp_path / "originals"]
        )
        with open(lookalike / "f.txt", "rb") as handle:
            name = storage.save("f.txt", File(handle))
        assert not (tmp_path / "media" / name).is_symlink()

    def test_symlinked_root_is_resolved(self, tmp_path):
        real = tmp_path / "real"
        real.mkdir()
        (real / "f.txt").write_bytes(b"f")
        (tmp_path / "alias").symlink_to(real)
        storage = SymlinkOrCopyStorage(
            location=tmp_path / "media", symlink_within=[tmp_path / "alias"]
        )
        with open(real / "f.txt", "rb") as handle:
            name = storage.save("f.txt", File(handle))
        assert (tmp_path / "media" / name).is_symlink()

    def test_a_name_alone_is_not_a_file_on_disk(self, tmp_path, monkeypatch):
        originals = tmp_path / "originals"
        originals.mkdir()
        (originals / "secret.txt").write_bytes(b"not this")
        monkeypatch.chdir(originals)
        storage = SymlinkOrCopyStorage(location=tmp_path / "media", symlink_within=[originals])
        name = storage.save("secret.txt", ContentFile(b"uploaded", name="secret.txt"))
        stored = tmp_path / "media" / name
        assert not stored.is_symlink()
        assert stored.read_bytes() == b"uploaded"

    def test_setting_is_read(self, tmp_path, settings):
        settings.SYMLINK_WITHIN = f"{tmp_path / 'a'}{os.pathsep}{tmp_path / 'b'}"
        storage = SymlinkOrCopyStorage(location=tmp_path / "media")
        assert storage.symlink_within == [str(tmp_path / "a"), str(tmp_path / "b")]


class TestImage:
    def test_extension_follows_real_format(self, tmp_path):
        storage = ImageStorage(location=tmp_path)
        assert storage.save("photo.JPG", ContentFile(tiny_png())) == "photo.png"
        assert (tmp_path / "photo.png").read_bytes() == tiny_png()

    def test_matching_extension_is_lower_cased_and_kept(self, tmp_path):
        from io import BytesIO

        from PIL import Image

        jpeg = BytesIO()
        Image.new("RGB", (2, 2)).save(jpeg, "JPEG")
        storage = ImageStorage(location=tmp_path)
        assert storage.save("a.JPEG", ContentFile(jpeg.getvalue())) == "a.jpeg"
        assert storage.save("b.gif", ContentFile(jpeg.getvalue())) == "b.jpg"
        assert storage.save("noext", ContentFile(tiny_png())) == "noext.png"

    def test_not_an_image_is_refused_and_nothing_written(self, tmp_path):
        storage = ImageStorage(location=tmp_path)
        with pytest.raises(NotAnImageError, match=r"'notes/readme\.png' is not an image"):
            storage.save("notes/readme.png", ContentFile(b"just text"))
        assert not any(path.is_file() for path in tmp_path.rglob("*"))


class TestOptions:
    @pytest.mark.parametrize("storage_cls", [OverwriteStorage, SymlinkOrCopyStorage, ImageStorage])
    def test_unknown_option_names_it(self, storage_cls):
        with pytest.raises(ImproperlyConfigured, match="no option 'bucket_name'"):
            storage_cls(bucket_name="x")

    def test_deconstruct_for_migrations(self, tmp_path):
        storage = SymlinkOrCopyStorage(location=str(tmp_path), symlink_within=["/srv/x"])
        path, _args, kwargs = storage.deconstruct()
        assert path == "storages.backends.symlinkorcopy.SymlinkOrCopyStorage"
        assert kwargs == {"location": str(tmp_path), "symlink_within": ["/srv/x"]}


@pytest.mark.parametrize("storage_class", [OverwriteStorage, SymlinkOrCopyStorage, ImageStorage])
def test_url_stays_under_its_base(storage_class, tmp_path):
    from urllib.parse import urlsplit

    from tests.contract import ROOT_NAMES, UNSAFE_NAMES, URL_ATTACKS

    base = "https://cdn.example.com/media/"
    storage = storage_class(location=str(tmp_path), base_url=base)
    absolute_inside = str(tmp_path / "x.txt")  # save() refuses absolute names: so does url()
    for name in URL_ATTACKS + UNSAFE_NAMES + ROOT_NAMES + ["a/../b.txt", "a/", absolute_inside]:
        with pytest.raises(SuspiciousFileOperation):
            storage.url(name)
    for name in ["a b/c.txt", "a//c.txt", "x:y.txt", "?q#f.txt", "%2e%2e/x", "a\\c.txt"]:
        url = storage.url(name)
        parts = urlsplit(url)
        assert url.startswith(base), url
        assert (parts.scheme, parts.netloc) == ("https", "cdn.example.com"), url
        assert not parts.query and not parts.fragment, url
        assert ".." not in parts.path.split("/"), url
    assert storage.url("a b/c.txt") == base + "a%20b/c.txt"


def test_names_of_the_location_itself_are_refused_but_it_still_lists(tmp_path):
    storage = OverwriteStorage(location=str(tmp_path / "media"))
    storage.save("kept.txt", ContentFile(b"kept"))
    for name in ["", ".", "a/..", str(tmp_path / "media")]:
        with pytest.raises(SuspiciousFileOperation):
            storage.delete(name)  # os.rmdir() of the location, when it was empty
        with pytest.raises(SuspiciousFileOperation):
            storage.open(name)
    # What Django's collectstatic asks of the location stays answered.
    assert storage.path("") == str(tmp_path / "media")
    assert storage.exists("") and storage.exists(str(tmp_path / "media"))
    assert storage.listdir("") == ([], ["kept.txt"])
