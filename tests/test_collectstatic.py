"""Our collectstatic on a real SeaweedFS: one listing, only changed files sent, manifest last.

Requests are counted on the storage's own client's HTTP session (botocore's
requests and storages' direct uploads alike).
"""

from __future__ import annotations

import io
import json
import os
import time
import uuid

import boto3
import pytest
from django.contrib.staticfiles.storage import staticfiles_storage
from django.core.checks import run_checks
from django.core.management import call_command, get_commands
from django.core.management.base import CommandError
from django.test import override_settings

from storages.management.commands.collectstatic import real_storage
from tests.servers.s3 import create_bucket, watched_sends

BUCKET = "collect"
MANIFEST = "storages.backends.s3.S3ManifestStaticStorage"
STATIC = "storages.backends.s3.S3StaticStorage"


@pytest.fixture(scope="session")
def bucket(seaweedfs_server):
    create_bucket(seaweedfs_server, BUCKET)
    return BUCKET


@pytest.fixture
def static_dir(tmp_path):
    root = tmp_path / "static-src"
    files = {
        "css/site.css": 'body { background: url("../img/logo.png"); }\n',
        "img/logo.png": "\x89PNG not really",
        "app.js": "console.log('hi');\n",
        "js/vendor/lib.js": "var lib = 1;\n",
        "notes.txt~": "editor backup, ignored by default\n",
        "drafts/skip.txt": "ignored with --ignore drafts\n",
    }
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return root


COLLECTED = ["app.js", "css/site.css", "drafts/skip.txt", "img/logo.png", "js/vendor/lib.js"]


class Requests:
    """Every request the storage's client sends: (method, key, query)."""

    def __init__(self):
        self.sent: list[tuple[str, str, str]] = []

    def __call__(self, request):
        from urllib.parse import unquote, urlsplit

        parts = urlsplit(request.url)
        key = unquote(parts.path).split(f"/{BUCKET}/", 1)[-1] if f"/{BUCKET}" in parts.path else ""
        self.sent.append((request.method, key, parts.query))

    def puts(self, location):
        return [key[len(location) + 1 :] for method, key, _ in self.sent if method == "PUT"]

    def per_file(self):
        """Requests about one object (HEAD, GET of a key): none are wanted."""
        return [(m, k) for m, k, q in self.sent if m in ("HEAD", "GET") and "list-type" not in q]


@pytest.fixture
def collect_env(seaweedfs_server, bucket, static_dir):
    """Run collectstatic into a fresh prefix; return (run, location)."""
    location = f"c-{uuid.uuid4().hex}"

    def configure(backend=STATIC, **extra_options):
        options = {
            **seaweedfs_server.client_options(),
            "bucket_name": bucket,
            "location": location,
            **extra_options,
        }
        return override_settings(
            STORAGES={
                "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
                "staticfiles": {"BACKEND": backend, "OPTIONS": options},
            },
            STATICFILES_DIRS=[str(static_dir)],
            STATICFILES_FINDERS=["django.contrib.staticfiles.finders.FileSystemFinder"],
        )

    return configure, location


def run(*args, stderr=None, **options):
    """collectstatic; return (stdout, stderr, requests)."""
    requests = Requests()
    out, err = io.StringIO(), stderr or io.StringIO()
    with watched_sends(real_storage(staticfiles_storage), requests):
        call_command("collectstatic", *args, interactive=False, stdout=out, stderr=err, **options)
    return out.getvalue(), err.getvalue() if hasattr(err, "getvalue") else "", requests


def stored_keys(server, location):
    client = boto3.client("s3", **server.boto3_kwargs())
    pages = client.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=location + "/")
    return sorted(e["Key"][len(location) + 1 :] for p in pages for e in p.get("Contents", ()))


def touch_all(root, seconds_ahead=10):
    later = time.time() + seconds_ahead
    for path in root.rglob("*"):
        if path.is_file():
            os.utime(path, (later, later))


def test_ours_is_the_collectstatic_command():
    assert get_commands()["collectstatic"] == "storages"


def test_cold_run_then_unchanged_rerun(collect_env, static_dir, seaweedfs_server):
    configure, location = collect_env
    with configure():
        out, _, requests = run(verbosity=1)
        assert "5 static files copied." in out
        assert sorted(requests.puts(location)) == COLLECTED
        assert requests.per_file() == []
        assert stored_keys(seaweedfs_server, location) == COLLECTED
        # New mtimes (a fresh checkout or image build) do not make files "changed".
        touch_all(static_dir)
        out, _, requests = run(verbosity=1)
        assert "0 static files copied, 5 unmodified." in out
        assert requests.puts(location) == []
        assert requests.per_file() == []
        assert len(requests.sent) == 1  # the one listing (SeaweedFS pages by 1,000)


