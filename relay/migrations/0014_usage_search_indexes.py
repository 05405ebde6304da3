# Two indexes on a table of millions of rows (issue 17): built CONCURRENTLY on PostgreSQL, so that the relay
# keeps writing records while they are made (a plain CREATE INDEX would hold every insert back for the
# minutes it takes: about 30 s for ten million records on two cores). Hence atomic = False: PostgreSQL
# builds an index concurrently only outside a transaction. A build that fails leaves an INVALID index:
# drop it (DROP INDEX CONCURRENTLY usage_request_id) and migrate again. SQLite builds them the plain way.

from django.contrib.postgres.operations import AddIndexConcurrently
from django.db import migrations, models


class AddIndexConcurrentlyOnPostgreSQL(AddIndexConcurrently):
    """AddIndexConcurrently on PostgreSQL; a plain AddIndex on any other database."""

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == "postgresql":
            super().database_forwards(app_label, schema_editor, from_state, to_state)
        else:
            migrations.AddIndex.database_forwards(self, app_label, schema_editor, from_state, to_state)

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == "postgresql":
            super().database_backwards(app_label, schema_editor, from_state, to_state)
        else:
            migrations.AddIndex.database_backwards(self, app_label, schema_editor, from_state, to_state)


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("relay", "0013_responses"),
    ]

    operations = [
        AddIndexConcurrentlyOnPostgreSQL(
            model_name="usagerecord",
            index=models.Index(fields=["request_id"], name="usage_request_id"),
        ),
        AddIndexConcurrentlyOnPostgreSQL(
            model_name="usagerecord",
            index=models.Index(
                condition=models.Q(("status_code", 200), _negated=True),
                fields=["status_code", "-created"],
                name="usage_failures",
            ),
        ),
    ]
