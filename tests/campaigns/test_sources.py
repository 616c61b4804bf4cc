"""Reading lead files: every bad row reported with its line, an unusable file rejected whole."""

import io
import re
from decimal import Decimal

import pytest

from campaigns.sources import SourceFileError, parse_source, read_source


def test_json_rows_are_read_with_the_line_each_starts_on():
    text = (
        '[\n  {"name": "Amal Haddad", "email": " Amal@Example.COM ",'
        ' "phone": "050 123 4567", "tier": "A+"},\n'
        '  {"first_name": "Omar", "last_name": "Saleh", "mobile": "+971 55 765 4321", "score": 72.5}\n]'
    )

    parsed = parse_source(file_name="hot_leads.json", data=text.encode())

    first, second = parsed.rows
    assert (first.line, first.first_name, first.last_name, first.tier) == (2, "Amal", "Haddad", "A+")
    assert first.email_key == "amal@example.com"
    assert first.phone_key == "+971501234567"
    assert (second.line, second.tier, second.score, second.phone_key) == (
        3,
        "",
        Decimal("72.50"),
        "+971557654321",
    )
    assert parsed.errors == []


def test_json_object_with_a_leads_list_and_priority_as_the_tier():
    text = (
        '{"generated": "today",\n "leads": [\n  {"name": "A B", "email": "a@b.co", "priority": "a plus"}\n ]}'
    )
    parsed = parse_source(file_name="x.json", data=text)
    assert [(row.line, row.tier) for row in parsed.rows] == [(3, "A+")]


def test_bad_rows_are_reported_with_line_and_reason_and_good_rows_kept():
    text = (
        "name,email,phone,tier,score\n"
        "Good One,good@example.com,,A,\n"
        "No Contact,,,A,\n"
        "Bad Mail,not-an-email,,A,\n"
        "Bad Tier,t@example.com,,C,\n"
        "Bad Score,s@example.com,,,high\n"
        "Too High,h@example.com,,,140\n"
        ",nameless@example.com,,A,\n"
        "No Grade,g@example.com,,,\n"
        "Extra,e@example.com,,A,,surplus\n"
        '"Quoted, Name",q@example.com,,B,\n'
    )

    parsed = parse_source(file_name="leads.csv", data=text)

    assert [(row.line, row.first_name) for row in parsed.rows] == [(2, "Good"), (11, "Quoted,")]
    assert [(error.line, error.reason) for error in parsed.errors] == [
        (3, "no email or phone"),
        (4, "email 'not-an-email' is not valid"),
        (5, "tier 'C' is not A+, A or B"),
        (6, "score 'high' is not a number"),
        (7, "score 140 is not between 0 and 100"),
        (8, "no name"),
        (9, "needs a tier (A+, A, B) or a score (0-100)"),
        (10, "more cells than the header has columns"),
    ]


def test_csv_line_numbers_count_multi_line_cells():
    text = 'name,email,tier\n"Multi\nLine",m@example.com,A\nNext,,A\n'
    parsed = parse_source(file_name="leads.csv", data=text)
    assert parsed.rows[0].line == 2
    assert [(error.line, error.reason) for error in parsed.errors] == [(4, "no email or phone")]


def test_json_items_that_are_not_objects_are_bad_rows():
    parsed = parse_source(
        file_name="x.json", data='[\n"just text",\n{"name": "Ok Lead", "email": "o@k.co", "tier": "B"}\n]'
    )
    assert [(error.line, error.reason) for error in parsed.errors] == [(2, "not an object with lead fields")]
    assert len(parsed.rows) == 1


@pytest.mark.parametrize(
    ("file_name", "data", "message"),
    [
        (
            "leads.json",
            b'[{"name": "A", "email": "a@b.co",}]',
            "leads.json is not valid JSON: Expecting property name",
        ),
        ("leads.json", b'{"name": "A"}', 'expected a JSON list of leads, or an object with a "leads" list'),
        ("leads.json", b"   \n", "leads.json is empty."),
        ("leads.csv", b"\xff\xfe\x00garbage", "leads.csv is not UTF-8 text"),
        ("leads.csv", b"foo,bar\n1,2\n", "the first line must be a header naming at least a name column"),
        ("leads.xlsx", b"PK...", "only .json and .csv files can be lead sources"),
    ],
)
def test_a_file_that_is_not_json_or_csv_is_rejected_whole_with_a_clear_message(file_name, data, message):
    with pytest.raises(
        SourceFileError, match=message.replace("(", r"\(").replace(")", r"\)").replace(".", r"\.")
    ):
        parse_source(file_name=file_name, data=data)


