"""400, 403, 404 and 500 answer with the site's layout (top bar, navigation) and a plain message;
the favicon is served."""

from pathlib import Path

import pytest
from django.contrib.staticfiles import finders
from django.template import loader
from django.templatetags.static import static
from django.test import Client

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.crm.error_urls")]

HEADINGS = {
    400: "That request could not be read",
    403: "You may not open this page",
    404: "Page not found",
    500: "Something went wrong on our side",
}


def assert_site_page(html: str, status: int) -> None:
    assert '<header class="topbar">' in html
    assert 'aria-label="Main"' in html
    assert 'href="/queue/"' in html
    assert '<link rel="icon"' in html
    assert f"Error {status}" in html
    assert HEADINGS[status] in html
    # the exception's own words are for the logs, not for the page
    for internal in ("tampered", "managers only", "no such lead", "a bug", "Traceback"):
        assert internal not in html


@pytest.mark.parametrize("status", [400, 403, 404, 500])
def test_error_page_has_the_layout_when_signed_in(setter_client, status):
    setter_client.raise_request_exception = False

    response = setter_client.get(f"/fail/{status}/")

    assert response.status_code == status
    html = response.content.decode()
    assert_site_page(html, status)
    if status != 500:  # rendered with the request: the user's own top bar
        assert 'data-testid="user-role"' in html


def test_unknown_address_shows_the_404_page(setter_client):
    response = setter_client.get("/no-such-page/")

    assert response.status_code == 404
    assert_site_page(response.content.decode(), 404)


def test_not_found_page_for_an_anonymous_visitor_has_the_public_top_bar():
    response = Client().get("/no-such-page/")

    assert response.status_code == 404
    html = response.content.decode()
    assert_site_page(html, 404)
    assert "Log out" not in html


def test_server_error_page_renders_without_a_request_or_queries(django_assert_num_queries):
    # Django renders 500.html with no request and no context processors: it must not need them.
    with django_assert_num_queries(0):
        html = loader.get_template("500.html").render()

    assert_site_page(html, 500)


def test_csrf_failure_page_has_the_layout(setter):
    client = Client(enforce_csrf_checks=True)
    client.force_login(setter)

    response = client.post("/logout/")

    assert response.status_code == 403
    html = response.content.decode()
    assert '<header class="topbar">' in html
    assert "This form has expired" in html


def test_favicon_is_served(client):
    response = client.get("/favicon.ico")

    assert response.status_code == 302
    assert response["Location"] == static("favicon.svg")
    assert "<svg" in Path(finders.find("favicon.svg")).read_text()
