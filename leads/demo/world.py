"""Building the whole world: owners first, then contacts in chunks, each chunk in one transaction."""

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from django.db import transaction

from calls.models import CallRecord, Intervention
from calls.services import owner_rhythms_refresh
from crm import timeutils
from leads.demo import catalog as c
from leads.demo.calendar import BusinessCalendar
from leads.demo.generator import OwnerSpec, WorldGenerator
from leads.demo.people import NamePools, ascii_slug
from leads.demo.records import HUBSPOT_ID_BASES
from leads.demo.rows import FIELDS, TABLES, Chunk
from leads.demo.storage import TableWriter, next_id, sequences_reset, tables_analyze, tables_vacuum
from leads.models import Contact, Deal, HealthScore, Owner, OwnerChange, Task
from scoring.figures import follow_up_figures_refresh
from scoring.services import queue_scores_refresh
from scoring.snapshots import revenue_snapshots_take

MODELS = {
    "contact": Contact,
    "owner_change": OwnerChange,
    "call": CallRecord,
    "deal": Deal,
    "task": Task,
    "health": HealthScore,
    "intervention": Intervention,
}


@dataclass(frozen=True)
class WorldConfig:
    contacts: int = 2_000
    calls: int = 20_000  # a target: the generator lands within a few percent
    deals: int = 500  # likewise
    owners: int = 8
    seed: int = 1
    chunk_size: int = 10_000

    @classmethod
    def sized(
        cls, *, contacts: int, calls: int | None = None, deals: int | None = None, **kwargs
    ) -> "WorldConfig":
        """Calls default to ten per contact and deals to one per four contacts (the S12 ratios)."""
        return cls(
            contacts=contacts,
            calls=contacts * 10 if calls is None else calls,
            deals=contacts // 4 if deals is None else deals,
            **kwargs,
        )


# SPEC S12's reference data set.
REFERENCE = WorldConfig(contacts=200_000, calls=2_000_000, deals=50_000, owners=40)


@dataclass
class WorldStats:
    rows: dict[str, int] = field(default_factory=dict)
    write_seconds: dict[str, float] = field(default_factory=dict)
    generate_seconds: float = 0.0
    commit_seconds: float = 0.0  # COMMIT of each chunk (the WAL flush on PostgreSQL)
    total_seconds: float = 0.0


def world_build(
    *,
    config: WorldConfig,
    setter_user_id: int | None = None,
    manager_user_id: int | None = None,
    now: datetime | None = None,
    progress: Callable[[int], None] | None = None,
) -> WorldStats:
    """Write a generated world into an empty CRM: `config.owners` owners (the first linked to
    `setter_user_id`), then contacts with everything hanging off them, chunk by chunk.

    The same seed (and the same `now`) gives the same world, ids included. Memory stays bounded
    by the chunk size. Each chunk commits on its own; callers check the CRM is empty first.
    """
    started = time.perf_counter()
    now = (now or timeutils.now()).replace(microsecond=0)
    calendar = BusinessCalendar(now=now, days=c.CALL_HISTORY_DAYS)
    stats = WorldStats()
    owners = _owners_write(config, setter_user_id, now, stats)
    first_ids = {table: next_id(model) for table, model in MODELS.items()}
    generator = WorldGenerator(
        seed=config.seed, calendar=calendar, owners=owners, first_ids=first_ids, contacts=config.contacts,
        calls=config.calls, deals=config.deals, manager_user_id=manager_user_id,
    )  # fmt: skip
    writers = {table: TableWriter(model, FIELDS[table], now=now) for table, model in MODELS.items()}
    for table in TABLES:
        stats.write_seconds.setdefault(table, 0.0)
    for chunk_start in range(0, config.contacts, config.chunk_size):
        chunk_end = min(chunk_start + config.chunk_size, config.contacts)
        generating = time.perf_counter()
        chunk = Chunk()
        for index in range(chunk_start, chunk_end):
            generator.contact(index, chunk)
        stats.generate_seconds += time.perf_counter() - generating
        committing = time.perf_counter()
        with transaction.atomic():
            for table in TABLES:  # contacts first: everything else points at them
                writing = time.perf_counter()
                writers[table].write(chunk.rows[table])
                stats.write_seconds[table] += time.perf_counter() - writing
                committing += time.perf_counter() - writing
        stats.commit_seconds += time.perf_counter() - committing
        if progress is not None:
            progress(chunk_end - chunk_start)
    for table in TABLES:
        stats.rows[table] = writers[table].rows_written
    finishing = time.perf_counter()
    models = [Owner, *MODELS.values()]
    sequences_reset(models)
    tables_analyze(models)
    stats.write_seconds["analyze"] = time.perf_counter() - finishing
    # Owners' usual calling days are derived by the hourly job; derive them now, from the same "now".
    owner_rhythms_refresh(now=now)
    # Every contact's queue priority, as the five-minute job keeps it (after ANALYZE: one UPDATE).
    scoring = time.perf_counter()
    queue_scores_refresh(now=now)
    stats.write_seconds["queue scores"] = time.perf_counter() - scoring
    # The dashboard's revenue trends, rebuilt from the health history as the daily job does, and
    # the follow-up page's per-owner figures, as the five-minute job counts them.
    revenue_snapshots_take()
    follow_up_figures_refresh(now=now)
    # Scoring rewrote every contact: vacuum after it, not before.
    vacuuming = time.perf_counter()
    tables_vacuum(models)
    stats.write_seconds["vacuum"] = time.perf_counter() - vacuuming
    stats.total_seconds = time.perf_counter() - started
    return stats


