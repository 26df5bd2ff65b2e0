"""S3 backends against real servers: the contract on SeaweedFS and on moto."""

from __future__ import annotations

import pytest

from tests.contract import StorageContract

SETTING_NAMES = {
    "bucket_name": "AWS_STORAGE_BUCKET_NAME",
    "endpoint_url": "AWS_S3_ENDPOINT_URL",
    "access_key": "AWS_ACCESS_KEY_ID",
    "secret_key": "AWS_SECRET_ACCESS_KEY",
    "region_name": "AWS_S3_REGION_NAME",
    "location": "AWS_LOCATION",
}


class S3Contract(StorageContract):
    @pytest.fixture
    def backend_settings(self, backend_options):
        return {SETTING_NAMES[option]: value for option, value in backend_options.items()}


class TestSeaweedFSContract(S3Contract):
    backend = "storages.backends.s3.S3Storage"

    @pytest.fixture
    def backend_options(self, seaweedfs_server, seaweedfs_bucket):
        return seaweedfs_server.storage_options(seaweedfs_bucket)


class TestMotoContract(S3Contract):
    backend = "storages.backends.s3boto.S3BotoStorage"

    @pytest.fixture
    def backend_options(self, moto_server, moto_bucket):
        return moto_server.storage_options(moto_bucket)
