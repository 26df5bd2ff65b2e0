from django.core.files.storage import storages
from django.db import models


def image_storage():
    # A callable: the storage is looked up when the field needs it, and
    # migrations record the callable rather than a configured instance.
    return storages["images"]


class Document(models.Model):
    title = models.CharField(max_length=200)
    attachment = models.FileField(upload_to="documents/%Y/%m")
    picture = models.ImageField(upload_to="pictures", storage=image_storage, blank=True)
    uploaded_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.title
