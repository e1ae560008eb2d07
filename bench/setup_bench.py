"""Prepare the benchmark database: one priced model, one channel pointing at the fake
upstream, a user with plenty of quota and a token. Prints the token's key.

    DJANGO_SETTINGS_MODULE=oneproxy.settings python bench/setup_bench.py http://127.0.0.1:9100
"""

import sys
from decimal import Decimal

import django

django.setup()

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


if __name__ == "__main__":
    print(main(sys.argv[1]))
