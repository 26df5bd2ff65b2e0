"""SFTP: ``storages.backends.sftp.SFTPStorage``.

Modules: ``storage`` (the Storage API) and ``client`` (paramiko connections and
host-key checks).
"""

from __future__ import annotations

from storages.backends.sftp.client import HostKeyError, SFTPStorageError
from storages.backends.sftp.storage import SFTPStorage, SFTPStorageFile

__all__ = ["HostKeyError", "SFTPStorage", "SFTPStorageError", "SFTPStorageFile"]
