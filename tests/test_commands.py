"""The storage_* management commands, between real storages."""

from __future__ import annotations

import io

import pytest
from django.core.files.base import ContentFile
from django.core.management import call_command
from django.core.management.base import CommandError

from storages.filesystem import SafeFileSystemStorage
from storages.transfer.tree import walk

LOCAL = "storages.filesystem.SafeFileSystemStorage"


def run(*args: str) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command(*args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


@pytest.fixture
def source(tmp_path):
    storage = SafeFileSystemStorage(location=tmp_path / "source")
    storage.save("a.txt", ContentFile(b"alpha"))
    storage.save("docs/b.txt", ContentFile(b"bravo!"))
    storage.save("docs/deep/c.bin", ContentFile(bytes(range(256)) * 40))
    storage.save("ünï/名前.txt", ContentFile(b"unicode"))
    return storage


@pytest.fixture
def destination(tmp_path):
    return SafeFileSystemStorage(location=tmp_path / "destination")


def pair(source, destination) -> list[str]:
    return [
        LOCAL,
        LOCAL,
        f"--source-option=location={source.location}",
        f"--destination-option=location={destination.location}",
    ]


def test_ls_and_du(source):
    out, _ = run("storage_ls", LOCAL, f"--storage-option=location={source.location}", "-r")
    lines = out.splitlines()
    assert "           5  a.txt" in lines
    assert "       10240  docs/deep/c.bin" in lines
    assert any(line.endswith("ünï/名前.txt") for line in lines)
    out, _ = run(
        "storage_ls", LOCAL, f"--storage-option=location={source.location}", "--prefix=docs"
    )
    assert out.splitlines() == ["         DIR  docs/deep/", "           6  docs/b.txt"]
    out, _ = run("storage_du", LOCAL, f"--storage-option=location={source.location}")
    assert out.splitlines()[-1].split()[0] == str(5 + 6 + 10240 + 7)
    assert "2 files  docs" in out


def test_copy_then_resume_skips_identical(source, destination):
    out, _ = run("storage_copy", *pair(source, destination))
    assert "copied 4" in out
    for name in ("a.txt", "docs/b.txt", "docs/deep/c.bin", "ünï/名前.txt"):
        assert destination.open(name).read() == source.open(name).read()
    destination.delete("docs/b.txt")  # as if the first run had been interrupted
    out, _ = run("storage_copy", *pair(source, destination))
    assert "copied 1" in out and "skipped 3" in out


def test_changed_file_is_replaced_under_its_name(source, destination):
    run("storage_copy", *pair(source, destination))
    source.delete("a.txt")
    source.save("a.txt", ContentFile(b"ALPHA"))  # same size, other content
    out, _ = run("storage_copy", *pair(source, destination))
    assert "copied 1" in out
    assert destination.open("a.txt").read() == b"ALPHA"
    assert sorted(destination.listdir("")[1]) == ["a.txt"]


def test_dry_run_changes_nothing(source, destination):
    out, _ = run("storage_sync", *pair(source, destination), "--dry-run", "--delete")
    assert "would copy 4" in out
    assert list(walk(destination)) == []


def test_sync_delete_makes_a_mirror(source, destination):
    destination.save("stale.txt", ContentFile(b"old"))
    out, _ = run("storage_sync", *pair(source, destination), "--delete")
    assert "deleted 1" in out
    assert not destination.exists("stale.txt")
    out, _ = run("storage_verify", *pair(source, destination))
    assert out.strip() == "identical"


def test_copy_has_no_delete_option(source, destination):
    with pytest.raises(CommandError):
        run("storage_copy", *pair(source, destination), "--delete")


def test_verify_reports_each_difference_and_fails(source, destination):
    run("storage_copy", *pair(source, destination))
    destination.delete("a.txt")
    destination.delete("docs/b.txt")
    destination.save("docs/b.txt", ContentFile(b"BRAVO!"))
    destination.save("extra.txt", ContentFile(b"x"))
    with pytest.raises(CommandError) as failure:
        run("storage_verify", *pair(source, destination))
    assert failure.value.returncode == 1
    out = io.StringIO()
    with pytest.raises(CommandError):
        call_command("storage_verify", *pair(source, destination), stdout=out)
    assert out.getvalue().splitlines() == [
        "missing  a.txt",
        "content  docs/b.txt (sha256 differs)",
        "extra    extra.txt",
    ]


class BrokenStorage(SafeFileSystemStorage):
    """Refuses one name, as a store would refuse a file it cannot take."""

    def _save(self, name, content):
        if name.endswith("b.txt"):
            raise OSError("quota exceeded")
        return super()._save(name, content)


def test_one_failure_names_the_file_and_the_rest_go_on(source, destination):
    args = [
        LOCAL,
        "tests.test_commands.BrokenStorage",
        f"--source-option=location={source.location}",
        f"--destination-option=location={destination.location}",
    ]
    err = io.StringIO()
    with pytest.raises(CommandError) as failure:
        call_command("storage_copy", *args, stdout=io.StringIO(), stderr=err)
    assert failure.value.returncode == 1
    assert "failed: docs/b.txt: OSError: quota exceeded" in err.getvalue()
    assert destination.exists("a.txt") and destination.exists("docs/deep/c.bin")


def test_unknown_storage_is_a_usage_error(source):
    with pytest.raises(CommandError) as failure:
        run("storage_ls", "storages.backends.nothere.Nope")
    assert failure.value.returncode == 2
    with pytest.raises(CommandError) as failure:
        run("storage_ls", LOCAL, "--storage-option=bucket=x")
    assert failure.value.returncode == 2


def test_exit_codes_from_the_command_line(source, destination, tmp_path):
    import os
    import subprocess
    import sys

    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings"}
    command = [sys.executable, "-m", "django", "storage_verify", *pair(source, destination)]
    result = subprocess.run(command, capture_output=True, text=True, env=env, timeout=120)
    assert result.returncode == 1, result.stderr
    run("storage_copy", *pair(source, destination))
    result = subprocess.run(command, capture_output=True, text=True, env=env, timeout=120)
    assert result.returncode == 0, result.stderr


def test_sync_delete_into_s3_deletes_in_batches(
    source, seaweedfs_server, seaweedfs_bucket, monkeypatch
):
    from storages.backends.s3 import S3Storage

    options = seaweedfs_server.storage_options(seaweedfs_bucket)
    bucket = S3Storage(**options)
    for index in range(3):
        bucket.save(f"stale/{index}.txt", ContentFile(b"old"))

    def one_by_one(self, name):
        raise AssertionError("a DELETE per file: delete_many should have been used")

    monkeypatch.setattr(S3Storage, "delete", one_by_one)
    out, _ = run(
        "storage_sync",
        LOCAL,
        "storages.backends.s3.S3Storage",
        f"--source-option=location={source.location}",
        *(f"--destination-option={key}={value}" for key, value in options.items()),
        "--delete",
    )
    assert "copied 4" in out and "deleted 3" in out
    assert sorted(name for name, *_ in bucket.list_stored()) == sorted(walk(source))
