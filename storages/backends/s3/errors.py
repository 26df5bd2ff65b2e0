"""Turn botocore failures into the errors a Storage user expects.

"Not there" becomes :class:`FileNotFoundError`; anything else an
:class:`S3StorageError` (an ``OSError``) naming the bucket and key. Messages are
built from the error code and the server's message only: never from request
parameters, headers or credentials.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

NOT_FOUND_CODES = frozenset({"404", "NoSuchKey", "NotFound", "NoSuchUpload"})
PRECONDITION_CODES = frozenset({"412", "PreconditionFailed"})
#: Answers that say "this request is fine, the object already exists" (conditional create).
CONFLICT_CODES = frozenset({"409", "ConditionalRequestConflict"})


class S3StorageError(OSError):
    """An S3 request failed for a reason other than a missing object."""

    def __init__(self, message: str, *, bucket: str, key: str, code: str = "") -> None:
        super().__init__(message)
        self.bucket = bucket
        self.key = key
        self.code = code


class S3PreconditionFailed(S3StorageError):
    """A conditional write found the name taken (HTTP 412)."""


def error_code(exc: BaseException) -> str:
    response = getattr(exc, "response", None) or {}
    code = str(response.get("Error", {}).get("Code", ""))
    status = response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    if not code and status:
        code = str(status)
    return code


def translate(exc: BaseException, bucket: str, key: str, action: str) -> OSError:
    """The OSError to raise for a botocore exception during ``action`` on ``key``."""
    from botocore.exceptions import BotoCoreError, ClientError

    where = f"s3://{bucket}/{key}" if key else f"s3://{bucket}"
    if isinstance(exc, ClientError):
        code = error_code(exc)
        server_message = str(exc.response.get("Error", {}).get("Message", "")).strip()
        detail = f"{code}: {server_message}" if server_message else code
        if code in NOT_FOUND_CODES:
            return FileNotFoundError(f"No such object: {where} ({detail})")
        if code in PRECONDITION_CODES:
            return S3PreconditionFailed(
                f"{where} already exists ({detail})", bucket=bucket, key=key, code=code
            )
        return S3StorageError(
            f"Could not {action} {where}: {detail}", bucket=bucket, key=key, code=code
        )
    if isinstance(exc, BotoCoreError):
        # BotoCoreError messages name endpoints and operations, not credentials.
        return S3StorageError(
            f"Could not {action} {where}: {type(exc).__name__}: {exc}",
            bucket=bucket,
            key=key,
            code=type(exc).__name__,
        )
    return S3StorageError(
        f"Could not {action} {where}: {type(exc).__name__}", bucket=bucket, key=key
    )


@contextlib.contextmanager
def s3_errors(bucket: str, key: str, action: str) -> Iterator[None]:
    """Re-raise botocore errors inside the block as :func:`translate` says."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        yield
    except (ClientError, BotoCoreError) as exc:
        raise translate(exc, bucket, key, action) from exc
