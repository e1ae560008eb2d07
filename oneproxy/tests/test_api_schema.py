"""The OpenAPI 3 document: valid, complete, and true to what the API really returns."""

import re

import pytest
from drf_spectacular.validation import validate_schema
from openapi_schema_validator import OAS30ReadValidator, oas30_format_checker
from rest_framework.test import APIClient

from billing.services import create_token
from conftest import make_channel
from oneproxy.api import urls as api_urls

pytestmark = pytest.mark.django_db

PARAM = re.compile(r"\(\?P<(\w+)>[^)]*\)")
NOT_DOCUMENTED = {"/api/schema/", "/api/docs/"}


@pytest.fixture
def spec(db):
    response = APIClient().get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    return response.json()


def _routes():
    """Every (path, view) the API urlconf serves, as OpenAPI path templates."""
    for pattern in api_urls.urlpatterns:
        raw = str(pattern.pattern)
        if r"\.(?P<format>" in raw:
            continue  # format-suffix twins of the routes below
        path = "/api/" + PARAM.sub(r"{\1}", raw).strip("^$").replace("pk", "id")
        if path not in NOT_DOCUMENTED:
            yield path, pattern.callback


def test_the_schema_is_a_valid_openapi_3_document(spec):
    assert spec["openapi"].startswith("3.0")
    validate_schema(spec)  # raises on any violation of the OpenAPI 3.0 JSON schema


def test_the_schema_documents_every_route_and_method(spec):
    routes = list(_routes())
    assert len(routes) >= 20
    for path, view in routes:
        assert path in spec["paths"], path
        actions = getattr(view, "actions", None) or {
            m: m for m in view.cls.http_method_names if hasattr(view.cls, m)}
        documented = set(spec["paths"][path])
        served = set(actions) & set(view.cls.http_method_names)  # PUT is off: 405
        for method in served - {"head", "options"}:
            assert method in documented, (path, method)


def test_the_schema_declares_bearer_and_session_auth(spec):
    schemes = spec["components"]["securitySchemes"]
    assert schemes["accessToken"] == {**schemes["accessToken"], "type": "http",
                                      "scheme": "bearer"}
    assert "cookieAuth" in schemes


def _check(spec, path, method, status, body):
    operation = spec["paths"][path][method]
    schema = operation["responses"][str(status)]["content"]["application/json"]["schema"]
    validator = OAS30ReadValidator({**schema, "components": spec["components"]},
                                   format_checker=oas30_format_checker)
    validator.validate(body)


def test_real_responses_match_their_documented_schemas(spec, staff_api, rich_user,
                                                       fake_openai):
    channel = make_channel("c", base_url=fake_openai.url)
    token, _key = create_token(rich_user, "t")
    calls = [
        ("/api/channels/", "get", staff_api.get("/api/channels/")),
        ("/api/channels/{id}/", "get", staff_api.get(f"/api/channels/{channel.pk}/")),
        ("/api/channels/{id}/test/", "post",
         staff_api.post(f"/api/channels/{channel.pk}/test/", {}, format="json")),
        ("/api/tokens/", "post", staff_api.post("/api/tokens/", {"name": "n"}, format="json")),
        ("/api/tokens/{id}/regenerate/", "post",
         staff_api.post(f"/api/tokens/{token.pk}/regenerate/")),
        ("/api/users/", "get", staff_api.get("/api/users/")),
        ("/api/users/{id}/topup/", "post",
         staff_api.post(f"/api/users/{rich_user.pk}/topup/", {"quota": 5}, format="json")),
        ("/api/options/", "get", staff_api.get("/api/options/")),
        ("/api/usage/", "get", staff_api.get("/api/usage/?group_by=day,model,token")),
        ("/api/logs/", "get", staff_api.get("/api/logs/")),
    ]
    for path, method, response in calls:
        assert response.status_code in (200, 201), (path, response.content)
        _check(spec, path, method, response.status_code, response.json())


def test_the_docs_page_serves_swagger_ui_from_our_own_static_files(staff_api):
    html = staff_api.get("/api/docs/").content.decode()
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/" in html
    assert "cdn" not in html.lower() and "unpkg" not in html.lower()
