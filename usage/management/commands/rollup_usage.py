from __future__ import annotations

import time

from django.core.management.base import BaseCommand

from usage import rollup


class Command(BaseCommand):
    help = (
        "Roll up the usage records written since the last run, and recompute the days whose records were "
        "deleted; --rebuild recomputes every day. Run it once after migrating a database with many records, "
        "then from cron (reports refresh it themselves when a few thousand records are new)."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--rebuild", action="store_true", help="recompute every day from the records")

    def handle(self, *args, rebuild: bool, **options) -> None:
        started = time.monotonic()
        days = rollup.refresh(rebuild=rebuild)
        current = rollup.state()
        self.stdout.write(
            f"Rolled up {days:,} day{'s' if days != 1 else ''} in {time.monotonic() - started:.1f} s: "
            f"the roll-up holds the records up to id {current.last_id:,}."
        )
