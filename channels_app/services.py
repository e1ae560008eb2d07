"""Channel workflows called alike by the admin, the API, the relay and the jobs."""

from django.db import transaction

from oneproxy import cachebus

from .models import Ability, Channel, KeyStatus


def rebuild_routing(channel: Channel) -> None:
    """Make the routing index rows of `channel` exact: one per (group, model) it serves
    while it is enabled and has at least one enabled key, none otherwise."""
    with transaction.atomic():
        Ability.objects.filter(channel=channel).delete()
        if channel.pk and channel.is_routable() and _has_enabled_key(channel):
            Ability.objects.bulk_create(
                Ability(
                    group=group,
                    model=model,
                    channel=channel,
                    priority=channel.priority,
                    weight=channel.weight,
                )
                for group in channel.groups.all()
                for model in sorted(channel.served_models())
            )
        cachebus.bump("routing")


def _has_enabled_key(channel: Channel) -> bool:
    return channel.keys.filter(status=KeyStatus.ENABLED).exists()
