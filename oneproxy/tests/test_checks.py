from django.test import override_settings

from oneproxy.checks import check_secret_key

STRONG = "x" * 20 + "strong-random-key-material-0123456789"


def test_debug_mode_accepts_any_key():
    with override_settings(DEBUG=True, SECRET_KEY="short"):
        assert check_secret_key() == []


def test_a_short_or_placeholder_key_is_refused_with_debug_off():
    with override_settings(DEBUG=False, SECRET_KEY="django-insecure-" + "a" * 40):
        assert [e.id for e in check_secret_key()] == ["oneproxy.E001"]
    with override_settings(DEBUG=False, SECRET_KEY="tooshort"):
        assert [e.id for e in check_secret_key()] == ["oneproxy.E001"]


def test_shared_servers_need_a_key_from_the_environment():
    with override_settings(
        DEBUG=False, SECRET_KEY=STRONG, SECRET_KEY_FROM_ENV=False, EMBEDDED_MODE=False
    ):
        assert [e.id for e in check_secret_key()] == ["oneproxy.E002"]


def test_embedded_mode_accepts_its_generated_key():
    with override_settings(
        DEBUG=False,
        SECRET_KEY=STRONG,
        SECRET_KEY_FROM_ENV=False,
        EMBEDDED_MODE=True,
        EMBEDDED_DATABASE=True,
    ):
        assert check_secret_key() == []
