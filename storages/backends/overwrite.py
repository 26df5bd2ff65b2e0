"""Local disk that keeps the given name, replacing the old file atomically."""

from __future__ import annotations

import os
from typing import Any

from django.utils.deconstruct import deconstructible

from storages.filesystem import SafeFileSystemStorage


@deconstructible
class OverwriteStorage(SafeFileSystemStorage):
    """A file saved under an existing name replaces it; readers never see a partial file."""

    def __init__(
        self,
        location: str | os.PathLike[str] | None = None,
        base_url: str | None = None,
        file_permissions_mode: int | None = None,
        directory_permissions_mode: int | None = None,
        **options: Any,
    ) -> None:
        options.setdefault("allow_overwrite", True)
        super().__init__(
            location, base_url, file_permissions_mode, directory_permissions_mode, **options
        )
