"""Reading lead files (JSON or CSV) into rows, with every bad row reported by its line.

Pure: bytes (or a binary file) in, rows and row errors out, no database; one pass over the
file, CSV row by row. A file that is not JSON or CSV at all (not
UTF-8, broken JSON, no usable header) raises SourceFileError and nothing of it is used; a bad row
never stops the good ones.

Each row is a lead: a name (or first/last name), an email and/or a phone, optionally a city and
its source, and a tier (A+, A, B; "priority" is accepted for it, as older exports call it) or a
score 0-100 (or both).
"""

import csv
import hashlib
import io
import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import BinaryIO

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email

from leads.models import Tier
from leads.phones import normalise_phone

# Column or key aliases, compared lower-cased with spaces and dashes as underscores.
ALIASES = {
    "name": ("name", "full_name", "contact_name"),
    "first_name": ("first_name", "firstname", "given_name"),
    "last_name": ("last_name", "lastname", "surname", "family_name"),
    "email": ("email", "email_address", "e_mail"),
    "phone": ("phone", "phone_number", "mobile", "mobile_phone", "telephone"),
    "city": ("city",),
    "lead_source": ("source", "lead_source"),
    "tier": ("tier", "priority"),
    "score": ("score", "lead_score"),
}
KNOWN_KEYS = {alias: canonical for canonical, aliases in ALIASES.items() for alias in aliases}
# Lengths of the Contact fields the values go into.
MAX_LENGTHS = {
    "first_name": 100,
    "last_name": 100,
    "email": 254,
    "phone": 40,
    "city": 100,
    "lead_source": 100,
}
MAX_SCORE = Decimal(100)


class SourceFileError(ValueError):
    """The whole file is unusable; the message says why, for the person who uploaded it."""


@dataclass(frozen=True)
class LeadRow:
    line: int  # CSV: the file line the row starts on; JSON: the line its object starts on
    first_name: str
    last_name: str
    email: str
    phone: str
    city: str
    lead_source: str
    tier: str  # "" when only a score was given
    score: Decimal | None
    email_key: str  # lower-cased, trimmed: how duplicates are found
    phone_key: str  # E.164 when the number is valid, else as typed
    row_hash: str  # same lead content, same hash: a re-read file is not staged twice


@dataclass(frozen=True)
class RowError:
    line: int
    reason: str
    raw: str


@dataclass(frozen=True)
class ParsedFile:
    rows: list[LeadRow]
    errors: list[RowError]


def file_format(file_name: str) -> str:
    lowered = file_name.lower()
    if lowered.endswith(".json"):
        return "json"
    if lowered.endswith(".csv"):
        return "csv"
    raise SourceFileError(f"{file_name}: only .json and .csv files can be lead sources.")


def size_problem(*, file_name: str, size: int) -> str:
    """Why a file of `size` bytes is not read (LEAD_FILE_MAX_MB), or ""."""
    limit = settings.LEAD_FILE_MAX_MB
    if size <= limit * 1024 * 1024:
        return ""
    return (
        f"{file_name} is {size / 1024 / 1024:.1f} MB; lead files may be at most {limit} MB "
        "(LEAD_FILE_MAX_MB). Split it into smaller files."
    )


def parse_source(*, file_name: str, data: bytes | str) -> ParsedFile:
    """Rows and row errors of a lead file, or SourceFileError for a file that is not usable at all."""
    rows, errors = [], []
    for result in read_source(file_name=file_name, data=data):
        (errors if isinstance(result, RowError) else rows).append(result)
    return ParsedFile(rows=rows, errors=errors)


def read_source(*, file_name: str, data: bytes | str | BinaryIO) -> Iterator[LeadRow | RowError]:
    """Each row (or row error) of a lead file in file order, in one pass: a CSV row by row (from a
    binary file, never all in memory), a JSON file from its text, line numbers counted as it goes.

    Raises SourceFileError for a file that is not usable, possibly after some rows: whoever
    stages them does it in one transaction, so nothing of such a file is kept.
    """
    kind = file_format(file_name)
    if isinstance(data, (bytes, str)):
        problem = size_problem(file_name=file_name, size=len(data))
        if problem:
            raise SourceFileError(problem)
        text = _decoded(file_name, data)
        if not text.strip():
            raise SourceFileError(f"{file_name} is empty.")
        items = _json_items(text, file_name) if kind == "json" else _csv_items(_str_lines(text), file_name)
    elif kind == "json":
        items = _json_items(_decoded(file_name, data.read()), file_name)
    else:
        items = _csv_items(_stream_lines(file_name, data), file_name)
    for line, item in items:
        try:
            row = _lead_row(line, item)
        except ValueError as error:
            yield RowError(line=line, reason=str(error), raw=json.dumps(item, default=str)[:500])
        else:
            yield row


