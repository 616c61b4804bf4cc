"""Writes for lead replenishment: the run lock and lead sources (uploads, paths, staging).

The run itself (plan, apply, audit) is in campaigns.replenishment.
"""

import hashlib
import os
import socket
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.db.models import Count, F, Q

from campaigns.models import ReplenishmentLease, ReplenishmentSource, SourceKind, SourceLead, SourceLeadStatus
from campaigns.sources import LeadRow, RowError, SourceFileError, read_source, size_problem
from crm import timeutils

LEASE_NAME = "replenishment"
# Rows per INSERT batch.
STAGE_BATCH = 500


# --- The lock -------------------------------------------------------------------------------


def lease_duration() -> timedelta:
    """How long the lock outlives its holder's last heartbeat (JOB_LEASE_SECONDS)."""
    return timedelta(seconds=settings.JOB_LEASE_SECONDS)


def lease_acquire(*, at: datetime | None = None, name: str = LEASE_NAME) -> str | None:
    """Take the lock if it is free or its holder stopped renewing it; the holder token to renew
    and release it with, else None."""
    at = at or timeutils.now()
    ReplenishmentLease.objects.get_or_create(name=name, defaults={"expires_at": at - timedelta(seconds=1)})
    holder = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
    # One conditional UPDATE: of two processes racing here, exactly one matches the expired row.
    taken = ReplenishmentLease.objects.filter(name=name, expires_at__lte=at).update(
        holder=holder, acquired_at=at, expires_at=at + lease_duration()
    )
    return holder if taken else None


def lease_renew(*, holder: str, at: datetime, name: str = LEASE_NAME) -> bool:
    """The holder's heartbeat: push the lease one duration past `at`. False when the lock is no
    longer this holder's (its lease ran out and another run took it): the caller must stop."""
    return bool(
        ReplenishmentLease.objects.filter(name=name, holder=holder).update(expires_at=at + lease_duration())
    )


def lease_release(*, holder: str, name: str = LEASE_NAME) -> None:
    # Expired as of when it was taken: free for any later run, whatever clock that run uses.
    ReplenishmentLease.objects.filter(name=name, holder=holder).update(holder="", expires_at=F("acquired_at"))


# --- Sources --------------------------------------------------------------------------------


@dataclass(frozen=True)
class StagedFile:
    """What staging a lead file read: its good rows' count and every bad row."""

    row_count: int
    errors: list[RowError]


@transaction.atomic
def source_upload(
    *,
    name: str,
    file_name: str,
    data: bytes | str,
    created_by: AbstractBaseUser | None = None,
    default_lead_source: str = "",
) -> tuple[ReplenishmentSource, StagedFile]:
    """Keep an uploaded lead file and stage its rows (bad rows with their line and reason).

    Raises SourceFileError, writing nothing, when the file is not usable JSON/CSV at all (or is
    over LEAD_FILE_MAX_MB).
    """
    problem = size_problem(file_name=file_name, size=len(data))
    if problem:
        raise SourceFileError(problem)
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
    # A SourceFileError part way rolls back the source and the rows staged so far.
    staged = _stage(source, read_source(file_name=file_name, data=data))
    source.refresh_from_db()
    return source, staged


@transaction.atomic
def source_add_path(
    *, path: str, name: str = "", created_by: AbstractBaseUser | None = None
) -> tuple[ReplenishmentSource, StagedFile]:
    """Register a lead file on disk (read again at every run) and stage its rows now.

    The same path twice is the same source (its rows already staged are not staged again).
    Raises SourceFileError for a missing or unusable file.
    """
    resolved = str(Path(path).expanduser().resolve())
    data = _read(resolved)
    source, _ = ReplenishmentSource.objects.get_or_create(
        kind=SourceKind.PATH,
        path=resolved,
        defaults={
            "name": name or Path(resolved).name,
            "file_name": Path(resolved).name,
            "created_by": created_by,
        },
    )
    staged = _stage(source, read_source(file_name=resolved, data=data))
    _mark_read(source, hashlib.sha256(data).hexdigest())
    source.refresh_from_db()
    return source, staged


