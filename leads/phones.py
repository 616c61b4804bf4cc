"""Phone numbers to E.164.

Numbers arrive typed every way (050 123 4567, 00971 50 123 4567, +971-50-1234567, 971501234567).
We store E.164 so search, dedup and `tel:`/WhatsApp links work. A number libphonenumber cannot
make valid is kept exactly as typed and flagged, never dropped: a person can still read it.
"""

from dataclasses import dataclass

import phonenumbers
from django.conf import settings
from django.db.models import Q

# What people type inside a phone number besides digits.
PHONE_PUNCTUATION = frozenset(" +-().\u00a0/")


@dataclass(frozen=True)
class NormalisedPhone:
    value: str  # E.164 when valid, else the input as typed (stripped)
    is_valid: bool


def normalise_phone(raw: str | None, *, region: str | None = None) -> NormalisedPhone:
    text = (raw or "").strip()
    if not text:
        return NormalisedPhone("", True)
    region = region or settings.PHONE_DEFAULT_REGION
    candidate = text
    # "971501234567" (country code without +) is common in exports; libphonenumber would read it
    # as a national number. Try it as international when the national reading is not valid.
    for attempt in (candidate, "+" + candidate.lstrip("0") if candidate[:1].isdigit() else None):
        if attempt is None:
            continue
        try:
            number = phonenumbers.parse(attempt, region)
        except phonenumbers.NumberParseException:
            continue
        if phonenumbers.is_valid_number(number):
            return NormalisedPhone(
                phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164), True
            )
    return NormalisedPhone(text, False)


def phone_search_variants(text: str) -> list[str]:
    """What a typed fragment could match in stored phones: as typed and, when it parses, E.164."""
    variants = [text.strip()]
    normalised = normalise_phone(text)
    if normalised.is_valid and normalised.value not in variants:
        variants.append(normalised.value)
    return variants


def phone_search_condition(text: str) -> Q | None:
    """Contacts whose phone or mobile is the number typed, in any format, or None when the text is
    not a phone number. A whole number (050 123 4567, +971-50-1234567, 00971501234567) is
    normalised to E.164 and matched exactly (the phone and mobile indexes); a fragment of digits
    matches inside stored numbers (trigram indexes on PostgreSQL). The follow-up search and the
    admin's contact search both use it, so the same typing finds the same contacts."""
    text = text.strip()
    digits = "".join(ch for ch in text if ch.isdigit())
    if not digits or not all(ch.isdigit() or ch in PHONE_PUNCTUATION for ch in text):
        return None
    phone = normalise_phone(text)
    if phone.is_valid:
        return Q(phone=phone.value) | Q(mobile=phone.value)
    # Stored numbers are E.164, so a national leading 0 is not in them.
    fragment = digits.lstrip("0") or digits
    return Q(phone__icontains=fragment) | Q(mobile__icontains=fragment)
