"""``path("uploads/", include("storages.uploads.urls"))`` in the project's URLconf."""

from django.urls import path

from storages.uploads.views import direct_upload

urlpatterns = [path("direct/", direct_upload, name="storages-direct-upload")]
