"""Content-Security-Policy and Permissions-Policy on every response, and templates that keep
working under the policy (no inline script, style or eval)."""

import re
from pathlib import Path

import pytest
from django.conf import settings

TEMPLATES = Path(settings.BASE_DIR) / "templates"
# What the policy refuses: inline <script> (one with no src), style="" attributes and <style>
# elements, and htmx features that need eval (hx-on, js: values, [filters] in hx-trigger).
REFUSED = {
    "inline script": re.compile(r"<script(?![^>]*\bsrc=)(?![^>]*type=\"application/json\")[^>]*>"),
    "style attribute": re.compile(r"\sstyle=\""),
    "style element": re.compile(r"<style[\s>]"),
    "hx-on": re.compile(r"\shx-on[:-]"),
    "js: value": re.compile(r"hx-vals='\s*js:|hx-vals=\"\s*js:"),
    "trigger filter": re.compile(r"hx-trigger=\"[^\"]*\["),
}


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/login/", "/", "/queue/", "/admin/"])
def test_responses_carry_the_content_security_policy(setter_client, path):
    response = setter_client.get(path)

    policy = response["Content-Security-Policy"]
    directives = dict(part.strip().split(" ", 1) for part in policy.split(";"))
    assert directives["default-src"] == "'self'"
    assert directives["script-src"] == "'self'"
    assert directives["style-src"] == "'self'"
    assert directives["object-src"] == "'none'"
    assert directives["frame-ancestors"] == "'none'"
    assert "unsafe" not in policy


def test_responses_carry_the_permissions_policy(client):
    response = client.get("/login/")

    policy = response["Permissions-Policy"]
    for feature in ("camera=()", "microphone=()", "geolocation=()", "payment=()"):
        assert feature in policy


def test_templates_need_no_inline_script_style_or_eval():
    found = []
    for path in sorted(TEMPLATES.rglob("*.html")):
        text = path.read_text(encoding="utf-8")
        found += [f"{path.relative_to(TEMPLATES)}: {what}" for what, rx in REFUSED.items() if rx.search(text)]
    assert found == []


def test_base_turns_off_htmx_eval_and_injected_styles():
    base = (TEMPLATES / "base.html").read_text()

    assert '"includeIndicatorStyles": false' in base
    assert '"allowEval": false' in base
