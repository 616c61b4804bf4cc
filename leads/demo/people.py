"""Names, e-mail addresses and phone numbers as UAE sales teams receive them."""

import random
import unicodedata
from dataclasses import dataclass

from faker import Faker

from leads.demo.catalog import (
    ARABIC_FIRST_NAMES,
    ARABIC_LAST_NAMES,
    CITY_AREA_CODES,
    EMAIL_DOMAINS,
    INVALID_PHONE_SHARE,
    MOBILE_PREFIXES,
    NAME_GROUPS,
    NAME_POOL_SIZE,
    PHONE_FORMATS,
    Weighted,
)
from leads.phones import NormalisedPhone, normalise_phone


@dataclass(frozen=True)
class NamePools:
    """First and last names per community, drawn once from seeded Fakers (picking from a list
    is a hundred times faster than asking Faker for 200,000 names)."""

    groups: Weighted
    first: dict[str, tuple[str, ...]]
    last: dict[str, tuple[str, ...]]

    @classmethod
    def build(cls, seed: int) -> "NamePools":
        first: dict[str, tuple[str, ...]] = {"ar": ARABIC_FIRST_NAMES}
        last: dict[str, tuple[str, ...]] = {"ar": ARABIC_LAST_NAMES}
        for offset, (locale, _) in enumerate(NAME_GROUPS):
            if locale == "ar":
                continue
            # One Faker per locale, seeded on its own: a multi-locale Faker picks the locale with
            # the module-wide random, which would make the world depend on unrelated code.
            fake = Faker(locale)
            fake.seed_instance(seed * 100 + offset)
            first[locale] = tuple(dict.fromkeys(fake.first_name() for _ in range(NAME_POOL_SIZE)))
            last[locale] = tuple(dict.fromkeys(fake.last_name() for _ in range(NAME_POOL_SIZE)))
        return cls(groups=Weighted(NAME_GROUPS), first=first, last=last)

    def person(self, rng: random.Random) -> tuple[str, str]:
        group = self.groups(rng)
        return rng.choice(self.first[group]), rng.choice(self.last[group])


def ascii_slug(text: str) -> str:
    """Lower-case ASCII letters and digits only (for e-mail local parts)."""
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return "".join(ch for ch in folded.lower() if ch.isalnum())


def email_for(rng: random.Random, first: str, last: str, number: int) -> str:
    """A plausible address on a reserved example domain; `number` keeps it unique."""
    first_part, last_part = ascii_slug(first) or "client", ascii_slug(last) or "uae"
    style = rng.randrange(4)
    if style == 0:
        local = f"{first_part}.{last_part}{number}"
    elif style == 1:
        local = f"{first_part}{last_part[:1]}{number}"
    elif style == 2:
        local = f"{first_part[:1]}{last_part}{number}"
    else:
        local = f"{first_part}_{number}"
    address = f"{local}@{EMAIL_DOMAINS(rng)}"
    # A few addresses arrive capitalised from forms; dedup must not depend on case.
    return address.capitalize() if rng.random() < 0.02 else address


def mobile_number(rng: random.Random) -> str:
    """A UAE mobile national significant number, e.g. 501234567."""
    return rng.choice(MOBILE_PREFIXES) + f"{rng.randrange(10_000_000):07d}"


def landline_number(rng: random.Random, city: str) -> str:
    """A UAE fixed line national significant number, e.g. 43123456 (Dubai)."""
    return CITY_AREA_CODES.get(city, "4") + str(rng.randrange(2, 9)) + f"{rng.randrange(1_000_000):06d}"


def typed(rng: random.Random, national: str, style: str | None = None) -> str:
    """The number as a person would type it in one of the usual UAE formats."""
    style = style or PHONE_FORMATS(rng)
    head, tail = (national[:2], national[2:]) if national[0] == "5" else (national[:1], national[1:])
    if style == "local_spaced":
        return f"0{head} {tail[:3]} {tail[3:]}"
    if style == "local":
        return f"0{national}"
    if style == "intl_spaced":
        return f"+971 {head} {tail[:3]} {tail[3:]}"
    if style == "intl_00":
        return f"00971{national}"
    if style == "intl_no_plus":
        return f"971{national}"
    return f"+971-{head}-{tail}"


def invalid_typed(rng: random.Random, national: str) -> str:
    """A number nobody can dial: digits missing, as happens in hand-filled forms."""
    style = rng.randrange(3)
    if style == 0:
        return f"0{national[:2]} {national[2:5]} {national[5:7]}"
    if style == 1:
        return f"+971 {national[:2]} {national[2:5]}"
    return f"0{national[:6]}"


@dataclass(frozen=True)
class TypedPhone:
    national: str  # what the number really is (duplicates reuse it in another format)
    stored: NormalisedPhone


def phone_for(rng: random.Random, national: str) -> TypedPhone:
    """Type `national` the way a person would and normalise it as the app does on save."""
    raw = invalid_typed(rng, national) if rng.random() < INVALID_PHONE_SHARE else typed(rng, national)
    return TypedPhone(national, normalise_phone(raw))
