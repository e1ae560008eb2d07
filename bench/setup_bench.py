"""Prepare the benchmark database: one priced model, one channel pointing at the fake
upstream, a user with plenty of quota and a token. Prints the token's key.

    DJANGO_SETTINGS_MODULE=oneproxy.settings python bench/setup_bench.py http://127.0.0.1:9100
"""

import sys
import time
from decimal import Decimal

import django

django.setup()

from django.db import IntegrityError  # noqa: E402

from billing.models import Group, Price, Token, User  # noqa: E402
from billing.services import create_token  # noqa: E402
from channels_app.models import Channel, ChannelKey  # noqa: E402


def main(upstream: str) -> str:
    group = Group.objects.get_or_create(name="default")[0]
    Price.objects.update_or_create(model="gpt-4o-mini", defaults={
        "input_price": Decimal("0.15"), "output_price": Decimal("0.6")})
    Channel.objects.filter(name="bench").delete()
    channel = Channel.objects.create(type="openai", name="bench", base_url=upstream,
                                     model_names=["gpt-4o-mini"])
    ChannelKey.objects.create(channel=channel, key="sk-bench-upstream-key")
    channel.groups.set([group])
    user, _ = User.objects.get_or_create(username="bench", defaults={"group": group})
    User.objects.filter(pk=user.pk).update(quota=10**15)
    Token.objects.filter(user=user).delete()
    _token, key = create_token(user, "bench", unlimited_quota=True)
    return key


def main_with_retries(upstream: str) -> str:
    """A server of the previous run may still be flushing its last log rows, which
    reference the old channel and token while they are deleted here: try again."""
    for attempt in range(5):
        try:
            return main(upstream)
        except IntegrityError:
            if attempt == 4:
                raise
            time.sleep(1)
    raise AssertionError("unreachable")


if __name__ == "__main__":
    print(main_with_retries(sys.argv[1]))
