from django.apps import AppConfig


class StoragesConfig(AppConfig):
    name = "storages"
    verbose_name = "Storages"

    def ready(self) -> None:
        from storages import checks, legacy  # noqa: F401 - register checks
        from storages.collectstatic import checks as collectstatic_checks  # noqa: F401

        legacy.install()