def test_changed_file_is_the_only_upload(collect_env, static_dir):
    configure, _location = collect_env
    with configure():
        run()
        (static_dir / "app.js").write_text("console.log('hi'); // same size? no\n")
        (static_dir / "js/vendor/lib.js").write_text("var lib = 2;\n")  # same size, new bytes
        out, _, requests = run(verbosity=1)
        assert "2 static files copied, 3 unmodified." in out
        assert sorted(requests.puts(_location)) == ["app.js", "js/vendor/lib.js"]
        assert staticfiles_storage.open("js/vendor/lib.js").read() == b"var lib = 2;\n"


def test_manifest_hashed_locally_and_uploaded_last(collect_env, static_dir, seaweedfs_server):
    configure, location = collect_env
    with configure(backend=MANIFEST):
        out, _, requests = run(verbosity=1)
        assert "5 static files copied" in out and "post-processed" in out
        puts = requests.puts(location)
        assert puts[-1] == "staticfiles.json"
        assert requests.per_file() == []  # nothing read back from the store
        stored = stored_keys(seaweedfs_server, location)
        assert len(stored) == 11  # 5 originals, 5 hashed copies, the manifest
        assert sorted(puts) == stored
        manifest = json.loads(staticfiles_storage.open("staticfiles.json").read())
        hashed_css = manifest["paths"]["css/site.css"]
        hashed_logo = manifest["paths"]["img/logo.png"]
        # The storage the site uses knows the new names at once.
        assert staticfiles_storage.url("css/site.css").endswith(hashed_css)
        css = staticfiles_storage.open(hashed_css).read().decode()
        assert hashed_logo.split("/")[-1] in css

        touch_all(static_dir)
        out, _, requests = run(verbosity=1)
        assert "0 static files copied, 5 unmodified." in out
        assert requests.puts(location) == [] and requests.per_file() == []

        # A changed image: its original, its hashed copy, the CSS that names it, the manifest.
        (static_dir / "img/logo.png").write_text("\x89PNG a new logo")
        out, _, requests = run(verbosity=1)
        puts = requests.puts(location)
        assert puts[-1] == "staticfiles.json"
        assert "img/logo.png" in puts and len(puts) == 4, puts
        assert any(p.startswith("css/site.") and p != "css/site.css" for p in puts)
        assert "1 static file copied, 4 unmodified" in out
        new_manifest = json.loads(staticfiles_storage.open("staticfiles.json").read())
        assert new_manifest["paths"]["img/logo.png"] != hashed_logo
    # A fresh storage reads the new manifest back from the bucket.
    with configure(backend=MANIFEST):
        assert staticfiles_storage.url("img/logo.png").endswith(
            new_manifest["paths"]["img/logo.png"]
        )


def test_failed_upload_keeps_the_old_manifest(collect_env, static_dir):
    configure, _location = collect_env
    with configure(backend=MANIFEST):
        run()
        old = staticfiles_storage.open("staticfiles.json").read()
        (static_dir / "app.js").write_text("console.log('v2');\n")

        def refuse(request):
            if request.method == "PUT" and "/app." in request.url:
                raise ConnectionResetError("the network went away")

        with (
            watched_sends(real_storage(staticfiles_storage), refuse),
            pytest.raises(CommandError, match="could not be uploaded; the manifest"),
        ):
            run()
        assert staticfiles_storage.open("staticfiles.json").read() == old


def test_dry_run_sends_nothing(collect_env, seaweedfs_server):
    configure, location = collect_env
    with configure(backend=MANIFEST):
        out, _, requests = run("--dry-run", verbosity=1)
        assert "Pretending to copy 'app.js'" in out
        assert "5 static files copied" in out
        assert [m for m, _k, _q in requests.sent if m != "GET"] == []
        assert stored_keys(seaweedfs_server, location) == []


def test_clear_and_ignore(collect_env, seaweedfs_server):
    configure, location = collect_env
    with configure():
        run()
        staticfiles_storage.save("stale/old.css", io.BytesIO(b"old"))
        out, _, requests = run("--clear", "--ignore", "drafts", verbosity=2)
        assert "Deleting 'stale/old.css'" in out
        assert "4 static files copied." in out
        expected = [name for name in COLLECTED if not name.startswith("drafts/")]
        assert stored_keys(seaweedfs_server, location) == expected
        assert requests.per_file() == []
        # The clear is one DeleteObjects request, not a DELETE per file.
        deletes = [
            (method, query) for method, _key, query in requests.sent if method in ("DELETE", "POST")
        ]
        assert deletes == [("POST", "delete")]


def test_verbosity_0_is_silent_and_progress_only_on_a_terminal(collect_env):
    configure, _location = collect_env

    class Terminal(io.StringIO):
        def isatty(self):
            return True

    with configure():
        terminal = Terminal()
        out, _, _ = run(verbosity=0, stderr=terminal)
        assert out == "" and terminal.getvalue() == ""
        terminal = Terminal()
        out, _, _ = run("--clear", verbosity=1, stderr=terminal)
        assert "5/5 files" in terminal.getvalue()
        out, err, _ = run("--clear", verbosity=1)  # not a terminal: no progress line
        assert "files," not in err


