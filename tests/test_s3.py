"""S3 backends against real servers: the contract on SeaweedFS and on moto."""

from __future__ import annotations

import uuid

import pytest

from tests.contract import StorageContract
from tests.servers.s3 import create_bucket

SETTING_NAMES = {
    "bucket_name": "AWS_STORAGE_BUCKET_NAME",
    "endpoint_url": "AWS_S3_ENDPOINT_URL",
    "access_key": "AWS_ACCESS_KEY_ID",
    "secret_key": "AWS_SECRET_ACCESS_KEY",
    "region_name": "AWS_S3_REGION_NAME",
    "location": "AWS_LOCATION",
}


@pytest.fixture(scope="session")
def seaweedfs_bucket(seaweedfs_server):
    create_bucket(seaweedfs_server, "contract")
    return "contract"


@pytest.fixture(scope="session")
def moto_bucket(moto_server):
    create_bucket(moto_server, "contract")
    return "contract"


class S3Contract(StorageContract):
    @pytest.fixture
    def backend_settings(self, backend_options):
        return {SETTING_NAMES[option]: value for option, value in backend_options.items()}


class TestSeaweedFSContract(S3Contract):
    backend = "storages.backends.s3.S3Storage"

    @pytest.fixture
    def backend_options(self, seaweedfs_server, seaweedfs_bucket):
        # A fresh key prefix per test: a new bucket is a new SeaweedFS collection (slow).
        return {
            **seaweedfs_server.client_options(),
            "bucket_name": seaweedfs_bucket,
            "location": f"t-{uuid.uuid4().hex}",
        }


class TestMotoContract(S3Contract):
    backend = "storages.backends.s3boto.S3BotoStorage"

    @pytest.fixture
    def backend_options(self, moto_server, moto_bucket):
        return {
            **moto_server.client_options(),
            "bucket_name": moto_bucket,
            "location": f"t-{uuid.uuid4().hex}",
        }
