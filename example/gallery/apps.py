from django.apps import AppConfig


class GalleryConfig(AppConfig):
    name = "gallery"

    def ready(self):
        from gallery import signals  # noqa: F401 - connects the receivers
