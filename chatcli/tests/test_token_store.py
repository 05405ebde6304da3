"""The kept tokens: a file per server, created readable by its owner only, and a damaged one is no login."""

from __future__ import annotations

import os
import stat

from chatcli.tokens import Credentials, TokenStore


def test_it_creates_the_file_with_mode_0600_even_under_a_permissive_umask(tmp_path):
    store = TokenStore("http://127.0.0.1:8000", folder=tmp_path)
    previous = os.umask(0)
    try:
        store.save(Credentials(username="ada", access="a", refresh="r"))
    finally:
        os.umask(previous)

    assert stat.S_IMODE(store.path.stat().st_mode) == 0o600
    assert stat.S_IMODE(store.path.parent.stat().st_mode) == 0o700
    assert store.load() == Credentials(username="ada", access="a", refresh="r")


def test_it_never_leaves_a_readable_copy_behind(tmp_path):
    store = TokenStore("http://127.0.0.1:8000", folder=tmp_path)
    store.save(Credentials(username="ada", access="a1", refresh="r1"))
    store.save(Credentials(username="ada", access="a2", refresh="r2"))

    assert [path.name for path in store.path.parent.iterdir()] == [store.path.name]
    assert store.load().access == "a2"


def test_it_keeps_one_file_per_server(tmp_path):
    here = TokenStore("http://127.0.0.1:8000", folder=tmp_path)
    there = TokenStore("https://chat.example.org", folder=tmp_path)
    here.save(Credentials(username="ada", access="a"))

    assert here.path != there.path
    assert there.load() is None
    assert "chat.example.org" in there.path.name


def test_a_damaged_file_counts_as_no_login(tmp_path):
    store = TokenStore("http://127.0.0.1:8000", folder=tmp_path)
    store.path.parent.mkdir(parents=True)
    store.path.write_text("{not json")

    assert store.load() is None


def test_clear_forgets_the_login(tmp_path):
    store = TokenStore("http://127.0.0.1:8000", folder=tmp_path)
    store.save(Credentials(username="ada", access="a"))
    store.clear()
    store.clear()  # nothing kept: no error

    assert store.load() is None
