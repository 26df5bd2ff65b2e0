"""The README's demo keeps working: the example project end to end, both storages."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

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
