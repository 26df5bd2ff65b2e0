"""The example project's embedded S3 server: SeaweedFS on 127.0.0.1, one bucket.

Used by ``run_demo.py`` and by the end-to-end browser test. Static files are
public through a bucket policy (as ``S3StaticStorage`` expects); uploads stay
private and are reached through signed URLs.
"""

from __future__ import annotations

import json
import secrets
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.servers.s3 import S3Server, start_seaweedfs_with_bucket

BUCKET = "example"


#: Pages that may upload straight to the bucket: ``manage.py runserver``'s default address.
SITE_ORIGINS = ("http://127.0.0.1:8000", "http://localhost:8000")


def start(
    data_dir: str | None = None, origins: tuple[str, ...] = SITE_ORIGINS
) -> tuple[S3Server, dict[str, str]]:
    """Start the server; return it and the environment that points the project at it.

    ``origins``: the site addresses whose pages upload to the bucket directly (its CORS).
    """
    data_dir = data_dir or tempfile.mkdtemp(prefix="storages-demo-s3-")

    def prepare(server: S3Server) -> None:
        allow_public_static(server, BUCKET)
        allow_browser_uploads(server, BUCKET, origins)

    server = start_seaweedfs_with_bucket(
        BUCKET, data_dir, secret_key=secrets.token_urlsafe(24), prepare=prepare
    )
    env = {
        "EXAMPLE_S3_ENDPOINT": server.endpoint_url,
        "EXAMPLE_S3_ACCESS_KEY": server.access_key,
        "EXAMPLE_S3_SECRET_KEY": server.secret_key,
        "EXAMPLE_S3_BUCKET": BUCKET,
    }
    return server, env


def allow_public_static(server: S3Server, bucket: str) -> None:
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


def allow_browser_uploads(server: S3Server, bucket: str, origins: tuple[str, ...]) -> None:
    """The bucket's CORS rule for browser-direct uploads (what ``S3Storage.allow_browser_uploads``
    writes; set here with boto3 as the project's settings are not loaded yet)."""
    import boto3

    rule = {
        "ID": "storages-browser-uploads",
        "AllowedOrigins": list(origins),
        "AllowedMethods": ["POST", "PUT"],
        "AllowedHeaders": ["*"],
        "ExposeHeaders": ["ETag"],
        "MaxAgeSeconds": 3600,
    }
    client = boto3.client("s3", **server.boto3_kwargs())
    client.put_bucket_cors(Bucket=bucket, CORSConfiguration={"CORSRules": [rule]})
