"""Browser-direct uploads: the file goes from the browser to the store, never through Django.

Setup (see docs/direct_uploads.rst)::

    # urls.py
    path("uploads/", include("storages.uploads.urls")),
    # admin.py
    from storages.uploads import DirectUploadsAdminMixin
    class DocumentAdmin(DirectUploadsAdminMixin, admin.ModelAdmin): ...

or, in a ``ModelForm``: ``Meta.formfield_callback = direct_upload_formfield``.
"""

from storages.uploads.fields import (
    AdminDirectUploadWidget,
    DirectFileField,
    DirectUploadsAdminMixin,
    DirectUploadWidget,
    direct_upload_formfield,
)

__all__ = [
    "AdminDirectUploadWidget",
    "DirectFileField",
    "DirectUploadWidget",
    "DirectUploadsAdminMixin",
    "direct_upload_formfield",
]
