"""Reading lead files: every bad row reported with its line, an unusable file rejected whole."""

from decimal import Decimal

import pytest

from campaigns.sources import SourceFileError, parse_source


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
