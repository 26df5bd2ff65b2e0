from django.apps import AppConfig


class StoragesConfig(AppConfig):
    name = "storages"
    verbose_name = "Storages"

    def ready(self) -> None:
        from storages import checks, collectstatic_checks, legacy  # noqa: F401 - register checks

        legacy.install()
