"""Our collectstatic: ``collector`` runs it, ``plan`` decides what to upload,
``staging`` hashes files on local disk, ``checks`` warns when Django's runs instead."""
