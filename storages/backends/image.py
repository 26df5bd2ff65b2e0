"""Local disk that names images by their real format, as Pillow identifies it."""

from __future__ import annotations

import os
from typing import Any

from django.utils.deconstruct import deconstructible

from storages.filesystem import SafeFileSystemStorage
from storages.utils import require

# Pillow format -> the extension people expect; others use the format's name.
PREFERRED_EXTENSIONS = {"JPEG": ".jpg", "TIFF": ".tif", "JPEG2000": ".jp2", "MPO": ".jpg"}


class NotAnImageError(ValueError):
    """Content Pillow cannot identify as an image."""


def image_extension(content: Any, name: str) -> str:
    """The lower-case extension of ``content``'s real image format."""
    image_module = require("PIL.Image", "image")
    if hasattr(content, "seek"):
        content.seek(0)
    try:
        with image_module.open(content) as image:  # reads the header only
            image_format = image.format
    except (OSError, SyntaxError, ValueError) as exc:
        raise NotAnImageError(f"{name!r} is not an image Pillow can identify.") from exc
    finally:
        if hasattr(content, "seek"):
            content.seek(0)
    current = os.path.splitext(name)[1].lower()
    if image_module.registered_extensions().get(current) == image_format:
        return current
    return PREFERRED_EXTENSIONS.get(image_format, "." + image_format.lower())


@deconstructible
class ImageStorage(SafeFileSystemStorage):
    """Give every stored image the lower-case extension of its real format.

    ``photo.JPG`` holding PNG data is stored as ``photo.png``; content that is
    not an image raises :class:`NotAnImageError` and nothing is written.
    """

    def _save(self, name: str, content: Any) -> str:
        extension = image_extension(content, name)
        root, current = os.path.splitext(name)
        if current != extension:
            name = self.get_available_name(root + extension)
        return super()._save(name, content)
