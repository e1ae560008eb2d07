"""Invalidate the relay's caches whenever billing data it holds changes."""

from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from core import cachebus

from .models import Group, Option, Price, Token, User

_TOPICS = {
    User: ("auth",),
    Token: ("auth",),
    Group: ("auth", "routing"),
    Price: ("prices",),
    Option: ("options",),
}


@receiver([post_save, post_delete])
def billing_row_changed(sender, **kwargs):
    topics = _TOPICS.get(sender)
    if topics:
        cachebus.bump(*topics)
