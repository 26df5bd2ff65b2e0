"""Moving files between any two storages: ``tree`` (list, copy, sync, verify) and
``cli`` (what the storage_* management commands share)."""
