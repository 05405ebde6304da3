"""The translation catalogs: complete, and in step with the code and with their compiled .mo files."""

from __future__ import annotations

import gettext
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings

LOCALE = Path(settings.BASE_DIR) / "locale"
CATALOGS = sorted(LOCALE.glob("*/LC_MESSAGES/*.po"))
NOT_COPIED = shutil.ignore_patterns(".venv", ".git", "staticfiles", "__pycache__", "*.sqlite3*", ".dev-secret-key")


@pytest.fixture(autouse=True)
def gettext_tools():
    if not (shutil.which("msgfmt") and shutil.which("xgettext") and shutil.which("make")):
        reason = "GNU gettext is not installed: apt-get install gettext (make test does, as root)"
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)


def compiled(mo: Path) -> dict:
    with mo.open("rb") as file:
        return gettext.GNUTranslations(file)._catalog


def test_there_is_a_simplified_chinese_catalog_for_the_server_and_for_the_page():
    assert [str(po.relative_to(LOCALE)) for po in CATALOGS] == [
        "zh_Hans/LC_MESSAGES/django.po",
        "zh_Hans/LC_MESSAGES/djangojs.po",
    ]


@pytest.mark.parametrize("po", CATALOGS, ids=lambda po: str(po.relative_to(LOCALE)))
def test_every_message_is_translated(po):
    result = subprocess.run(
        ["msgfmt", "--check", "--statistics", "-o", os.devnull, str(po)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    assert "untranslated" not in result.stderr
    assert "fuzzy" not in result.stderr


def test_make_messages_finds_every_string_in_the_code_and_the_committed_mo_files_are_compiled_from_the_po(tmp_path):
    """`make messages` in a copy of the project changes no catalog: no string is missing, none left over."""
    copy = tmp_path / "project"
    shutil.copytree(settings.BASE_DIR, copy, ignore=NOT_COPIED)
    environment = {key: value for key, value in os.environ.items() if key != "DJANGO_SETTINGS_MODULE"}
    subprocess.run(
        ["make", "--silent", "-o", ".venv/.installed", f"PY={sys.executable}", "messages"],
        cwd=copy, env=environment, capture_output=True, check=True, timeout=120,
    )  # fmt: skip
    for po in CATALOGS:
        fresh = copy / po.relative_to(settings.BASE_DIR)
        assert without_creation_date(fresh) == without_creation_date(po), f"run `make messages`: {po} is stale"
        mo = po.with_suffix(".mo")
        assert compiled(mo) == compiled(fresh.with_suffix(".mo")), f"run `make messages`: {mo} is stale"


def without_creation_date(po: Path) -> list[str]:
    return [line for line in po.read_text().splitlines() if not line.startswith('"POT-Creation-Date:')]
