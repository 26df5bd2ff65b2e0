"""Turn azure-storage-blob failures into the errors a Storage user expects.

"Not there" becomes :class:`AzureNotFound` (a :class:`FileNotFoundError`); a
create-only upload that finds the name taken becomes :class:`AzureNameTaken`;
anything else an :class:`AzureStorageError` (an ``OSError``) naming the blob,
the container and the account. Messages hold the HTTP status, the service's
error code and the first line of its message, with any secret the storage
knows (account key, SAS token and its signature) cut out: never a request
header, a connection string or a key.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterable, Iterator
from typing import Any

NOT_FOUND_CODES = frozenset({"BlobNotFound", "ResourceNotFound"})
#: A create-only write (``If-None-Match: *``) found a blob under the name.
TAKEN_CODES = frozenset({"BlobAlreadyExists", "ConditionNotMet"})
_SIGNATURE = re.compile(r"(?i)(sig=)[^&\s'\"]+")


class AzureStorageError(OSError):
    """An Azure Blob request failed for a reason other than a missing blob."""

    def __init__(
        self,
        message: str,
        *,
        container: str = "",
        blob: str = "",
        code: str = "",
        status: Any = None,
    ) -> None:
        super().__init__(message)
        self.container = container
        self.blob = blob
        self.code = code
        self.status = status

    def __reduce__(self) -> Any:
        return (_rebuild, (type(self), self.args, self.__dict__.copy()))


class AzureNameTaken(AzureStorageError):
    """A create-only upload found the name taken (HTTP 409 ``BlobAlreadyExists``)."""


class AzureNotFound(FileNotFoundError):
    """A missing blob or container; a :class:`FileNotFoundError`."""

    def __reduce__(self) -> Any:
        return (_rebuild, (type(self), self.args, self.__dict__.copy()))


def _rebuild(cls: type, args: tuple[Any, ...], state: dict[str, Any]) -> BaseException:
    error = OSError.__new__(cls, *args)
    OSError.__init__(error, *args)
    error.__dict__.update(state)
    return error


def error_code(exc: BaseException) -> str:
    """The service's error code of an azure-core error ("" if it has none)."""
    code = getattr(exc, "error_code", None)
    code = getattr(code, "value", code)
    return str(code or "")


def scrub(text: str, secrets: Iterable[str | None]) -> str:
    """``text`` without any of ``secrets`` and without SAS signatures."""
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, "********")
    return _SIGNATURE.sub(r"\1********", text)


def describe(exc: BaseException) -> tuple[str, str, Any]:
    """``(status and code, first line of the service's message, status)`` of an error."""
    status = getattr(exc, "status_code", None)
    code = error_code(exc)
    message = str(getattr(exc, "reason", "") or "")
    text = getattr(exc, "message", None) or str(exc)
    first_line = str(text).strip().splitlines()[0] if str(text).strip() else message
    head = " ".join(part for part in (str(status or ""), code) if part) or type(exc).__name__
    return head, first_line, status


@contextlib.contextmanager
def azure_errors(
    where: str, container: str, blob: str, action: str, secrets: Iterable[str | None] = ()
) -> Iterator[None]:
    """Translate azure-core exceptions raised inside the block.

    ``where`` names the store (account and container) for messages, ``action``
    the operation ("save", "read", ...).
    """
    from azure.core.exceptions import AzureError, ResourceNotFoundError

    try:
        yield
    except ResourceNotFoundError as exc:
        head, line, _status = describe(exc)
        raise AzureNotFound(
            scrub(f"Could not {action} {blob!r}: not found in {where} ({head})", secrets)
        ) from None
    except AzureError as exc:
        head, line, status = describe(exc)
        code = error_code(exc)
        message = scrub(f"Could not {action} {blob!r} in {where}: {head}: {line}", secrets)
        # Only an upload's refused create means "the name is taken" (a 412 of a read
        # pinned to an ETag means the blob changed; a 409 may be a lease).
        cls = AzureNameTaken if action == "save" and code in TAKEN_CODES else AzureStorageError
        raise cls(message, container=container, blob=blob, code=code, status=status) from exc


__all__ = [
    "AzureNameTaken",
    "AzureNotFound",
    "AzureStorageError",
    "azure_errors",
    "error_code",
    "scrub",
]
