"""What this backend does itself on Libcloud's LOCAL driver: writes that appear whole.

The driver's own upload writes the object in place (``open(path, "wb")``): a
reader sees a partial file while it is written, a failed or interrupted write
leaves one under the name, and an overwrite has destroyed the old content
before the first byte of the new. Here the bytes go to a hidden temporary file
in the object's directory, flushed to disk, which then takes the name in one
step: ``os.replace`` when overwriting, ``os.link`` (which refuses a taken name)
for a create-only save. A reader sees the old file or the new one, never a part.

The object's path is the driver's own (``get_object_cdn_url``). Temporary
names match :data:`TEMP_NAME`: listings hide them, and every public method
refuses them as names, so no file of the user's can be one.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import secrets
from collections.abc import Iterable
from typing import Any

#: Uploads in progress (one path component).
TEMP_NAME = re.compile(r"^\.storages-libcloud-[0-9a-f]{16}\.part$")
#: What the driver leaves its objects readable by (it chmods each one so).
OBJECT_MODE = 0o664
#: Tries at making the temporary file; a delete in between may remove the empty directory.
CREATE_TRIES = 3


def is_temporary(key: str) -> bool:
    """Whether any component of ``key`` is a temporary name."""
    return any(TEMP_NAME.match(part) for part in key.split("/"))


def _create_temporary(directory: str) -> tuple[str, int]:
    for attempt in range(CREATE_TRIES):
        os.makedirs(directory, exist_ok=True)
        path = os.path.join(directory, f".storages-libcloud-{secrets.token_hex(8)}.part")
        try:
            return path, os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, OBJECT_MODE)
        except FileNotFoundError:
            # Another save's delete removed the directory, empty for a moment.
            if attempt == CREATE_TRIES - 1:
                raise
    raise AssertionError("unreachable")  # pragma: no cover


def _publish(temporary: str, target: str, *, create_only: bool) -> bool:
    """Move ``temporary`` to ``target`` in one step; False if create-only found it taken."""
    if not create_only:
        os.replace(temporary, target)
        return True
    try:
        os.link(temporary, target)  # atomic, and refused if the name exists
        return True
    except FileExistsError:
        return False
    except OSError as exc:
        if exc.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP):
            raise
    # No hard links on this filesystem: the name lock (a lock file on this
    # machine) keeps this check and the move together.
    if os.path.lexists(target):
        return False
    os.replace(temporary, target)
    return True


def store(driver: Any, obj: Any, chunks: Iterable[bytes], *, create_only: bool) -> bool:
    """Write ``chunks`` as ``obj``; False (and nothing written) if create-only found it taken.

    Whatever fails, the temporary file is gone and the name holds what it held.
    """
    driver.get_container_cdn_url(obj.container, check=True)  # a missing container: its error
    target = driver.get_object_cdn_url(obj)
    temporary, fd = _create_temporary(os.path.dirname(target))
    try:
        with os.fdopen(fd, "wb") as out:
            os.fchmod(out.fileno(), OBJECT_MODE)  # the mode the driver gives, whatever the umask
            for chunk in chunks:
                out.write(chunk)
            out.flush()
            os.fsync(out.fileno())  # the bytes on disk before the name points at them
        return _publish(temporary, target, create_only=create_only)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
