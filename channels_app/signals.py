"""Keep the routing index exact on every change that affects where requests may go."""

from django.db.models.signals import m2m_changed, post_delete, post_save
from django.dispatch import receiver

from core import cachebus

from .models import Channel, ChannelKey
from .services import rebuild_routing


@receiver(post_save, sender=Channel)
def channel_saved(sender, instance, raw=False, **kwargs):
    if not raw:
        rebuild_routing(instance)


@receiver(m2m_changed, sender=Channel.groups.through)
def channel_groups_changed(sender, instance, action, **kwargs):
    if action in ("post_add", "post_remove", "post_clear") and isinstance(instance, Channel):
        rebuild_routing(instance)


@receiver(post_delete, sender=Channel)
def channel_deleted(sender, instance, **kwargs):
    cachebus.bump("routing")


@receiver([post_save, post_delete], sender=ChannelKey)
def channel_key_changed(sender, instance, raw=False, **kwargs):
    if raw:
        return
    channel = Channel.objects.filter(pk=instance.channel_id).first()
    if channel is not None:
        rebuild_routing(channel)
