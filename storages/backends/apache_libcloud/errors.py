"""Libcloud failures as the errors a Storage user expects, with no secret in them.

"Not there" (``ObjectDoesNotExistError``) becomes :class:`LibCloudNotFound`, a
``FileNotFoundError``; a refused conditional create (HTTP 412)
:class:`LibCloudNameTaken`; anything else (refused credentials, server errors,
connection failures) a :class:`LibCloudStorageError`, an ``OSError`` naming the
file, the container and the provider. The server's own words are kept (an S3
error's ``Code`` and ``Message``), and every configured secret is masked out of
them, whatever the driver put in its exception.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import ImproperlyConfigured, SuspiciousFileOperation

MASK = "********"
#: Secrets shorter than this are not searched for (they would mask ordinary words).
SHORTEST_SECRET = 4


class LibCloudStorageError(OSError):
    """A request to the provider failed for a reason other than a missing object."""

    def __init__(self, message: str, *, provider: str = "", name: str = "", status: int = 0):
        super().__init__(message)
        self.provider = provider
        self.name = name
        self.status = status

    def __reduce__(self) -> Any:
        return (_rebuild, (type(self), self.args, self.__dict__.copy()))


class LibCloudNameTaken(LibCloudStorageError):
    """A create-only write found the name taken (HTTP 412 to ``If-None-Match: *``)."""


class LibCloudNotFound(FileNotFoundError):
    """A missing object."""


def _rebuild(cls: type, args: tuple[Any, ...], state: dict[str, Any]) -> BaseException:
    error = OSError.__new__(cls, *args)
    OSError.__init__(error, *args)
    error.__dict__.update(state)
    return error


@dataclass(frozen=True)
class Where:
    """What an error message names: the provider entry, its driver, the container."""

    provider: str
    driver: str
    container: str
    secrets: tuple[str, ...] = field(default=(), repr=False)

    def describe(self, name: str) -> str:
        return (
            f"{name!r} in container {self.container!r} of Libcloud provider "
            f"{self.provider!r} ({self.driver})"
        )

    def scrub(self, text: str) -> str:
        return scrub(text, self.secrets)


def scrub(text: str, secrets: Iterable[str]) -> str:
    """``text`` with every secret (and its URL-quoted form) replaced by a mask."""
    from urllib.parse import quote

    for secret in secrets:
        if secret and len(secret) >= SHORTEST_SECRET:
            for form in {secret, quote(secret, safe=""), quote(secret)}:
                text = text.replace(form, MASK)
    return text


def server_words(value: Any) -> str:
    """What the server said: an S3 XML error's Code and Message, or the text itself."""
    text = str(value if value is not None else "")
    code = re.search(r"<Code>(.*?)</Code>", text, re.S)
    message = re.search(r"<Message>(.*?)</Message>", text, re.S)
    if code or message:
        return ": ".join(part.group(1).strip() for part in (code, message) if part)
    text = " ".join(text.split())
    return text[:300] + ("..." if len(text) > 300 else "")


def status_of(text: str) -> int:
    found = re.search(r"[Ss]tatus code:?\s*(\d{3})", text)
    return int(found.group(1)) if found else 0


@contextlib.contextmanager
def libcloud_errors(where: Where, name: str, action: str) -> Iterator[None]:
    """Translate what a Libcloud driver raises while ``action``-ing ``name``."""
    from libcloud.common.types import InvalidCredsError, LibcloudError
    from libcloud.storage.types import ContainerDoesNotExistError, ObjectDoesNotExistError

    what = where.describe(name)
    try:
        yield
    except (
        LibCloudStorageError,
        FileNotFoundError,
        SuspiciousFileOperation,
        ImproperlyConfigured,
    ):
        raise
    except ObjectDoesNotExistError:
        raise LibCloudNotFound(f"Could not {action} {what}: it does not exist") from None
    except ContainerDoesNotExistError:
        raise LibCloudStorageError(
            f"Could not {action} {what}: the container does not exist "
            "(create it first, e.g. storage.driver.create_container(name))",
            provider=where.provider,
            name=name,
            status=404,
        ) from None
    except InvalidCredsError as exc:
        # from None: the driver's exception carries the request, never shown.
        detail = where.scrub(server_words(exc.value))
        raise LibCloudStorageError(
            f"Could not {action} {what}: the provider refused the credentials"
            + (f" ({detail})" if detail else ""),
            provider=where.provider,
            name=name,
            status=403,
        ) from None
    except LibcloudError as exc:
        detail = where.scrub(server_words(exc.value))
        raise LibCloudStorageError(
            f"Could not {action} {what}: {detail or type(exc).__name__}",
            provider=where.provider,
            name=name,
            status=status_of(detail),
        ) from None
    except (OSError, ConnectionError, TimeoutError) as exc:
        # requests' errors are OSErrors; their text names the URL, never a secret,
        # but an exotic driver might put one there: scrubbed all the same.
        detail = where.scrub(f"{type(exc).__name__}: {exc}")
        raise LibCloudStorageError(
            f"Could not {action} {what}: {detail}", provider=where.provider, name=name
        ) from None
