"""Plain SQL for the hot path's few statements, where the ORM's building of each one cost more CPU than the
statement (issue 17): what the apps that write them share, for SQLite and PostgreSQL alike."""

from __future__ import annotations

from typing import Any

from django.db import connection, models


def at_least_zero(expression: str) -> str:
    """`expression`, or 0 if it is below (counts are never negative)."""
    return f"GREATEST({expression}, 0)" if connection.vendor == "postgresql" else f"MAX({expression}, 0)"


def insert_row(model: type[models.Model], values: dict[str, Any]) -> None:
    """INSERT one row of `model` with `values` (by attname; the columns not named get the database's
    default), each prepared by its field as save() would (a UUID as SQLite's text, a JSONField's encoder, a
    date's and a datetime's adaptation)."""
    fields = [model._meta.get_field(name) for name in values]
    columns = ", ".join(connection.ops.quote_name(field.column) for field in fields)
    params = [field.get_db_prep_save(value, connection) for field, value in zip(fields, values.values(), strict=True)]
    table = connection.ops.quote_name(model._meta.db_table)
    placeholders = ", ".join(["%s"] * len(params))
    with connection.cursor() as cursor:
        cursor.execute(f"INSERT INTO {table} ({columns}) VALUES ({placeholders})", params)  # noqa: S608
