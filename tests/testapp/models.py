"""The model of the original documentation's "Tests" section (``MyStorage``)."""

import uuid

from django.db import models


def random_upload_to(instance, filename):
    # Called once per save: the directory must be decided once (Django #5655).
    return f"{uuid.uuid4().hex}/{filename}"


class MyStorage(models.Model):
    normal = models.FileField(upload_to="tests")
    default = models.FileField(upload_to="tests", default="tests/default.txt")
    random = models.FileField(upload_to=random_upload_to)
    photo = models.ImageField(upload_to="photos", blank=True)
    # The same default-file behaviour for stores that only take images.
    default_image = models.ImageField(upload_to="tests", default="tests/default.png")
