"""Simplified Chinese: every string is translated, the committed .mo matches the .po,
and LocaleMiddleware serves the admin in Chinese to browsers that ask for it."""

import ast
import gettext
import re
from pathlib import Path

import pytest
from django.conf import settings
from django.urls import reverse
from django.utils import translation

from billing.services import create_token
from conftest import make_channel

LOCALE_DIR = Path(settings.BASE_DIR) / "locale" / "zh_Hans" / "LC_MESSAGES"
ENTRY = re.compile(
    r'^msgid ((?:".*"\n)+)(?:msgid_plural ((?:".*"\n)+))?'
    r'(?:msgstr(?:\[0\])? ((?:".*"\n?)+))',
    re.MULTILINE,
)


def po_entries():
    text = (LOCALE_DIR / "django.po").read_text(encoding="utf-8")
    for match in ENTRY.finditer(text):
        msgid, plural, msgstr = (_join(g) if g else None for g in match.groups())
        if msgid:
            yield msgid, plural, msgstr


def _join(block: str) -> str:
    return "".join(ast.literal_eval(line) for line in block.strip().splitlines())


def test_every_message_has_a_chinese_translation_and_none_is_fuzzy():
    entries = list(po_entries())
    assert len(entries) > 250
    untranslated = [msgid for msgid, _plural, msgstr in entries if not msgstr]
    assert untranslated == []
    assert "#, fuzzy" not in (LOCALE_DIR / "django.po").read_text(encoding="utf-8")


def test_the_committed_mo_file_matches_the_po_file():
    with (LOCALE_DIR / "django.mo").open("rb") as handle:
        catalog = gettext.GNUTranslations(handle)
    for msgid, plural, msgstr in po_entries():
        got = catalog.ngettext(msgid, plural, 1) if plural else catalog.gettext(msgid)
        assert got == msgstr, msgid


def test_django_picks_up_the_catalog_for_zh_hans():
    with translation.override("zh-hans"):
        assert translation.gettext("Dashboard") == "仪表盘"
        assert translation.gettext("remaining quota") == "剩余额度"


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("admin:dashboard", "每日请求数"),
        ("admin:channels_app_channel_changelist", "立即测试所选渠道"),
        ("admin:billing_token_changelist", "吊销所选令牌"),
        ("admin:account", "兑换码兑换"),
    ],
)
def test_the_admin_speaks_chinese_to_a_browser_that_asks_for_it(
    root_client, admin_user, url, expected
):
    make_channel("ch")  # actions only show on a non-empty changelist
    create_token(admin_user, "t", remain_quota=1)
    response = root_client.get(reverse(url), headers={"accept-language": "zh-Hans,zh;q=0.9"})
    assert response.status_code == 200
    html = response.content.decode()
    assert expected in html and 'lang="zh-hans"' in html


def test_english_stays_the_default(root_client):
    html = root_client.get(reverse("admin:dashboard")).content.decode()
    assert "Requests per day" in html


def test_the_language_switch_sets_the_language(root_client):
    response = root_client.post(
        reverse("set_language"), {"language": "zh-hans", "next": reverse("admin:dashboard")}
    )
    assert response.status_code == 302
    assert "每日请求数" in root_client.get(reverse("admin:dashboard")).content.decode()
