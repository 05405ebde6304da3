from __future__ import annotations

from django.conf import settings
from django.db.models.signals import post_save, pre_delete
from django.dispatch import Signal, receiver

from quota.models import Quota


@receiver(post_save, sender=settings.AUTH_USER_MODEL, dispatch_uid="quota-for-every-user")
def give_every_user_a_quota(sender, instance, created: bool, raw: bool = False, **kwargs) -> None:
    """However a user is made (admin, createsuperuser, loaddata, import), they get a quota."""
    if created or raw:
        Quota.objects.get_or_create(user_id=instance.pk)


@receiver(pre_delete, sender=settings.AUTH_USER_MODEL, dispatch_uid="quota-leases-before-user")
def end_the_leases_of_a_user_being_deleted(sender, instance, **kwargs) -> None:
    """In the deletion's transaction, before Django deletes the quota row and the leases in an order of
    its own: the row locked first, then the leases ended, as settlements do (no deadlock with one)."""
    from quota.services import end_leases_of_deleted_user  # services imports this module

    end_leases_of_deleted_user(user_id=instance.pk)


# Sent when a lease of a lost request is settled (quota.services.settle_lost_lease), inside its transaction:
# `lease` (quota.models.Lease) says whose, which day and what the request was (`lease.note`).
lease_lost = Signal()


# Sent by quota.leases before it settles lost leases, with `lease_ids` (a frozenset of their ids): a receiver that
# holds the end of some of those requests, written by their process before it died but not yet in the database (the
# relay's outbox), writes it now if it can (`may_write`: False inside a caller's transaction, which could still be
# rolled back after the held end was let go of), and returns the ids whose end it still holds. Those are not lost:
# their end settles them as the request ended, not as a failed call.
lease_ends_held = Signal()
