"""``python -m tests.dropbox_api``: run the test Dropbox server."""

from tests.dropbox_api.server import main

main()
