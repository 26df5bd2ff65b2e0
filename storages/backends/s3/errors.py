"""Turn botocore failures into the errors a Storage user expects.

"Not there" becomes :class:`FileNotFoundError`; anything else an
:class:`S3StorageError` (an ``OSError``) naming the bucket and key. Messages are
built from the error code and the server's message only: never from request
parameters, headers or credentials.

An error that came from botocore's ``ClientError`` is also an instance of
``ClientError`` (as django-storages let it through), so code written for
django-storages that catches ``ClientError`` and reads
``exc.response["Error"]["Code"]`` or ``["ResponseMetadata"]["HTTPStatusCode"]``
keeps working. Its ``response`` keeps only the error code and message and the
status and request ids: a server's error document can echo the signed request
(``CanonicalRequest``, ``StringToSign``), which may hold a session token.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Iterator
from typing import Any

NOT_FOUND_CODES = frozenset({"404", "NoSuchKey", "NotFound", "NoSuchUpload"})
PRECONDITION_CODES = frozenset({"412", "PreconditionFailed"})
#: Answers that say "this request is fine, the object already exists" (conditional create).
CONFLICT_CODES = frozenset({"409", "ConditionalRequestConflict"})
#: The parts of a ClientError's ``response`` that are kept on our errors.
_KEPT_METADATA = ("HTTPStatusCode", "RequestId", "HostId")


class S3StorageError(OSError):
    """An S3 request failed for a reason other than a missing object."""

    def __init__(self, message: str, *, bucket: str, key: str, code: str = "") -> None:
        super().__init__(message)
        self.bucket = bucket
        self.key = key
        self.code = code

    def __reduce__(self) -> Any:
        return (_rebuild, (type(self), self.args, self.__dict__.copy()))


class S3PreconditionFailed(S3StorageError):
    """A conditional write found the name taken (HTTP 412)."""


class S3NotFound(FileNotFoundError):
    """A missing object (or bucket); a :class:`FileNotFoundError`."""

    def __reduce__(self) -> Any:
        return (_rebuild, (type(self), self.args, self.__dict__.copy()))


def _rebuild(cls: type, args: tuple[Any, ...], state: dict[str, Any]) -> BaseException:
    if state.pop("_client_error", False):
        cls = client_error_class(cls)
    error = OSError.__new__(cls, *args)
    OSError.__init__(error, *args)
    error.__dict__.update(state)
    return error


def safe_response(response: dict[str, Any]) -> dict[str, Any]:
    """A ClientError response without anything the server echoed from the request."""
    error = response.get("Error") or {}
    metadata = response.get("ResponseMetadata") or {}
    return {
        "Error": {name: str(error[name]) for name in ("Code", "Message") if name in error},
        "ResponseMetadata": {name: metadata[name] for name in _KEPT_METADATA if name in metadata},
    }


@functools.cache
def client_error_class(base: type[OSError]) -> type[OSError]:
    """``base`` that is also a botocore ``ClientError`` (made once per base)."""
    from botocore.exceptions import ClientError

    def __init__(self, message: str, *, response: dict[str, Any], operation: str, **kw: Any):
        base.__init__(self, message, **kw)
        self.response = response
        self.operation_name = operation

    def __reduce__(self) -> Any:  # pickled by its base (this class is made at run time)
        return (_rebuild, (base, self.args, {**self.__dict__, "_client_error": True}))

    namespace = {"__init__": __init__, "__reduce__": __reduce__, "__module__": __name__}
    return type(base.__name__, (base, ClientError), namespace)


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
        origin = {
            "response": safe_response(exc.response),
            "operation": getattr(exc, "operation_name", "") or "",
        }
        if code in NOT_FOUND_CODES:
            return client_error_class(S3NotFound)(f"No such object: {where} ({detail})", **origin)
        kind = S3PreconditionFailed if code in PRECONDITION_CODES else S3StorageError
        message = (
            f"{where} already exists ({detail})"
            if kind is S3PreconditionFailed
            else f"Could not {action} {where}: {detail}"
        )
        return client_error_class(kind)(message, bucket=bucket, key=key, code=code, **origin)
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
    except (S3StorageError, S3NotFound):  # already translated (by an inner block)
        raise
    except (ClientError, BotoCoreError) as exc:
        raise translate(exc, bucket, key, action) from exc
