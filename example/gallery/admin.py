from django.contrib import admin

from gallery.models import Document


@admin.register(Document)
class DocumentAdmin(admin.ModelAdmin):
    list_display = ("title", "attachment", "picture", "uploaded_at")
