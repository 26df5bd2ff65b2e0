"""The README's demo keeps working: the example project end to end, both storages."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import django

EXAMPLE = Path(__file__).resolve().parent.parent / "example"


def run(command: list[str], tmp_path: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "EXAMPLE_VAR_DIR": str(tmp_path / "var"), "EXAMPLE_DEBUG": "0"}
    env["DJANGO_SETTINGS_MODULE"] = "exampleproject.settings"
    return subprocess.run(
        command, cwd=EXAMPLE, env=env, capture_output=True, text=True, timeout=300
    )


def test_demo_on_embedded_s3(tmp_path):
    result = run([sys.executable, "run_demo.py"], tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert "storages.backends.s3.S3Storage (s3://example/media" in out
    assert out.count("fetched over HTTP: 200") == 4
    assert out.count("without the signature: HTTP 403 (private)") == 2
    assert "storages.backends.s3.S3ManifestStaticStorage" in out
    assert "Demo finished" in out and "SeaweedFS stopped." in out


def test_demo_on_local_disk(tmp_path):
    result = run([sys.executable, "manage.py", "demo"], tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "pictures/picture.png" in result.stdout  # the image storage's real extension
    assert (tmp_path / "var" / "media" / "pictures" / "picture.png").exists()
    assert "Demo finished" in result.stdout


def test_example_collectstatic_prints_djangos_summary(tmp_path):
    """``manage.py collectstatic`` of the example, into its embedded S3, as a user runs it."""
    sys.path.insert(0, str(EXAMPLE))
    try:
        import embedded_s3
    finally:
        sys.path.remove(str(EXAMPLE))
    server, s3_env = embedded_s3.start(str(tmp_path / "s3"))
    try:
        env = {**os.environ, **s3_env, "EXAMPLE_VAR_DIR": str(tmp_path / "var")}
        env.update(EXAMPLE_DEBUG="0", DJANGO_SETTINGS_MODULE="exampleproject.settings")

        def collectstatic(*args: str) -> str:
            result = subprocess.run(
                [sys.executable, "manage.py", "collectstatic", "--noinput", *args],
                cwd=EXAMPLE,
                env=env,
                capture_output=True,
                text=True,
                timeout=300,
            )
            assert result.returncode == 0, result.stdout + result.stderr
            return [line for line in result.stdout.splitlines() if line.strip()][-1]

        first = collectstatic()
        copied = int(first.split()[0])
        assert copied > 100  # the admin's files and the gallery's
        assert first == f"{copied} static files copied, {copied} post-processed."
        cleared = collectstatic("--clear")
        # Everything stored (the hashed copies and the manifest too) is deleted first.
        if django.VERSION >= (6, 0):
            deleted = int(cleared.split()[0])
            assert deleted > copied
            assert cleared == (
                f"{deleted} static files deleted, {copied} static files copied, "
                f"{copied} post-processed."
            )
        else:
            assert cleared == f"{copied} static files copied, {copied} post-processed."
    finally:
        server.stop()
