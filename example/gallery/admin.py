from django.contrib import admin

from gallery.models import Document
from storages.uploads import DirectUploadsAdminMixin


@admin.register(Document)
class DocumentAdmin(DirectUploadsAdminMixin, admin.ModelAdmin):
    # The attachment goes from the browser straight to the store (never through Django).
    direct_upload_fields = ("attachment",)
    list_display = ("title", "attachment", "picture", "uploaded_at")
