"""Writes for lead replenishment: the run lock and lead sources (uploads, paths, staging).

The run itself (plan, apply, audit) is in campaigns.replenishment.
"""

import hashlib
import os
import socket
import uuid
from datetime import datetime, timedelta
from pathlib import Path

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.db.models import Count, F, Q

from campaigns.models import ReplenishmentLease, ReplenishmentSource, SourceKind, SourceLead, SourceLeadStatus
from campaigns.sources import ParsedFile, RowError, SourceFileError, parse_source
from crm import timeutils

LEASE_NAME = "replenishment"
# Longer than the task's hard time limit (10 minutes), so a live run never loses the lock; a run
# killed outright blocks the next ones for at most this long.
LEASE_DURATION = timedelta(minutes=15)
# Rows per INSERT batch.
STAGE_BATCH = 500


# --- The lock -------------------------------------------------------------------------------


def lease_acquire(*, at: datetime | None = None, name: str = LEASE_NAME) -> str | None:
    """Take the lock if it is free or expired; the holder token to release it with, else None."""
    at = at or timeutils.now()
    ReplenishmentLease.objects.get_or_create(name=name, defaults={"expires_at": at - timedelta(seconds=1)})
    holder = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
    # One conditional UPDATE: of two processes racing here, exactly one matches the expired row.
    taken = ReplenishmentLease.objects.filter(name=name, expires_at__lte=at).update(
        holder=holder, acquired_at=at, expires_at=at + LEASE_DURATION
    )
    return holder if taken else None


def lease_release(*, holder: str, name: str = LEASE_NAME) -> None:
    # Expired as of when it was taken: free for any later run, whatever clock that run uses.
    ReplenishmentLease.objects.filter(name=name, holder=holder).update(holder="", expires_at=F("acquired_at"))


# --- Sources --------------------------------------------------------------------------------


@transaction.atomic
def source_upload(
    *,
    name: str,
    file_name: str,
    data: bytes | str,
    created_by: AbstractBaseUser | None = None,
    default_lead_source: str = "",
) -> tuple[ReplenishmentSource, ParsedFile]:
    """Keep an uploaded lead file and stage its rows (bad rows with their line and reason).

    Raises SourceFileError, writing nothing, when the file is not usable JSON/CSV at all.
    """
    parsed = parse_source(file_name=file_name, data=data)
    text = data.decode("utf-8-sig") if isinstance(data, bytes) else data
    source = ReplenishmentSource.objects.create(
        name=name or file_name,
        kind=SourceKind.UPLOAD,
        file_name=file_name,
        content=text,
        content_sha256=hashlib.sha256(text.encode()).hexdigest(),
        default_lead_source=default_lead_source,
        created_by=created_by,
        last_read_at=timeutils.now(),
    )
    _stage(source, parsed)
    source.refresh_from_db()
    return source, parsed


@transaction.atomic
def source_add_path(
    *, path: str, name: str = "", created_by: AbstractBaseUser | None = None
) -> tuple[ReplenishmentSource, ParsedFile]:
    """Register a lead file on disk (read again at every run) and stage its rows now.

    The same path twice is the same source. Raises SourceFileError for a missing or unusable file.
    """
    resolved = str(Path(path).expanduser().resolve())
    data = _read(resolved)
    parsed = parse_source(file_name=resolved, data=data)
    source, _ = ReplenishmentSource.objects.get_or_create(
        kind=SourceKind.PATH,
        path=resolved,
        defaults={
            "name": name or Path(resolved).name,
            "file_name": Path(resolved).name,
            "created_by": created_by,
        },
    )
    _restage(source, data, parsed)
    source.refresh_from_db()
    return source, parsed


def sources_refresh() -> list[str]:
    """Re-read every active path source whose file changed; stage its new rows.

    Each source in its own transaction. Returns the problems, one line each (a missing or
    unusable file keeps its earlier rows and is reported, never half-read).
    """
    problems = []
    for source in ReplenishmentSource.objects.filter(kind=SourceKind.PATH, is_active=True):
        try:
            data = _read(source.path)
            parsed = parse_source(file_name=source.path, data=data)
        except SourceFileError as error:
            ReplenishmentSource.objects.filter(pk=source.pk).update(last_error=str(error))
            problems.append(f"source {source.name!r}: {error}")
            continue
        with transaction.atomic():
            new_bad = _restage(source, data, parsed)
        problems.extend(f"source {source.name!r} line {bad.line}: {bad.reason}" for bad in new_bad)
    return problems


def _read(path: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as error:
        raise SourceFileError(f"cannot read {path}: {error.strerror or error}") from None


def _restage(source: ReplenishmentSource, data: bytes, parsed: ParsedFile) -> list[RowError]:
    """Stage a path source's rows if its file changed; the bad rows that are new."""
    digest = hashlib.sha256(data).hexdigest()
    if digest == source.content_sha256:
        return []
    before = set(source.leads.filter(status=SourceLeadStatus.INVALID).values_list("line", "row_hash"))
    _stage(source, parsed)
    ReplenishmentSource.objects.filter(pk=source.pk).update(
        content_sha256=digest, last_read_at=timeutils.now(), last_error=""
    )
    return [bad for bad in parsed.errors if (bad.line, _bad_hash(bad)) not in before]


def _bad_hash(bad: RowError) -> str:
    return hashlib.sha256(bad.raw.encode()).hexdigest()


def _stage(source: ReplenishmentSource, parsed: ParsedFile) -> None:
    rows = [
        SourceLead(
            source=source,
            line=row.line,
            first_name=row.first_name,
            last_name=row.last_name,
            email=row.email,
            phone=row.phone,
            city=row.city,
            lead_source=row.lead_source,
            tier=row.tier,
            score=row.score,
            email_key=row.email_key,
            phone_key=row.phone_key,
            row_hash=row.row_hash,
        )
        for row in parsed.rows
    ]
    rows += [
        SourceLead(
            source=source,
            line=bad.line,
            raw=bad.raw,
            row_hash=_bad_hash(bad),
            status=SourceLeadStatus.INVALID,
            detail=bad.reason[:255],
        )
        for bad in parsed.errors
    ]
    # A re-read file's rows already staged (same line, same content) are skipped by the constraint.
    SourceLead.objects.bulk_create(rows, ignore_conflicts=True, batch_size=STAGE_BATCH)
    counts = source.leads.aggregate(
        total=Count("id"), bad=Count("id", filter=Q(status=SourceLeadStatus.INVALID))
    )
    ReplenishmentSource.objects.filter(pk=source.pk).update(
        row_count=counts["total"], bad_row_count=counts["bad"]
    )
