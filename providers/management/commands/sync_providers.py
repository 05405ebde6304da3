from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from providers import syncfile


class Command(BaseCommand):
    help = (
        "Create or update the providers, keys, models and deployments a providers file declares (docs/providers.md). "
        "Keys are read from the environment variables the file names. A wrong file changes nothing."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("file", help="the providers file (YAML)")
        parser.add_argument(
            "--prune", action="store_true", help="also delete the providers and models the file does not declare"
        )
        parser.add_argument("--dry-run", action="store_true", help="check the file and say what would change")

    def handle(self, *args, file: str, prune: bool, dry_run: bool, **options) -> None:
        path = Path(file)
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as error:
            raise CommandError(
                f"Can't read {path}: {error.strerror if isinstance(error, OSError) else error}"
            ) from None
        try:
            declaration = syncfile.parse(text)
            syncfile.check_against_database(declaration, prune=prune)
            report = syncfile.apply(declaration, prune=prune, dry_run=dry_run)
        except syncfile.FileInvalid as invalid:
            lines = [
                f"{path}, line {line}: {message}" if line else f"{path}: {message}"
                for line, message in invalid.problems
            ]
            raise CommandError(f"{path} is not applied, nothing changed:\n" + "\n".join(lines)) from None
        for line in report.lines:
            self.stdout.write(f"  {line}")
        verb = "would change" if dry_run else "changed"
        summary = f"{path}: {report.changes} {verb}." if report.changes else f"{path}: nothing to change."
        self.stdout.write(self.style.SUCCESS(summary) if report.changes and not dry_run else summary)
