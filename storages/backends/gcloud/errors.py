"""google-cloud-storage failures as the errors a Storage user expects.

"Not there" (HTTP 404) becomes :class:`GCSNotFound`, a ``FileNotFoundError``; a
refused conditional create (412) :class:`GCSPreconditionFailed`; anything else
(other HTTP errors, connection failures, credentials that cannot be refreshed)
a :class:`GoogleCloudStorageError`, an ``OSError`` naming ``gs://bucket/name``
and what was being done. Messages carry the status and the server's own
message, never credentials (tokens travel in headers, which are not shown).
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from typing import Any


class GoogleCloudStorageError(OSError):
    """A request to Google Cloud Storage failed for a reason other than a missing object."""

    def __init__(self, message: str, *, bucket: str = "", key: str = "", code: int = 0) -> None:
        super().__init__(message)
        self.bucket = bucket
        self.key = key
        self.code = code

    def __reduce__(self) -> Any:
        return (_rebuild, (type(self), self.args, self.__dict__.copy()))


class GCSPreconditionFailed(GoogleCloudStorageError):
    """A conditional write (``ifGenerationMatch``) found the name taken or changed."""


class GCSNotFound(FileNotFoundError):
    """A missing object or bucket."""


def _rebuild(cls: type, args: tuple[Any, ...], state: dict[str, Any]) -> BaseException:
    error = OSError.__new__(cls, *args)
    OSError.__init__(error, *args)
    error.__dict__.update(state)
    return error


def _server_message(exc: Any) -> str:
    message = str(getattr(exc, "message", None) or exc)
    # google-api-core prefixes the method and URL: keep the server's words only.
    if re.match(r"(GET|POST|PUT|PATCH|DELETE|HEAD) \S+: ", message):
        message = message.split(": ", 1)[1]
    return message


@contextlib.contextmanager
def gcs_errors(bucket: str, key: str, action: str) -> Iterator[None]:
    """Translate what google-cloud-storage raises while ``action``-ing ``gs://bucket/key``."""
    from google.api_core import exceptions as api
    from google.auth import exceptions as auth

    where = f"gs://{bucket}/{key}"
    try:
        yield
    except (GoogleCloudStorageError, GCSNotFound):
        raise
    except api.NotFound:
        raise GCSNotFound(f"Could not {action} {where}: it does not exist") from None
    except api.PreconditionFailed as exc:
        raise GCSPreconditionFailed(
            f"Could not {action} {where}: precondition failed (the name is taken or changed)",
            bucket=bucket,
            key=key,
            code=412,
        ) from exc
    except api.GoogleAPICallError as exc:
        code = int(getattr(exc, "code", 0) or 0)
        raise GoogleCloudStorageError(
            f"Could not {action} {where}: HTTP {code}: {_server_message(exc)}",
            bucket=bucket,
            key=key,
            code=code,
        ) from exc
    except api.RetryError as exc:
        cause = exc.cause
        what = f"{type(cause).__name__}: {cause}" if cause else "timeout"
        if isinstance(cause, auth.GoogleAuthError):
            what = f"the credentials could not be refreshed ({type(cause).__name__})"
        raise GoogleCloudStorageError(
            f"Could not {action} {where}: gave up retrying ({what})",
            bucket=bucket,
            key=key,
        ) from exc
    except auth.GoogleAuthError as exc:
        raise GoogleCloudStorageError(
            f"Could not {action} {where}: the credentials were refused or could not be "
            f"obtained ({type(exc).__name__})",
            bucket=bucket,
            key=key,
        ) from None
    except (ConnectionError, TimeoutError) as exc:
        raise GoogleCloudStorageError(
            f"Could not {action} {where}: {type(exc).__name__}: {exc}", bucket=bucket, key=key
        ) from exc
    except Exception as exc:
        requests = _requests_exceptions()
        if requests is not None and isinstance(exc, requests.RequestException):
            raise GoogleCloudStorageError(
                f"Could not {action} {where}: {type(exc).__name__}: {exc}",
                bucket=bucket,
                key=key,
            ) from exc
        raise


def _requests_exceptions() -> Any:
    try:
        import requests.exceptions
    except ImportError:  # pragma: no cover - google-cloud-storage depends on requests
        return None
    return requests.exceptions
