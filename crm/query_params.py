"""Query parameters described once: the JSON Schema a parameter publishes in /api/schema/ is the
rule its view applies, so the documentation and the server cannot disagree.

Only the small JSON Schema subset the API uses is understood (integer with minimum / maximum,
string with enum or pattern, default); a schema using anything else fails at import, not silently.
"""

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django import forms
from django.core.exceptions import ValidationError

_UNDERSTOOD = {"type", "minimum", "maximum", "enum", "pattern", "default"}
_WHOLE_NUMBER = re.compile(r"-?[0-9]{1,18}")  # int64 range without float rounding


@dataclass(frozen=True)
class QueryParam:
    name: str
    schema: dict[str, Any]
    description: str = ""
    coerce: Callable[[str], Any] | None = None  # from the checked text to the value the view uses

    def __post_init__(self):
        unknown = set(self.schema) - _UNDERSTOOD
        if unknown or self.schema.get("type") not in ("integer", "string"):
            raise ValueError(f"{self.name}: schema keywords not enforced by SchemaField: {sorted(unknown)}")

    def openapi(self) -> dict[str, Any]:
        """This parameter as an OpenAPI 3.1 parameter object."""
        described = {"name": self.name, "in": "query", "required": False, "schema": self.schema}
        if self.description:
            described["description"] = self.description
        return described

    def form_field(self) -> "SchemaField":
        return SchemaField(self)


class SchemaField(forms.Field):
    """A form field that accepts exactly what its parameter's schema allows. Absent means the
    default; present but empty is a value like any other (and fails an enum or an integer)."""

    def __init__(self, param: QueryParam):
        super().__init__(required=False)
        self.param = param

    def clean(self, value: str | None) -> Any:
        schema = self.param.schema
        if value is None:  # not in the query string
            value = schema.get("default")
            if value is None:
                return None
            value = str(value)
        checked: Any = value
        if schema["type"] == "integer":
            if not _WHOLE_NUMBER.fullmatch(value):
                raise ValidationError("Enter a whole number.", code="invalid")
            checked = int(value)
            if "minimum" in schema and checked < schema["minimum"]:
                raise ValidationError(f"Must be at least {schema['minimum']}.", code="min_value")
            if "maximum" in schema and checked > schema["maximum"]:
                raise ValidationError(f"Must be at most {schema['maximum']}.", code="max_value")
        if "enum" in schema and checked not in schema["enum"]:
            choices = ", ".join(map(str, schema["enum"]))
            raise ValidationError(f"Must be one of: {choices}.", code="invalid_choice")
        if "pattern" in schema and not re.search(_python_pattern(schema["pattern"]), value):
            raise ValidationError("Not a valid value.", code="invalid")
        return self.param.coerce(checked) if self.param.coerce else checked


def _python_pattern(pattern: str) -> str:
    # JSON Schema patterns are ECMA-262 and unanchored (search); ECMA's final $ never matches
    # before a trailing newline, Python's does ("all\n" would pass): \Z is ECMA's $.
    return pattern[:-1] + r"\Z" if pattern.endswith("$") and not pattern.endswith(r"\$") else pattern
