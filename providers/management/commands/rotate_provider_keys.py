from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from providers import crypto
from providers.services import rotate_key_encryption


class Command(BaseCommand):
    help = (
        "Re-encrypt every stored provider key with the first key of CHATGATEWAY_KEY_ENCRYPTION_KEYS, so that the "
        "others can be removed (docs/providers.md, 'Rotating the encryption key')."
    )

    def handle(self, *args, **options) -> None:
        try:
            count = rotate_key_encryption()
        except crypto.KeyUnreadable as error:
            raise CommandError(
                f"Nothing changed: {error}. Keep every key it may have been encrypted with in "
                "CHATGATEWAY_KEY_ENCRYPTION_KEYS until this command has run."
            ) from None
        self.stdout.write(self.style.SUCCESS(f"Re-encrypted {count} provider key(s) with the first encryption key."))
