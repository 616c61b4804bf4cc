"""Every URL needs a login, except the explicit allow-lists below.

The URL patterns are walked at collection time, so a view added without login protection (or
marked login_not_required) makes a test fail here until it is reviewed onto an allow-list.
"""

import re
import uuid
from urllib.parse import parse_qs, urlsplit

import pytest
from django.urls import URLPattern, URLResolver, converters, get_resolver, resolve
from django.urls.resolvers import RoutePattern

# Answer anonymous requests on purpose: load balancers, and the two ways to sign in.
ALLOWED_ANONYMOUS = {"healthz", "login", "admin:login"}
# JSON API: a session or a bearer token; anyone else gets 401 JSON, never a login page.
TOKEN_AUTH_API = {"api-leads-needing-action", "api-schema"}
# Webhooks from outside: authenticated by the sender's signature; unsigned requests get 401 JSON.
SIGNED_WEBHOOKS = {"hubspot-webhook"}
# Browsers ask for /favicon.ico before anyone signs in: a redirect to the public static icon.
STATIC_REDIRECTS = {"favicon"}

SAMPLE_BY_CONVERTER = {
    converters.IntConverter: "1",
    converters.StringConverter: "x",
    converters.SlugConverter: "x",
    converters.PathConverter: "x",
    converters.UUIDConverter: str(uuid.UUID(int=1)),
}
ROUTE_PARAM = re.compile(r"<(?:[^>:]+:)?(?P<name>\w+)>")
REGEX_GROUP = re.compile(r"\(\?P<\w+>(?P<body>[^()]*)\)")


def _route_sample(pattern) -> str:
    def sample(match: re.Match) -> str:
        converter = type(pattern.converters[match["name"]])
        if converter not in SAMPLE_BY_CONVERTER:
            raise LookupError(f"add a sample value for {converter.__name__} to SAMPLE_BY_CONVERTER")
        return SAMPLE_BY_CONVERTER[converter]

    return ROUTE_PARAM.sub(sample, str(pattern))


def _regex_sample(pattern) -> str:
    def sample(match: re.Match) -> str:
        body = match["body"]
        # A group of literal alternatives (the admin's app labels) takes its first one.
        return body.split("|")[0] if re.fullmatch(r"[\w|]+", body) else "x"

    return REGEX_GROUP.sub(sample, str(pattern)).removeprefix("^").removesuffix("$")


def _sample(pattern) -> str:
    return _route_sample(pattern) if isinstance(pattern, RoutePattern) else _regex_sample(pattern)


def _walk(resolver: URLResolver, prefix: str = "", namespace: str = ""):
    """(sample path, view name or None, pattern) for every leaf URL pattern."""
    for entry in resolver.url_patterns:
        if isinstance(entry, URLResolver):
            inner = f"{namespace}{entry.namespace}:" if entry.namespace else namespace
            yield from _walk(entry, prefix + _sample(entry.pattern), inner)
        elif isinstance(entry, URLPattern):
            name = f"{namespace}{entry.name}" if entry.name else None
            yield "/" + prefix + _sample(entry.pattern), name, entry


URLS = list(_walk(get_resolver()))
PROTECTED = [
    (path, pattern)
    for path, name, pattern in URLS
    if name not in ALLOWED_ANONYMOUS | TOKEN_AUTH_API | SIGNED_WEBHOOKS | STATIC_REDIRECTS
]
ALLOWED = [path for path, name, _ in URLS if name in ALLOWED_ANONYMOUS]
API = [path for path, name, _ in URLS if name in TOKEN_AUTH_API]
WEBHOOKS = [path for path, name, _ in URLS if name in SIGNED_WEBHOOKS]
REDIRECTS = [path for path, name, _ in URLS if name in STATIC_REDIRECTS]


def test_url_walk_finds_the_app_and_admin_urls():
    paths = {path for path, _, _ in URLS}
    assert {"/", "/login/", "/logout/", "/healthz/", "/admin/", "/admin/leads/contact/x/change/"} <= paths
    names = {name for _, name, _ in URLS}
    allowed = ALLOWED_ANONYMOUS | TOKEN_AUTH_API | SIGNED_WEBHOOKS | STATIC_REDIRECTS
    assert names >= allowed, "a stale entry in an allow-list"


@pytest.mark.parametrize(("path", "pattern"), PROTECTED, ids=[path for path, _ in PROTECTED])
@pytest.mark.parametrize("method", ["get", "post"])
@pytest.mark.django_db
def test_url_redirects_anonymous_to_login(client, path, pattern, method):
    # The sample path must reach the pattern it was built from, or the check proves nothing.
    assert resolve(path).func is pattern.callback, f"{path} resolves to another view; adjust the samples"

    response = getattr(client, method)(path)

    assert response.status_code == 302, f"anonymous {method.upper()} {path} answered {response.status_code}"
    location = urlsplit(response["Location"])
    # The admin's own views send people to the admin's sign-in page; that is a login too.
    assert location.path in ("/login/", "/admin/login/")
    assert parse_qs(location.query)["next"] == [path]


@pytest.mark.parametrize("path", ALLOWED)
@pytest.mark.django_db
def test_allowed_url_answers_anonymous_without_redirect(client, path):
    assert client.get(path).status_code == 200


@pytest.mark.parametrize("path", API)
@pytest.mark.django_db
def test_api_url_answers_anonymous_with_401(client, path):
    response = client.get(path)

    assert response.status_code == 401
    assert response["Content-Type"] == "application/json"
    assert response["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize("path", WEBHOOKS)
@pytest.mark.django_db
def test_webhook_url_answers_unsigned_requests_with_401(client, path):
    response = client.post(path, data=b"[]", content_type="application/json")

    assert response.status_code == 401
    assert response["Content-Type"] == "application/json"


@pytest.mark.parametrize("path", REDIRECTS)
@pytest.mark.django_db
def test_static_redirect_answers_anonymous_with_a_static_file(client, path):
    response = client.get(path)

    assert response.status_code == 302
    assert response["Location"].startswith("/static/")
