from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from accounts.services import import_users, read_user_rows


class Command(BaseCommand):
    help = "Import users from the original ChatAPI's user.csv (username,password rows; passwords are hashed)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("path", type=Path, help="the CSV file")
        parser.add_argument("--update", action="store_true", help="set the password of users who already exist")

    def handle(self, *args, path: Path, update: bool, **options) -> None:
        try:
            with path.open(newline="", encoding="utf-8-sig") as file:
                report = import_users(read_user_rows(file), update=update)
        except OSError as exc:
            raise CommandError(f"Cannot read {path}: {exc.strerror}") from None
        except UnicodeDecodeError:
            raise CommandError(f"{path} is not UTF-8 text.") from None
        for username in report.created:
            self.stdout.write(f"created  {username}")
        for username in report.updated:
            self.stdout.write(f"updated  {username}")
        for username in report.skipped:
            self.stdout.write(f"skipped  {username} (exists; --update sets its password)")
        for problem in report.invalid:
            self.stderr.write(f"invalid  {problem}")
        self.stdout.write(
            self.style.SUCCESS(
                f"{len(report.created)} created, {len(report.updated)} updated, "
                f"{len(report.skipped)} skipped, {len(report.invalid)} invalid."
            )
        )
