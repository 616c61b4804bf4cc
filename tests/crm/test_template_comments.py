"""Django's `{# #}` comment ends at the line's end: a multi-line one is printed as page text."""

import re
from pathlib import Path

from django.conf import settings

TEMPLATE_DIRS = [Path(settings.BASE_DIR) / "templates"]
# `{#` with no `#}` after it on the same line: Django leaves the whole thing as text.
UNCLOSED_COMMENT = re.compile(r"\{#(?!.*#\}).*$", re.MULTILINE)


def unclosed_comments(root: Path) -> list[str]:
    found = []
    for path in sorted(root.rglob("*.html")):
        text = path.read_text(encoding="utf-8")
        for match in UNCLOSED_COMMENT.finditer(text):
            line = text.count("\n", 0, match.start()) + 1
            found.append(f"{path.relative_to(root)}:{line}: {match.group(0)[:60]}")
    return found


def test_templates_have_no_multi_line_hash_comments():
    # then: every `{# … #}` closes on its own line (use {% comment %} for longer ones)
    found = [hit for root in TEMPLATE_DIRS for hit in unclosed_comments(root)]
    assert found == []


def test_unclosed_comment_scan_finds_a_multi_line_comment(tmp_path):
    # given: the mistake this guards against
    (tmp_path / "page.html").write_text("<p>{# one line #}</p>\n{# starts here\n   ends here #}\n")

    # then
    assert unclosed_comments(tmp_path) == ["page.html:2: {# starts here"]