def _owners_write(
    config: WorldConfig, setter_user_id: int | None, now: datetime, stats: WorldStats
) -> list[OwnerSpec]:
    """Setters (the first one is the demo setter's) and about a quarter coaches; with five or more
    setters the last one has left the team (inactive, still in owner histories)."""
    rng = random.Random(config.seed * 31 + 7)
    names = NamePools.build(config.seed + 1)
    count = max(config.owners, 1)
    coaches = max(1, round(count * 0.25)) if count >= 3 else 0
    setters = count - coaches
    first_id = next_id(Owner)
    if setter_user_id is not None:
        # One login, one owner: a previous world's owner would hold the one-to-one link.
        Owner.objects.filter(user_id=setter_user_id).update(user=None)
    specs, rows, used = [], [], set()
    for number in range(count):
        owner_id = first_id + number
        is_setter = number < setters
        first, last = names.person(rng)
        while (first, last) in used:  # owner names must tell people apart
            first, last = names.person(rng)
        used.add((first, last))
        is_active = not (is_setter and setters >= 5 and number == setters - 1)
        capacity = rng.randrange(40, 85, 5) if is_setter else rng.randrange(20, 45, 5)
        row = {
            "id": owner_id,
            "hubspot_id": str(HUBSPOT_ID_BASES["owner"] + owner_id),
            "first_name": first,
            "last_name": last,
            "email": f"{ascii_slug(first)}.{ascii_slug(last)}@{c.OWNER_EMAIL_DOMAIN}",
            "is_active": is_active,
            "user_id": setter_user_id if number == 0 else None,
            "team": c.SETTER_TEAMS[number % len(c.SETTER_TEAMS)] if is_setter else c.COACH_TEAM,
            "daily_call_capacity": capacity,
            "weekly_booking_target": rng.randint(8, 20) if is_setter else rng.randint(3, 8),
            "created_at": now,
            "updated_at": now,
        }
        rows.append(tuple(row[name] for name in FIELDS["owner"]))
        specs.append(OwnerSpec(owner_id, first, last, is_setter, is_active, capacity))
    writing = time.perf_counter()
    writer = TableWriter(Owner, FIELDS["owner"], now=now)
    with transaction.atomic():
        writer.write(rows)
    stats.rows["owner"] = len(rows)
    stats.write_seconds["owner"] = time.perf_counter() - writing
    return specs
