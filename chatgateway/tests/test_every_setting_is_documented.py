"""Every environment variable chatgateway/settings.py reads is in the README's settings table and in
.env.example, as the README promises ("`.env.example` lists them all")."""

from __future__ import annotations

import re

from django.conf import settings

READ = re.compile(r'\benv\w*\(\s*"([A-Z][A-Z0-9_]+)"|environ(?:\.get\(|\[)\s*"([A-Z][A-Z0-9_]+)"')


def _variables_read() -> set[str]:
    text = (settings.BASE_DIR / "chatgateway" / "settings.py").read_text()
    return {first or second for first, second in READ.findall(text)}


def test_the_settings_read_are_found_by_this_test():
    assert {"DATABASE_URL", "CHATGATEWAY_LEASE_SECONDS", "OPENAI_API_KEY"} <= _variables_read()


def test_every_variable_read_is_in_the_readme_and_in_env_example():
    readme = (settings.BASE_DIR / "README.md").read_text()
    example = (settings.BASE_DIR / ".env.example").read_text()

    assert sorted(name for name in _variables_read() if f"`{name}`" not in readme) == []
    assert sorted(name for name in _variables_read() if not re.search(rf"^#? ?{name}=", example, re.M)) == []
