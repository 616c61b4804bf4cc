"""Reading lead files (JSON or CSV) into rows, with every bad row reported by its line.

Pure: bytes in, rows and row errors out, no database. A file that is not JSON or CSV at all (not
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
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

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


def parse_source(*, file_name: str, data: bytes | str) -> ParsedFile:
    """Rows and row errors of a lead file, or SourceFileError for a file that is not usable at all."""
    kind = file_format(file_name)
    if isinstance(data, bytes):
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError as error:
            raise SourceFileError(
                f"{file_name} is not UTF-8 text (byte {error.start}); save it as UTF-8 and upload it again."
            ) from None
    else:
        text = data.removeprefix("\ufeff")
    if not text.strip():
        raise SourceFileError(f"{file_name} is empty.")
    items = _json_items(text, file_name) if kind == "json" else _csv_items(text, file_name)
    rows, errors = [], []
    for line, item in items:
        try:
            rows.append(_lead_row(line, item))
        except ValueError as error:
            errors.append(RowError(line=line, reason=str(error), raw=json.dumps(item, default=str)[:500]))
    return ParsedFile(rows=rows, errors=errors)


def _json_items(text: str, file_name: str) -> list[tuple[int, object]]:
    try:
        document = json.loads(text)
    except json.JSONDecodeError as error:
        raise SourceFileError(
            f"{file_name} is not valid JSON: {error.msg} at line {error.lineno}, column {error.colno}."
        ) from None
    if isinstance(document, dict) and isinstance(document.get("leads"), list):
        array_start = re.search(r'"leads"\s*:\s*\[', text).end() - 1
    elif isinstance(document, list):
        array_start = text.index("[")
    else:
        raise SourceFileError(
            f'{file_name}: expected a JSON list of leads, or an object with a "leads" list.'
        )
    # Walk the array once more with raw_decode to learn the line each item starts on.
    decoder = json.JSONDecoder()
    items, position = [], array_start + 1
    whitespace = re.compile(r"[\s,]*")
    while True:
        position = whitespace.match(text, position).end()
        if text[position] == "]":
            break
        item, end = decoder.raw_decode(text, position)
        items.append((text.count("\n", 0, position) + 1, item))
        position = end
    return items


def _csv_items(text: str, file_name: str) -> list[tuple[int, object]]:
    reader = csv.DictReader(io.StringIO(text, newline=""))
    try:
        header = reader.fieldnames or []
    except csv.Error as error:
        raise SourceFileError(f"{file_name} is not valid CSV: {error}.") from None
    known = {_canonical(name) for name in header} - {None}
    if not known & {"email", "phone"} or not known & {"name", "first_name", "last_name"}:
        raise SourceFileError(
            f"{file_name}: the first line must be a header naming at least a name column and an email "
            f"or phone column (found: {', '.join(h for h in header if h) or 'nothing'})."
        )
    items = []
    line = reader.line_num + 1
    try:
        for record in reader:
            if None in record:  # more cells than header columns
                extra = record.pop(None)
                record["__extra__"] = extra
            items.append((line, record))
            line = reader.line_num + 1
    except csv.Error as error:
        raise SourceFileError(f"{file_name} is not valid CSV at line {reader.line_num}: {error}.") from None
    return items


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
