"""Files go when the document that holds them is deleted (Django keeps them by default)."""

from django.db import transaction
from django.db.models.signals import post_delete
from django.dispatch import receiver

from gallery.models import Document


@receiver(post_delete, sender=Document)
def delete_files(sender, instance, **kwargs):
    for field_file in (instance.attachment, instance.picture):
        if field_file:
            # Only once the deletion is committed: a rolled-back delete keeps its files.
            transaction.on_commit(lambda f=field_file: f.storage.delete(f.name))