def _decoded(file_name: str, data: bytes | str) -> str:
    if isinstance(data, str):
        return data.removeprefix("\ufeff")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise SourceFileError(
            f"{file_name} is not UTF-8 text (byte {error.start}); save it as UTF-8 and upload it again."
        ) from None


def _str_lines(text: str) -> Iterator[str]:
    """The lines of a text with their endings, one at a time (no list of all of them)."""
    start = 0
    while start < len(text):
        end = text.find("\n", start)
        end = len(text) if end < 0 else end + 1
        yield text[start:end]
        start = end


def _stream_lines(file_name: str, stream: BinaryIO) -> Iterator[str]:
    reader = io.TextIOWrapper(stream, encoding="utf-8-sig", newline="")
    number = 0
    try:
        for number, line in enumerate(reader, start=1):  # noqa: B007 (read after the loop)
            yield line
    except UnicodeDecodeError:
        raise SourceFileError(
            f"{file_name} is not UTF-8 text (near line {number + 1}); save it as UTF-8 and upload it again."
        ) from None
    finally:
        reader.detach()  # the caller closes its own file


# JSON's own whitespace (json.decoder.WHITESPACE): \s would also skip what JSON forbids.
_SPACE = re.compile(r"[ \t\n\r]*")


class _LineCounter:
    """The line of a position in a text, for positions that only move forward: each character is
    counted once, however many items there are (counting from the start each time is quadratic)."""

    def __init__(self, text: str):
        self.text, self.position, self.line = text, 0, 1

    def at(self, position: int) -> int:
        self.line += self.text.count("\n", self.position, position)
        self.position = position
        return self.line


def _json_items(text: str, file_name: str) -> Iterator[tuple[int, object]]:
    """The leads of a JSON file, each with the line it starts on: the items of a top-level list, or
    of the top-level object's "leads" list (a "leads" key deeper down is data, not the list)."""
    decoder, lines = json.JSONDecoder(), _LineCounter(text)
    try:
        position = _SPACE.match(text).end()
        if text.startswith("[", position):
            end = yield from _json_array(text, position, decoder, lines)
        elif text.startswith("{", position):
            end = yield from _json_top_leads(text, position, decoder, lines, file_name)
        else:
            decoder.raw_decode(text, position)  # valid JSON, but not a list or an object?
            raise SourceFileError(
                f'{file_name}: expected a JSON list of leads, or an object with a "leads" list.'
            )
        end = _SPACE.match(text, end).end()
        if end != len(text):
            raise json.JSONDecodeError("Extra data", text, end)
    except json.JSONDecodeError as error:
        raise SourceFileError(
            f"{file_name} is not valid JSON: {error.msg} at line {error.lineno}, column {error.colno}."
        ) from None


def _json_array(text, start, decoder, lines) -> Iterator[tuple[int, object]]:
    """The items of the array opening at `start`; returns the position after it."""
    position = _SPACE.match(text, start + 1).end()
    if text.startswith("]", position):
        return position + 1
    while True:
        item, end = decoder.raw_decode(text, position)
        yield lines.at(position), item
        position = _SPACE.match(text, end).end()
        if text.startswith(",", position):
            position = _SPACE.match(text, position + 1).end()
        elif text.startswith("]", position):
            return position + 1
        else:
            raise json.JSONDecodeError("Expecting ',' delimiter", text, position)


def _json_top_leads(text, start, decoder, lines, file_name) -> Iterator[tuple[int, object]]:
    """The items of the object's own "leads" list (other values are skipped whole); returns the
    position after the object."""
    position, found = _SPACE.match(text, start + 1).end(), False
    if text.startswith("}", position):
        position = -1  # an empty object: no leads
    while position >= 0:
        if not text.startswith('"', position):
            raise json.JSONDecodeError("Expecting property name enclosed in double quotes", text, position)
        key, position = json.decoder.scanstring(text, position + 1)
        position = _SPACE.match(text, position).end()
        if not text.startswith(":", position):
            raise json.JSONDecodeError("Expecting ':' delimiter", text, position)
        position = _SPACE.match(text, position + 1).end()
        if key == "leads" and text.startswith("[", position):
            if found:
                raise SourceFileError(f'{file_name}: the "leads" list appears twice; keep one.')
            found = True
            position = yield from _json_array(text, position, decoder, lines)
        else:
            _, position = decoder.raw_decode(text, position)
        position = _SPACE.match(text, position).end()
        if text.startswith(",", position):
            position = _SPACE.match(text, position + 1).end()
        elif text.startswith("}", position):
            break
        else:
            raise json.JSONDecodeError("Expecting ',' delimiter", text, position)
    if not found:
        raise SourceFileError(
            f'{file_name}: expected a JSON list of leads, or an object with a "leads" list.'
        )
    return position + 1


