"""`make run`'s reloader watches the project's packages, not the whole checkout: without watchfiles, uvicorn's
reloader reads every `.py` file under its folders four times a second, and the virtualenv's made that two
thirds of a core, idle (14 s of CPU in 22 s; 2 s, its start, since)."""

from __future__ import annotations

from django.conf import settings

from chatgateway.management.commands.rungateway import source_dirs


def test_it_watches_every_app_and_nothing_outside_them():
    watched = {path.rsplit("/", 1)[1] for path in source_dirs()}

    assert {"chatgateway", "core", "relay", "quota", "accounts", "openai_api", "web"} <= watched
    assert not watched & {".venv", ".tools", "node_modules", "staticfiles", "outbox"}
    assert str(settings.BASE_DIR) not in source_dirs()  # the checkout itself would take in the virtualenv
