"""Bringing users in from the original ChatAPI's user.csv."""

from __future__ import annotations

import csv
import dataclasses
from collections.abc import Iterable, Iterator
from typing import TextIO

from django.contrib.auth import get_user_model
from django.db import transaction

HEADER_USERNAMES = {"username", "user", "u", "name"}
HEADER_PASSWORDS = {"password", "pass", "p", "pwd"}


@dataclasses.dataclass
class ImportReport:
    created: list[str] = dataclasses.field(default_factory=list)
    updated: list[str] = dataclasses.field(default_factory=list)
    skipped: list[str] = dataclasses.field(default_factory=list)
    invalid: list[str] = dataclasses.field(default_factory=list)  # "line N: why"


def read_user_rows(file: TextIO) -> Iterator[tuple[int, str, str]]:
    """(line number, username, password) from a ChatAPI user.csv.

    Rows are `username,password`, or `id,username,password` (the id is ignored); a header row
    naming the columns is recognised and may put them in any order.
    """
    rows = [(number, row) for number, row in enumerate(csv.reader(file), start=1) if any(c.strip() for c in row)]
    if not rows:
        return
    username_at, password_at = None, None
    header = [cell.strip().lower() for cell in rows[0][1]]
    if HEADER_USERNAMES & set(header) and HEADER_PASSWORDS & set(header):
        username_at = next(i for i, cell in enumerate(header) if cell in HEADER_USERNAMES)
        password_at = next(i for i, cell in enumerate(header) if cell in HEADER_PASSWORDS)
        rows = rows[1:]
    for number, row in rows:
        cells = [cell.strip() for cell in row]
        if username_at is not None:
            at = (username_at, password_at)
        else:
            at = (1, 2) if len(cells) >= 3 and cells[0].isdigit() else (0, 1)
        if max(at) >= len(cells):
            yield number, "", ""
            continue
        yield number, cells[at[0]], cells[at[1]]


def import_users(rows: Iterable[tuple[int, str, str]], *, update: bool = False) -> ImportReport:
    """Create users (passwords hashed) from rows; existing ones are skipped, or updated if asked."""
    User = get_user_model()
    report = ImportReport()
    for number, username, password in rows:
        if not username or not password:
            report.invalid.append(f"line {number}: needs a username and a password")
            continue
        if len(username) > User._meta.get_field("username").max_length:
            report.invalid.append(f"line {number}: username {username!r} is too long")
            continue
        with transaction.atomic():
            user = User.objects.filter(username=username).first()
            if user is None:
                User.objects.create_user(username=username, password=password)
                report.created.append(username)
            elif update:
                user.set_password(password)
                user.save(update_fields=["password"])
                report.updated.append(username)
            else:
                report.skipped.append(username)
    return report