def _csv_items(lines: Iterable[str], file_name: str) -> Iterator[tuple[int, object]]:
    """The rows of a CSV file, each with the line it starts on, read one at a time."""
    reader = csv.DictReader(lines)
    try:
        header = reader.fieldnames
    except csv.Error as error:
        raise SourceFileError(f"{file_name} is not valid CSV: {error}.") from None
    if header is None:
        raise SourceFileError(f"{file_name} is empty.")
    known = {_canonical(name) for name in header} - {None}
    if not known & {"email", "phone"} or not known & {"name", "first_name", "last_name"}:
        raise SourceFileError(
            f"{file_name}: the first line must be a header naming at least a name column and an email "
            f"or phone column (found: {', '.join(h for h in header if h) or 'nothing'})."
        )
    line = reader.line_num + 1
    try:
        for record in reader:
            if None in record:  # more cells than header columns
                extra = record.pop(None)
                record["__extra__"] = extra
            yield line, record
            line = reader.line_num + 1
    except csv.Error as error:
        raise SourceFileError(f"{file_name} is not valid CSV at line {reader.line_num}: {error}.") from None


def _canonical(key: object) -> str | None:
    if not isinstance(key, str):
        return None
    return KNOWN_KEYS.get(re.sub(r"[\s\-]+", "_", key.strip().lower()))


def _lead_row(line: int, item: object) -> LeadRow:
    if not isinstance(item, dict):
        raise ValueError("not an object with lead fields")
    if item.get("__extra__"):
        raise ValueError("more cells than the header has columns")
    values: dict[str, str] = {}
    for key, value in item.items():
        canonical = _canonical(key)
        if canonical is None or value is None:
            continue
        if isinstance(value, (dict, list)):
            raise ValueError(f"{key} must be a single value")
        text = str(value).strip()
        if text and not values.get(canonical):
            values[canonical] = text
    first, last = values.get("first_name", ""), values.get("last_name", "")
    if not (first or last) and values.get("name"):
        first, _, last = values["name"].partition(" ")
        last = last.strip()
    if not (first or last):
        raise ValueError("no name")
    email = values.get("email", "")
    phone = values.get("phone", "")
    if not (email or phone):
        raise ValueError("no email or phone")
    if email:
        try:
            validate_email(email)
        except ValidationError:
            raise ValueError(f"email {email!r} is not valid") from None
    tier = _tier(values.get("tier", ""))
    score = _score(values.get("score", ""))
    if not tier and score is None:
        raise ValueError("needs a tier (A+, A, B) or a score (0-100)")
    fields = {
        "first_name": first,
        "last_name": last,
        "email": email,
        "phone": phone,
        "city": values.get("city", ""),
        "lead_source": values.get("lead_source", ""),
    }
    for name, value in fields.items():
        if len(value) > MAX_LENGTHS[name]:
            raise ValueError(f"{name.replace('_', ' ')} longer than {MAX_LENGTHS[name]} characters")
    phone_key = normalise_phone(phone).value if phone else ""
    digest = hashlib.sha256(
        json.dumps([*fields.values(), tier, str(score)], ensure_ascii=False).encode()
    ).hexdigest()
    return LeadRow(
        line=line,
        tier=tier,
        score=score,
        email_key=email.lower(),
        phone_key=phone_key,
        row_hash=digest,
        **fields,
    )


def _tier(text: str) -> str:
    if not text:
        return ""
    normalised = text.upper().replace(" ", "").replace("PLUS", "+")
    if normalised not in Tier.values:
        raise ValueError(f"tier {text!r} is not A+, A or B")
    return normalised


def _score(text: str) -> Decimal | None:
    if not text:
        return None
    try:
        score = Decimal(text)
    except InvalidOperation:
        raise ValueError(f"score {text!r} is not a number") from None
    if not score.is_finite() or not 0 <= score <= MAX_SCORE:
        raise ValueError(f"score {text} is not between 0 and 100")
    return score.quantize(Decimal("0.01"))