def sources_refresh(*, heartbeat: Callable[[], None] | None = None) -> list[str]:
    """Re-read every active path source whose file changed; stage its new rows.

    A file whose bytes hash as when it was last staged is not parsed again. Each source in its
    own transaction (`heartbeat` is called before each). Returns the problems, one line each (a
    missing or unusable file keeps its earlier rows and is reported, never half-read).
    """
    problems = []
    for source in ReplenishmentSource.objects.filter(kind=SourceKind.PATH, is_active=True):
        if heartbeat:
            heartbeat()
        try:
            data = _read(source.path)
            digest = hashlib.sha256(data).hexdigest()
            if digest == source.content_sha256:
                continue
            before = set(source.leads.filter(status=SourceLeadStatus.INVALID).values_list("line", "row_hash"))
            with transaction.atomic():
                staged = _stage(source, read_source(file_name=source.path, data=data))
                _mark_read(source, digest)
        except SourceFileError as error:
            ReplenishmentSource.objects.filter(pk=source.pk).update(last_error=str(error))
            problems.append(f"source {source.name!r}: {error}")
            continue
        new_bad = [bad for bad in staged.errors if (bad.line, _bad_hash(bad)) not in before]
        problems.extend(f"source {source.name!r} line {bad.line}: {bad.reason}" for bad in new_bad)
    return problems


def _read(path: str) -> bytes:
    try:
        problem = size_problem(file_name=path, size=os.stat(path).st_size)
        if problem:
            raise SourceFileError(problem)
        return Path(path).read_bytes()
    except OSError as error:
        raise SourceFileError(f"cannot read {path}: {error.strerror or error}") from None


def _mark_read(source: ReplenishmentSource, digest: str) -> None:
    ReplenishmentSource.objects.filter(pk=source.pk).update(
        content_sha256=digest, last_read_at=timeutils.now(), last_error=""
    )


def _bad_hash(bad: RowError) -> str:
    return hashlib.sha256(bad.raw.encode()).hexdigest()


def _staged_row(source: ReplenishmentSource, result: LeadRow | RowError) -> SourceLead:
    if isinstance(result, RowError):
        return SourceLead(
            source=source,
            line=result.line,
            raw=result.raw,
            row_hash=_bad_hash(result),
            status=SourceLeadStatus.INVALID,
            detail=result.reason[:255],
        )
    return SourceLead(
        source=source,
        line=result.line,
        first_name=result.first_name,
        last_name=result.last_name,
        email=result.email,
        phone=result.phone,
        city=result.city,
        lead_source=result.lead_source,
        tier=result.tier,
        score=result.score,
        email_key=result.email_key,
        phone_key=result.phone_key,
        row_hash=result.row_hash,
    )


def _stage(source: ReplenishmentSource, results: Iterable[LeadRow | RowError]) -> StagedFile:
    """Stage a file's rows as they are read, STAGE_BATCH at a time (never the whole file in
    memory). Run inside the caller's transaction: an unusable file raises part way, and nothing
    of it stays."""
    good, errors, batch = 0, [], []
    for result in results:
        if isinstance(result, RowError):
            errors.append(result)
        else:
            good += 1
        batch.append(_staged_row(source, result))
        if len(batch) >= STAGE_BATCH:
            # A re-read file's rows already staged (same line, same content) are skipped by the constraint.
            SourceLead.objects.bulk_create(batch, ignore_conflicts=True)
            batch = []
    SourceLead.objects.bulk_create(batch, ignore_conflicts=True)
    counts = source.leads.aggregate(
        total=Count("id"), bad=Count("id", filter=Q(status=SourceLeadStatus.INVALID))
    )
    ReplenishmentSource.objects.filter(pk=source.pk).update(
        row_count=counts["total"], bad_row_count=counts["bad"]
    )
    return StagedFile(row_count=good, errors=errors)
