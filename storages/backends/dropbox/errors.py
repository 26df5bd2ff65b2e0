"""dropbox SDK failures as the errors a Storage user expects.

A route error (``ApiError``) is read by its tags, outside in, as Dropbox's
``error_summary`` spells them (``path/not_found``, ``path/conflict/file``):
"not there" becomes :class:`DropboxFileNotFound` (a ``FileNotFoundError``), a
taken name :class:`DropboxNameTaken`; a refused token :class:`DropboxAuthError`;
anything else (HTTP errors, connection failures, TLS refusals) a
:class:`DropboxStorageException`, an ``OSError``. Every message names the
file as Dropbox sees it (``dropbox:/root/name``) and what was being done, and
never a token or secret: they travel in headers, which are not shown, and any
configured secret found in a server's text is masked anyway.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator
from typing import Any

MASK = "********"


class DropboxStorageException(OSError):
    """A request to Dropbox failed (django-storages' name; an ``OSError`` here)."""

    def __init__(self, message: str, *, path: str = "", tags: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.path = path
        self.tags = tags

    def __reduce__(self) -> Any:
        return (_rebuild, (type(self), self.args, self.__dict__.copy()))


#: django-storages 1.14's older spelling.
DropBoxStorageException = DropboxStorageException


class DropboxFileNotFound(DropboxStorageException, FileNotFoundError):
    """The path names nothing (``path/not_found``)."""


class DropboxNameTaken(DropboxStorageException, FileExistsError):
    """An upload that may not replace found the name taken (``path/conflict/...``)."""

    #: The upload session holding the refused upload's data, and its length.
    upload_session: str | None = None
    upload_offset: int = 0

    @property
    def kind(self) -> str:
        """What holds the name: ``file``, ``folder`` or ``file_ancestor``."""
        return self.tags[-1] if self.tags else ""


class DropboxAuthError(DropboxStorageException, PermissionError):
    """Dropbox refused the credentials (invalid or expired token, refused refresh)."""


def _rebuild(cls: type, args: tuple[Any, ...], state: dict[str, Any]) -> BaseException:
    error = OSError.__new__(cls, *args)
    OSError.__init__(error, *args)
    error.__dict__.update(state)
    return error


def union_tags(error: Any) -> tuple[str, ...]:
    """The tags of a stone union value, outside in: ``("path", "conflict", "file")``."""
    tags: list[str] = []
    while error is not None and hasattr(error, "_tag"):
        tags.append(str(error._tag))
        value = getattr(error, "_value", None)
        # UploadError's "path" holds a struct whose "reason" is the WriteError.
        if value is not None and not hasattr(value, "_tag"):
            value = getattr(value, "reason", None)
        error = value
    return tuple(tags)


def mask(text: str, secrets: Iterable[str | None]) -> str:
    for secret in secrets:
        if secret:
            text = text.replace(secret, MASK)
    return text


def upload_session_of(exc: Any) -> str | None:
    """The upload session holding the data of a refused ``files/upload`` (to finish elsewhere)."""
    error = getattr(exc, "error", None)
    if error is not None and getattr(error, "_tag", None) == "path":
        return getattr(error._value, "upload_session_id", None)
    return None


@contextlib.contextmanager
def dropbox_errors(path: str, action: str, secrets: Iterable[str | None] = ()) -> Iterator[None]:
    """Translate what the SDK raises while ``action``-ing the Dropbox path ``path``."""
    from dropbox import exceptions as sdk

    where = f"dropbox:{path or '/'}"
    secrets = tuple(secrets)
    try:
        yield
    except DropboxStorageException:
        raise
    except sdk.ApiError as exc:
        tags = union_tags(exc.error)
        summary = "/".join(tags)
        told = f": {exc.user_message_text}" if getattr(exc, "user_message_text", None) else ""
        message = mask(f"Could not {action} {where}: {summary}{told}", secrets)
        if "conflict" in tags:
            kind = tags[tags.index("conflict") + 1 :][:1]
            taken = DropboxNameTaken(message, path=path, tags=("conflict", *kind))
            taken.upload_session = upload_session_of(exc)
            raise taken from None
        if tags[:1] in (("path",), ("path_lookup",)) and "not_found" in tags:
            raise DropboxFileNotFound(message, path=path, tags=tags) from None
        raise DropboxStorageException(message, path=path, tags=tags) from None
    except sdk.AuthError as exc:
        reason = "/".join(union_tags(exc.error)) or "refused"
        raise DropboxAuthError(
            f"Could not {action} {where}: Dropbox refused the credentials ({reason})",
            path=path,
            tags=(reason,),
        ) from None
    except sdk.BadInputError as exc:
        raise DropboxStorageException(
            mask(
                f"Could not {action} {where}: Dropbox refused the request: {exc.message}", secrets
            ),
            path=path,
        ) from None
    except sdk.HttpError as exc:
        body = mask(str(getattr(exc, "body", "") or ""), secrets)[:300]
        raise DropboxStorageException(
            f"Could not {action} {where}: HTTP {exc.status_code}: {body}", path=path
        ) from None
    except sdk.DropboxException as exc:
        raise DropboxStorageException(
            mask(f"Could not {action} {where}: {type(exc).__name__}: {exc}", secrets), path=path
        ) from None
    except Exception as exc:
        import requests

        if not isinstance(exc, (requests.RequestException, ConnectionError, TimeoutError)):
            raise
        raise DropboxStorageException(
            mask(f"Could not {action} {where}: {type(exc).__name__}: {exc}", secrets), path=path
        ) from exc
