from __future__ import annotations

import datetime as dt

from django.core.management.base import BaseCommand, CommandError
from django.template.defaultfilters import pluralize

from usage.retention import count_usage_records_older_than, prune_usage_records

# A hundred years: any more and the cutoff would fall before the calendar datetimes can hold.
MAX_DAYS = 36_500


class Command(BaseCommand):
    help = "Delete usage records older than --older-than DAYS, 5,000 per DELETE; --dry-run only counts them."

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--older-than", type=int, required=True, metavar="DAYS", help="delete records older than this many days"
        )
        parser.add_argument("--dry-run", action="store_true", help="count the records that would go, delete none")

    def handle(self, *args, older_than: int, dry_run: bool, **options) -> None:
        if not 1 <= older_than <= MAX_DAYS:
            raise CommandError(f"--older-than takes a number of days from 1 to {MAX_DAYS:,}, not {older_than}.")
        age = dt.timedelta(days=older_than)
        if dry_run:
            verb, count = "Would delete", count_usage_records_older_than(older_than=age)
        else:
            verb, count = "Deleted", prune_usage_records(older_than=age)
        records, days = f"{count:,} usage record{pluralize(count)}", f"{older_than} day{pluralize(older_than)}"
        self.stdout.write(f"{verb} {records} older than {days}.")