def test_workers_option_and_setting(collect_env, seaweedfs_server):
    configure, _location = collect_env
    with configure(), override_settings(STORAGES_COLLECTSTATIC_WORKERS=1):
        out, _, _ = run(verbosity=1)
        assert "5 static files copied." in out
    with configure(), pytest.raises(CommandError, match="at least 1"):
        run("--workers", "0")


def test_storage_that_does_not_overwrite(collect_env, static_dir):
    """A plain S3Storage keeps both files on a same-name save: a changed file is replaced."""
    configure, _location = collect_env
    with configure(backend="storages.backends.s3.S3Storage", file_overwrite=False):
        run()
        (static_dir / "app.js").write_text("console.log('again');\n")
        out, _, _requests = run(verbosity=1)
        assert "1 static file copied, 4 unmodified." in out
        assert staticfiles_storage.open("app.js").read() == b"console.log('again');\n"
        assert not any(name.startswith("app_") for name in staticfiles_storage.listdir("")[1])


@pytest.mark.parametrize(
    "backend",
    [
        "django.contrib.staticfiles.storage.StaticFilesStorage",
        "django.contrib.staticfiles.storage.ManifestStaticFilesStorage",
        "storages.backends.overwrite.OverwriteStorage",
    ],
)
def test_local_disk_storages_are_django_collectstatic(backend, static_dir, tmp_path):
    root = tmp_path / "collected"
    storages = {
        "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
        "staticfiles": {"BACKEND": backend, "OPTIONS": {"location": str(root)}},
    }
    with override_settings(
        STORAGES=storages,
        STATICFILES_DIRS=[str(static_dir)],
        STATIC_ROOT=str(root),
        # Only the test's files (the storages app ships a script of its own).
        STATICFILES_FINDERS=["django.contrib.staticfiles.finders.FileSystemFinder"],
    ):
        out = io.StringIO()
        call_command("collectstatic", interactive=False, verbosity=1, stdout=out)
        assert "5 static files copied" in out.getvalue()
        assert (root / "css" / "site.css").exists()
        out = io.StringIO()
        call_command("collectstatic", interactive=False, verbosity=1, stdout=out)
        assert "0 static files copied" in out.getvalue()


def test_system_check_warns_when_staticfiles_comes_first(collect_env):
    configure, _location = collect_env
    wrong_order = [
        "django.contrib.auth",
        "django.contrib.contenttypes",
        "django.contrib.staticfiles",
        "storages",
    ]
    with configure():
        assert not [m for m in run_checks() if m.id == "storages.W010"]
        with override_settings(INSTALLED_APPS=wrong_order):
            warnings = [m for m in run_checks() if m.id == "storages.W010"]
            assert len(warnings) == 1
            assert "before 'django.contrib.staticfiles'" in warnings[0].hint
    with override_settings(
        INSTALLED_APPS=wrong_order,
        STORAGES={
            "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
            "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
        },
    ):
        assert not [m for m in run_checks() if m.id == "storages.W010"]


def test_listing_pages_are_parsed_like_botocore():
    from storages.backends.s3.listing import parse_listing

    page = (
        b'<?xml version="1.0" encoding="UTF-8"?>'
        b'<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">'
        b"<Name>b</Name><Prefix>p/</Prefix><EncodingType>url</EncodingType>"
        b"<IsTruncated>true</IsTruncated><NextContinuationToken>tok+/=</NextContinuationToken>"
        b"<Contents><Key>p/a+b%C3%BC%2B.css</Key><LastModified>2024-05-01T10:20:30.000Z"
        b"</LastModified><ETag>&quot;0123456789abcdef0123456789abcdef&quot;</ETag>"
        b"<Size>42</Size><StorageClass>STANDARD</StorageClass></Contents>"
        b"</ListBucketResult>"
    )
    entries, token = parse_listing(page)
    assert token == "tok+/="
    [(key, size, modified, etag)] = entries
    assert key == "p/a bü+.css" and size == 42
    assert modified.isoformat() == "2024-05-01T10:20:30+00:00"
    assert etag == '"0123456789abcdef0123456789abcdef"'
    last = page.replace(b"<IsTruncated>true", b"<IsTruncated>false")
    assert parse_listing(last)[1] is None


def test_an_error_document_in_a_listing_is_an_error_not_an_empty_store():
    from storages.backends.s3.listing import parse_listing

    error = (
        b'<?xml version="1.0" encoding="UTF-8"?><Error><Code>InternalError</Code>'
        b"<Message>We encountered an internal error.</Message></Error>"
    )
    with pytest.raises(OSError, match="InternalError"):
        parse_listing(error)


def test_unusual_names_are_recognised_as_unchanged(collect_env, static_dir):
    configure, location = collect_env
    (static_dir / "fonts").mkdir()
    (static_dir / "fonts" / "Sans Bold+ü.woff").write_bytes(b"font bytes")
    with configure():
        run()
        out, _, requests = run(verbosity=1)
        assert "0 static files copied, 6 unmodified." in out
        assert requests.puts(location) == []