def test_same_content_same_hash_so_a_re_read_file_is_not_staged_twice():
    text = "name,email,tier\nA B,a@b.co,A\n"
    assert (
        parse_source(file_name="a.csv", data=text).rows[0].row_hash
        == parse_source(file_name="b.csv", data=text).rows[0].row_hash
    )


# --- Only the top-level "leads", one linear pass, CSV row by row, a size limit ----------------


def test_only_the_top_level_leads_list_is_read_not_one_nested_in_other_data():
    text = (
        '{"meta": {"leads": [1, 2], "note": "the \\"leads\\": [ inside a string"},\n'
        ' "leads": [\n'
        '  {"name": "Real One", "email": "r1@example.com", "tier": "A"},\n'
        '  {"name": "Real Two", "email": "r2@example.com", "tier": "B"}\n'
        " ],\n"
        ' "after": {"leads": [3]}}'
    )
    parsed = parse_source(file_name="nested.json", data=text)
    assert [(row.line, row.first_name) for row in parsed.rows] == [(3, "Real"), (4, "Real")]
    assert parsed.errors == []


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('{"meta": {"leads": [1]}}', 'expected a JSON list of leads, or an object with a "leads" list'),
        ('{"leads": []} trailing', "is not valid JSON: Extra data at line 1, column 15"),
        ('{"leads": [], "leads": []}', 'the "leads" list appears twice'),
        ('[{"name": "A", "email": "a@b.co", "tier": "A"}\n{"x": 1}]', "Expecting ',' delimiter at line 2"),
        ('"just a string"', "expected a JSON list of leads"),
    ],
)
def test_json_that_is_not_a_lead_list_is_refused_whole(text, message):
    with pytest.raises(SourceFileError, match=re.escape(message)):
        parse_source(file_name="x.json", data=text)


def _json_file(rows: int) -> str:
    item = '  {"name": "Lead %d", "email": "lead%d@example.org", "tier": "A"}'
    return "[\n" + ",\n".join(item % (n, n) for n in range(rows)) + "\n]"


def test_json_line_numbers_are_right_for_every_item_of_a_long_file():
    parsed = parse_source(file_name="long.json", data=_json_file(3000))
    assert [row.line for row in parsed.rows] == list(range(2, 3002))


def test_reading_json_counts_each_character_once_whatever_the_number_of_items(monkeypatch):
    """Counting each item's line from the start of the file made 5 MB take 96 s (quadratic). The
    line counter must scan every character of the file at most once: linear, proved by counting
    what it scans rather than by timing it (tests never fail on timing)."""
    from campaigns import sources

    scanned = []
    count_lines = sources._LineCounter.at

    def at(counter, position):
        scanned.append(position - counter.position)
        return count_lines(counter, position)

    monkeypatch.setattr(sources._LineCounter, "at", at)
    text = _json_file(16000)

    rows = sum(1 for _ in read_source(file_name="x.json", data=text))

    assert rows == 16000
    assert min(scanned) >= 0  # positions only move forward
    assert sum(scanned) <= len(text)


def test_a_csv_file_is_read_row_by_row_not_all_at_once():
    rows = "".join(f"Lead {n},lead{n}@example.org,A\n" for n in range(20000))
    stream = io.BytesIO(("name,email,tier\n" + rows).encode())
    results = read_source(file_name="big.csv", data=stream)
    first = next(results)
    assert (first.line, first.email) == (2, "lead0@example.org")
    assert stream.tell() < len(stream.getvalue()) / 4  # the rest is still unread
    assert sum(1 for _ in results) == 19999


def test_a_csv_stream_that_is_not_utf8_is_refused_with_its_line():
    stream = io.BytesIO(b"name,email,tier\nA B,a@b.co,A\n" + b"C \xff,c@d.co,A\n" * 5000)
    with pytest.raises(SourceFileError, match="is not UTF-8 text"):
        list(read_source(file_name="bad.csv", data=stream))


def test_a_file_over_the_size_limit_is_refused_with_a_clear_message(settings):
    settings.LEAD_FILE_MAX_MB = 1
    text = "name,email,tier\n" + "Lead,lead@example.org,A\n" * 50000  # 1.1 MiB
    with pytest.raises(SourceFileError, match=r"big\.csv is 1\.\d MB; lead files may be at most 1 MB"):
        parse_source(file_name="big.csv", data=text)
