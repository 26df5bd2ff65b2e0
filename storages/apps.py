from django.apps import AppConfig


class StoragesConfig(AppConfig):
    name = "storages"
    verbose_name = "Storages"

    def ready(self) -> None:
        from storages import checks, legacy  # noqa: F401 - registers the system check

        legacy.install()
