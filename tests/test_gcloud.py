"""Google Cloud Storage backend on fake-gcs-server: the contract, the shared scenarios,
signed URLs checked with google-auth, collectstatic, and django-storages-style setups.

Every storage here has explicit credentials (anonymous, or a throwaway service-account
key that only signs URLs) and the emulator's endpoint; tests/servers/gcs.py also sends
google-auth's metadata lookups to a closed loopback port. One test records every
socket connection to prove nothing leaves 127.0.0.1.
"""

from __future__ import annotations

import pytest

from tests.scenarios import CommonScenarios, NamedSettingsContract

SETTING_NAMES = {
    "bucket_name": "GS_BUCKET_NAME",
    "project_id": "GS_PROJECT_ID",
    "credentials": "GS_CREDENTIALS",
    "api_endpoint": "GS_API_ENDPOINT",
    "querystring_auth": "GS_QUERYSTRING_AUTH",
    "custom_endpoint": "GS_CUSTOM_ENDPOINT",
    "location": "GS_LOCATION",
}


@pytest.fixture
def options(gcs_server, gcs_bucket):
    return gcs_server.storage_options(gcs_bucket)


class TestGoogleCloudContract(NamedSettingsContract):
    backend = "storages.backends.gcloud.GoogleCloudStorage"
    setting_names = SETTING_NAMES
    # Above 8 MiB: the resumable upload path.
    large_size = 9 * 1024 * 1024 + 17


class TestGoogleCloudBehaviour(CommonScenarios):
    storage_path = "storages.backends.gcloud.GoogleCloudStorage"
    url_option = "custom_endpoint"
    seek_options = {"blob_chunk_size": 256 * 1024}
