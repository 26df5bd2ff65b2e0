"""Our collectstatic says and returns what Django's own command does, on this Django.

Django 6.0 added deletions and name conflicts to the summary (and to what
``collect()`` returns) and moved the per-file "Deleting" lines to verbosity 2;
Django 6.1 raises a failed post-processing as a ``CommandError``. Each test runs
Django's own command and ours on the same files into the same kind of store
(SeaweedFS) and compares what they print.
"""

from __future__ import annotations

import io
import re
import uuid

import django
import pytest
from django.contrib.staticfiles.management.commands.collectstatic import (
    Command as DjangosCollectstatic,
)
from django.contrib.staticfiles.storage import staticfiles_storage
from django.core.files.base import ContentFile
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import override_settings

from storages.management.commands.collectstatic import Command as OurCollectstatic
from tests.servers.s3 import create_bucket

BUCKET = "collect-django"
STATIC = "storages.backends.s3.S3StaticStorage"
MANIFEST = "storages.backends.s3.S3ManifestStaticStorage"
STALE = ["stale/old.css", "stale/deep/old.js", "gone.txt"]


@pytest.fixture
def static_dirs(tmp_path):
    """Two source folders; ``app.js`` is in both (the first one wins)."""
    first, second = tmp_path / "first", tmp_path / "second"
    files = {
        first: {"app.js": "first();\n", "css/site.css": "body {}\n", "img/a.png": "png"},
        second: {"app.js": "second();\n", "lib.js": "lib();\n"},
    }
    for root, texts in files.items():
        for name, text in texts.items():
            (root / name).parent.mkdir(parents=True, exist_ok=True)
            (root / name).write_text(text)
    return [str(first), str(second)]


@pytest.fixture(scope="module")
def bucket(seaweedfs_server):
    create_bucket(seaweedfs_server, BUCKET)
    return BUCKET


@pytest.fixture
def into_fresh_prefix(seaweedfs_server, bucket, static_dirs):
    """``configure(backend)``: a context with the static storage on a new prefix."""

    def configure(backend=STATIC):
        options = {
            **seaweedfs_server.client_options(),
            "bucket_name": bucket,
            "location": f"d-{uuid.uuid4().hex}",
        }
        return override_settings(
            STORAGES={
                "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
                "staticfiles": {"BACKEND": backend, "OPTIONS": options},
            },
            STATICFILES_DIRS=static_dirs,
            STATICFILES_FINDERS=["django.contrib.staticfiles.finders.FileSystemFinder"],
        )

    return configure


def collect(command_class, configure, *args, verbosity=1, backend=STATIC):
    """Run ``command_class`` into a fresh prefix with stale files; return its output."""
    with configure(backend):
        for name in STALE:
            staticfiles_storage.save(name, ContentFile(b"stale"))
        out = io.StringIO()
        call_command(command_class(), *args, interactive=False, verbosity=verbosity, stdout=out)
        return out.getvalue()


def without_location(text: str) -> str:
    return re.sub(r"location='[^']*'", "location=...", text)


def summary(output: str) -> str:
    return [line for line in output.splitlines() if line.strip()][-1]


def per_file(output: str) -> list[str]:
    """The lines about deletions and conflicts (ours runs in parallel: order aside)."""
    wanted = ("Deleting ", "Pretending to delete ", "Found another file")
    return sorted(line for line in output.splitlines() if line.startswith(wanted))


@pytest.mark.parametrize(
    "args", [(), ("--clear",), ("--clear", "--dry-run")], ids=["plain", "clear", "dry-run"]
)
@pytest.mark.parametrize("verbosity", [1, 2])
def test_output_matches_djangos_command(into_fresh_prefix, args, verbosity):
    djangos = collect(DjangosCollectstatic, into_fresh_prefix, *args, verbosity=verbosity)
    ours = collect(OurCollectstatic, into_fresh_prefix, *args, verbosity=verbosity)
    assert summary(ours) == summary(djangos)
    assert per_file(ours) == per_file(djangos)


def test_summary_counts_deletions_and_conflicts_on_django_6(into_fresh_prefix):
    ours = summary(collect(OurCollectstatic, into_fresh_prefix, "--clear"))
    if django.VERSION >= (6, 0):
        assert ours == ("3 static files deleted, 4 static files copied, 1 skipped due to conflict.")
    else:
        assert ours == "4 static files copied."


def test_collect_returns_what_djangos_returns(into_fresh_prefix):
    results = {}
    for command_class in (DjangosCollectstatic, OurCollectstatic):
        with into_fresh_prefix():
            for name in STALE:
                staticfiles_storage.save(name, ContentFile(b"stale"))
            command = command_class()
            command.set_options(
                interactive=False,
                verbosity=0,
                link=False,
                clear=True,
                dry_run=False,
                ignore_patterns=[],
                use_default_ignore_patterns=True,
                post_process=True,
                **({"workers": 4} if command_class is OurCollectstatic else {}),
            )
            collected = command.collect()
        results[command_class] = {key: sorted(value) for key, value in collected.items()}
    assert results[OurCollectstatic] == results[DjangosCollectstatic]
    if django.VERSION >= (6, 0):
        assert results[OurCollectstatic]["deleted"] == sorted(STALE)
        assert results[OurCollectstatic]["skipped"] == ["app.js"]


def test_failed_post_processing_is_reported_as_django_does(into_fresh_prefix, static_dirs):
    # A CSS file referencing a file that does not exist: ManifestFilesMixin fails it.
    with open(f"{static_dirs[0]}/css/broken.css", "w") as handle:
        handle.write('body { background: url("missing.png"); }\n')
    errors = {}
    for command_class in (DjangosCollectstatic, OurCollectstatic):
        with pytest.raises(Exception) as raised:
            collect(command_class, into_fresh_prefix, backend=MANIFEST)
        errors[command_class] = raised.value
    django_error, our_error = errors[DjangosCollectstatic], errors[OurCollectstatic]
    assert type(our_error) is type(django_error)
    # The same message, but for the prefix each run had to itself.
    assert without_location(str(our_error)) == without_location(str(django_error))
    if django.VERSION >= (6, 1):
        assert isinstance(our_error, CommandError)
