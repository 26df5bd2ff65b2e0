"""S3 option values as the original settings wrote them, turned into boto3's terms.

``AWS_CALLING_FORMAT`` (boto 2 class names, the 2006 ``S3.py`` constants) becomes
an addressing style; ``AWS_HEADERS`` (HTTP header names) becomes boto3 object
parameters.
"""

from __future__ import annotations

import os
from typing import Any

from django.core.exceptions import ImproperlyConfigured

from storages.utils import setting

DEFAULT_GZIP_CONTENT_TYPES = (
    "text/css",
    "text/javascript",
    "application/javascript",
    "application/x-javascript",
    "image/svg+xml",
)

#: Old ``AWS_CALLING_FORMAT`` values (boto 2 class names, S3.py constants) -> addressing style.
CALLING_FORMATS = {
    "subdomain": "virtual",
    "vhost": "virtual",
    "vanity": "virtual",
    "path": "path",
    "ordinary": "path",
}
#: The 2006 ``S3.CallingFormat`` constants.
NUMERIC_CALLING_FORMATS = {1: "path", 2: "virtual", 3: "virtual"}

CHECKSUM_MODES = ("when_supported", "when_required")


def calling_format_style(value: Any) -> tuple[str, bool]:
    """``(addressing style, bucket is its own host)`` for an old calling format."""
    if isinstance(value, int) and value in NUMERIC_CALLING_FORMATS:
        return NUMERIC_CALLING_FORMATS[value], value == 3
    text = getattr(value, "__name__", None) or type(value).__name__
    if isinstance(value, str):
        text = value
    word = text.rsplit(".", 1)[-1].lower().removesuffix("callingformat") or text.lower()
    if word not in CALLING_FORMATS:
        raise ImproperlyConfigured(
            f"AWS_CALLING_FORMAT {value!r} is not one of: subdomain, path (ordinary), vhost"
        )
    return CALLING_FORMATS[word], word in ("vhost", "vanity")


def header_parameters(headers: dict[str, Any]) -> dict[str, Any]:
    """HTTP header names (``Cache-Control``, ``x-amz-meta-a``) -> boto3 object parameters."""
    params: dict[str, Any] = {}
    metadata: dict[str, str] = {}
    for header, value in (headers or {}).items():
        lower = header.lower()
        if lower.startswith("x-amz-meta-"):
            metadata[lower[len("x-amz-meta-") :]] = str(value)
        elif lower == "x-amz-acl":
            params["ACL"] = value
        elif "-" in header or header.islower():
            words = lower.removeprefix("x-amz-").split("-")
            params["".join(word.capitalize() for word in words)] = value
        else:
            params[header] = value  # already a boto3 name, such as "CacheControl"
    if metadata:
        params["Metadata"] = metadata
    return params


#: Object parameters that reading requests (GetObject, HeadObject) take as well:
#: customer-provided encryption keys (SSE-C) and the like (s3transfer's list).
READ_PARAMETERS = (
    "ChecksumMode",
    "ExpectedBucketOwner",
    "RequestPayer",
    "SSECustomerAlgorithm",
    "SSECustomerKey",
    "SSECustomerKeyMD5",
    "VersionId",
)
#: Object parameters every UploadPart of a multipart upload must repeat (SSE-C).
PART_PARAMETERS = (
    "ExpectedBucketOwner",
    "RequestPayer",
    "SSECustomerAlgorithm",
    "SSECustomerKey",
    "SSECustomerKeyMD5",
)


def read_parameters(params: dict[str, Any]) -> dict[str, Any]:
    """The part of an object's parameters that its GET and HEAD requests need."""
    return {name: params[name] for name in READ_PARAMETERS if name in params}


def part_parameters(params: dict[str, Any]) -> dict[str, Any]:
    """The part of an upload's parameters that each of its parts must carry."""
    return {name: params[name] for name in PART_PARAMETERS if name in params}


class _Omitted:
    """The default of ``cloudfront_signer``: "build one from the CloudFront keys, if any"."""

    def __copy__(self) -> _Omitted:
        return self

    def __deepcopy__(self, memo: Any) -> _Omitted:
        return self

    def __repr__(self) -> str:
        return "<from cloudfront_key_id and cloudfront_key>"

    def __bool__(self) -> bool:
        return False


OMITTED = _Omitted()

#: Where django-storages 1.14.6 looks for credentials an option does not give:
#: ``option -> (further settings, then environment variables)``, in its order
#: (the option's own setting, in ``get_default_settings``, comes first).
CREDENTIAL_FALLBACKS = {
    "access_key": (("AWS_ACCESS_KEY_ID",), ("AWS_S3_ACCESS_KEY_ID", "AWS_ACCESS_KEY_ID")),
    "secret_key": (
        ("AWS_SECRET_ACCESS_KEY",),
        ("AWS_S3_SECRET_ACCESS_KEY", "AWS_SECRET_ACCESS_KEY"),
    ),
    "security_token": (("AWS_SECURITY_TOKEN",), ("AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN")),
    "session_profile": ((), ("AWS_S3_SESSION_PROFILE",)),
}
#: The settings above: a change to one of them re-reads a storage's options.
FALLBACK_SETTINGS = frozenset(
    {"AWS_S3_ACCESS_KEY_ID", "AWS_S3_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"}
    | {name for names, _env in CREDENTIAL_FALLBACKS.values() for name in names}
)


def resolve_credentials(storage: Any) -> None:
    """Fill unset credentials from django-storages' fallback settings, then the environment."""
    from_settings = set()
    for option, (settings_names, environment_names) in CREDENTIAL_FALLBACKS.items():
        if getattr(storage, option) not in (None, ""):
            from_settings.add(option)
            continue
        value = next(filter(None, (setting(name) for name in settings_names)), None)
        if value:
            from_settings.add(option)
        else:
            value = next(filter(None, map(os.environ.get, environment_names)), None)
        setattr(storage, option, value)
    # As django-storages: keys and a profile together are an error, except
    # that keys found in the environment give way to the profile.
    keys = {"access_key", "secret_key"} & from_settings
    if keys and storage.session_profile:
        raise ImproperlyConfigured(
            "AWS_S3_SESSION_PROFILE (session_profile) cannot be given together with "
            "AWS_S3_ACCESS_KEY_ID / AWS_S3_SECRET_ACCESS_KEY (access_key / secret_key)."
        )
