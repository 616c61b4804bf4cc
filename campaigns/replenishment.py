"""Lead replenishment (SPEC S9): keep the team's lead inventory between its minimum and target.

A run, step by step (each step is one line of output, kept on the run as its audit):
  metrics   available leads by tier, and 30-day conversion by tier
  reasons   why replenish ("total leads 41 below minimum 50", "A+ leads 3 below minimum 10")
  limits    business hours, cooldown since the last upload, what is left of the daily cap
  targets   per tier: the tier's own shortfall first, the rest by the mix (shifted toward A+
            when A+ converts well), within the per-run and daily caps
  found     rows waiting in the active sources
  duplicates  by normalised email and phone against contacts, earlier uploads and each other
  selected  the best-scoring new rows per tier
  created   contacts made (in one transaction with marking their rows used)
  assigned  the fair rotation (leads.assignment) hands out every waiting lead that has room

`replenishment_plan` computes everything up to "selected" without writing (the dry run and the
page's "next run" use it); `replenishment_run` applies it.
"""

import logging
import math
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.db.models import Q
from django.db.models.functions import Lower
from django.utils import timezone

from campaigns import selectors
from campaigns.models import (
    TIERS,
    ReplenishmentConfig,
    ReplenishmentLease,
    ReplenishmentRun,
    RunStatus,
    SourceLead,
    SourceLeadStatus,
)
from campaigns.services import LEASE_NAME, lease_acquire, lease_release, lease_renew, sources_refresh
from crm import timeutils
from leads.assignment import (
    TIER_RANK,
    AssignmentResult,
    assignment_preview,
    contacts_assign,
)
from leads.models import Contact, LeadStatus, LifecycleStage
from leads.services import contact_set_phones
from scoring.services import queue_scores_refresh

logger = logging.getLogger(__name__)

# IN (...) lists stay well under SQLite's variable limit and PostgreSQL's comfort zone.
LOOKUP_CHUNK = 500

Report = Callable[[str], None]


# --- Planning (reads only) ------------------------------------------------------------------


@dataclass
class Plan:
    at: datetime
    config: ReplenishmentConfig
    inventory: selectors.Inventory
    reasons: list[str]
    mix: dict[str, int]
    mix_note: str = ""
    block: str = ""  # why no upload may happen now ("" when it may)
    allowed: int = 0  # contacts this run may create (per-run and daily caps)
    targets: dict[str, int] = field(default_factory=dict)
    found: int = 0
    duplicates: list[tuple[SourceLead, str]] = field(default_factory=list)
    selected: list[tuple[SourceLead, str]] = field(default_factory=list)  # (row, tier), best first
    selection_notes: list[str] = field(default_factory=list)

    @property
    def needed(self) -> bool:
        return bool(self.reasons)

    def selected_by_tier(self) -> dict[str, int]:
        counts = dict.fromkeys(TIERS, 0)
        for _, tier in self.selected:
            counts[tier] += 1
        return counts


def replenishment_plan(*, config: ReplenishmentConfig | None = None, at: datetime | None = None) -> Plan:
    """Everything a run would decide now, without writing: reasons, targets, duplicates, selection."""
    at = at or timeutils.now()
    config = config or selectors.config_current()
    stock = selectors.inventory(at=at)
    mix, mix_note = tier_mix(config=config, stock=stock)
    plan = Plan(
        at=at,
        config=config,
        inventory=stock,
        reasons=replenishment_reasons(config=config, stock=stock),
        mix=mix,
        mix_note=mix_note,
    )
    if not plan.needed:
        return plan
    plan.block, plan.allowed = upload_limits(config=config, at=at)
    plan.targets = tier_targets(config=config, stock=stock, mix=mix, allowed=plan.allowed)
    if plan.block:
        return plan
    unique, plan.duplicates = candidates_classify(config=config)
    plan.found = len(unique) + len(plan.duplicates)
    fill_to_total = stock.total < config.min_total_leads
    plan.selected, plan.selection_notes = candidates_select(unique, targets=plan.targets, fill=fill_to_total)
    return plan


def replenishment_reasons(*, config: ReplenishmentConfig, stock: selectors.Inventory) -> list[str]:
    reasons = []
    if stock.total < config.min_total_leads:
        reasons.append(f"total leads {stock.total} below minimum {config.min_total_leads}")
    for tier, minimum in config.tier_minimums().items():
        if stock.by_tier[tier] < minimum:
            reasons.append(f"{tier} leads {stock.by_tier[tier]} below minimum {minimum}")
    return reasons


def tier_mix(*, config: ReplenishmentConfig, stock: selectors.Inventory) -> tuple[dict[str, int], str]:
    """The mix to fill by: the configured one, shifted toward A+ when A+ converts well (and
    there were enough A+ leads in 30 days to trust the rate)."""
    mix = config.mix()
    a_plus = stock.conversion[TIERS[0]]
    if a_plus.leads < config.conversion_min_leads or a_plus.rate is None:
        return mix, ""
    if a_plus.rate * 100 < config.a_plus_high_conversion_percent:
        return mix, ""
    others = [tier for tier in TIERS[1:]]
    shift = min(config.a_plus_shift_points, sum(mix[t] for t in others))
    taken = largest_remainder(shift, {t: mix[t] for t in others})
    shifted = {TIERS[0]: mix[TIERS[0]] + shift, **{t: mix[t] - taken[t] for t in others}}
    note = (
        f"A+ converts at {a_plus.percent}% over 30 days (at least {config.a_plus_high_conversion_percent}%): "
        f"mix shifted to {mix_label(shifted)}"
    )
    return shifted, note


def mix_label(mix: dict[str, int]) -> str:
    return " / ".join(f"{tier} {share}%" for tier, share in mix.items())


def upload_limits(*, config: ReplenishmentConfig, at: datetime) -> tuple[str, int]:
    """(why no upload may happen now or "", how many contacts this run may create)."""
    local = timezone.localtime(at)
    left_today = max(0, config.max_per_day - selectors.uploaded_today(at=at))
    allowed = min(config.max_per_run, left_today)
    if not config.is_enabled:
        return "replenishment is switched off in its configuration", allowed
    if local.isoweekday() not in config.weekdays():
        return f"not a business day ({local:%A}; uploads on days {config.business_weekdays})", allowed
    if (
        config.has_business_hours()
        and not config.business_hours_start <= local.time() < config.business_hours_end
    ):
        return f"outside business hours {config.business_hours_label()} (now {local:%H:%M})", allowed
    last = selectors.last_upload(at=at)
    if last is not None:
        wait = last.started_at + timedelta(minutes=config.cooldown_minutes) - at
        if wait > timedelta(0):
            minutes = math.ceil(wait.total_seconds() / 60)
            return (
                f"must wait {minutes} more minute{'s' if minutes != 1 else ''} "
                f"(cooldown {config.cooldown_minutes} minutes since the upload at "
                f"{timezone.localtime(last.started_at):%H:%M})"
            ), allowed
    if left_today == 0:
        return f"daily upload limit reached ({config.max_per_day} today)", 0
    return "", allowed


def tier_targets(
    *, config: ReplenishmentConfig, stock: selectors.Inventory, mix: dict[str, int], allowed: int
) -> dict[str, int]:
    """Leads to add per tier: each tier's shortfall below its minimum comes first; when the total
    is below its minimum, the rest up to the target follows the mix; all within `allowed`."""
    shortfall = {
        tier: max(0, minimum - stock.by_tier[tier]) for tier, minimum in config.tier_minimums().items()
    }
    gap = config.target_total_leads - stock.total if stock.total < config.min_total_leads else 0
    by_mix = largest_remainder(max(0, gap), mix)
    wanted = {tier: max(by_mix[tier], shortfall[tier]) for tier in TIERS}
    if sum(wanted.values()) <= allowed:
        return wanted
    first = largest_remainder(min(allowed, sum(shortfall.values())), shortfall)
    rest = largest_remainder(
        allowed - sum(first.values()), mix, caps={tier: wanted[tier] - first[tier] for tier in TIERS}
    )
    return {tier: first[tier] + rest[tier] for tier in TIERS}


def largest_remainder(
    total: int, weights: dict[str, int], *, caps: dict[str, int] | None = None
) -> dict[str, int]:
    """Split `total` into whole parts in proportion to `weights` (largest remainders get the
    rounding), never above a part's cap; what a capped part cannot take goes to the others."""
    parts = dict.fromkeys(weights, 0)
    caps = caps or dict.fromkeys(weights, total)
    remaining = total
    while remaining > 0:
        open_keys = [key for key in weights if weights[key] > 0 and parts[key] < caps[key]]
        weight_sum = sum(weights[key] for key in open_keys)
        if not weight_sum:
            break
        shares = {key: remaining * weights[key] / weight_sum for key in open_keys}
        given = {key: min(int(shares[key]), caps[key] - parts[key]) for key in open_keys}
        leftover = remaining - sum(given.values())
        for key in sorted(open_keys, key=lambda k: (-(shares[k] - int(shares[k])), list(weights).index(k))):
            if leftover == 0:
                break
            if parts[key] + given[key] < caps[key]:
                given[key] += 1
                leftover -= 1
        if not sum(given.values()):
            break
        for key, amount in given.items():
            parts[key] += amount
        remaining -= sum(given.values())
    return parts


def effective_tier(row: SourceLead, config: ReplenishmentConfig) -> str:
    if row.tier:
        return row.tier
    if row.score >= config.tier_a_plus_min_score:
        return TIERS[0]
    if row.score >= config.tier_a_min_score:
        return TIERS[1]
    return TIERS[2]


def candidates_classify(
    *, config: ReplenishmentConfig
) -> tuple[list[tuple[SourceLead, str]], list[tuple[SourceLead, str]]]:
    """Waiting rows of active sources, best first, split into new leads (with their tier) and
    duplicates (with what each matches): an existing contact, a row uploaded before, or a
    better row waiting in the same or another file."""
    rows = list(
        SourceLead.objects.filter(status=SourceLeadStatus.PENDING, source__is_active=True).select_related(
            "source"
        )
    )
    tiers = {row.pk: effective_tier(row, config) for row in rows}
    rows.sort(key=lambda r: (TIER_RANK[tiers[r.pk]], -(r.score if r.score is not None else -1), r.pk))
    emails = {row.email_key for row in rows if row.email_key}
    phones = {row.phone_key for row in rows if row.phone_key}
    contact_by_email, contact_by_phone = _contacts_matching(emails, phones)
    uploaded_by_email, uploaded_by_phone = _uploads_matching(emails, phones)

    unique, duplicates = [], []
    seen_email: dict[str, SourceLead] = {}
    seen_phone: dict[str, SourceLead] = {}
    for row in rows:
        reason = _duplicate_reason(
            row,
            contact_by_email,
            contact_by_phone,
            uploaded_by_email,
            uploaded_by_phone,
            seen_email,
            seen_phone,
        )
        if reason:
            duplicates.append((row, reason[:255]))
            continue
        unique.append((row, tiers[row.pk]))
        if row.email_key:
            seen_email[row.email_key] = row
        if row.phone_key:
            seen_phone[row.phone_key] = row
    return unique, duplicates


def _duplicate_reason(
    row, contact_by_email, contact_by_phone, uploaded_by_email, uploaded_by_phone, seen_email, seen_phone
) -> str:
    for label, key, contacts, uploads, seen in (
        ("email", row.email_key, contact_by_email, uploaded_by_email, seen_email),
        ("phone", row.phone_key, contact_by_phone, uploaded_by_phone, seen_phone),
    ):
        if not key:
            continue
        if key in contacts:
            pk, name = contacts[key]
            return f"same {label} as contact #{pk} ({name})"
        if key in uploads:
            source_name, line = uploads[key]
            return f"same {label} as a lead uploaded before ({source_name} line {line})"
        if key in seen:
            other = seen[key]
            where = "this file" if other.source_id == row.source_id else other.source.name
            return f"same {label} as line {other.line} of {where}"
    return ""


def _chunks(values: Iterable[str]) -> Iterable[list[str]]:
    values = sorted(values)
    for start in range(0, len(values), LOOKUP_CHUNK):
        yield values[start : start + LOOKUP_CHUNK]


def _contacts_matching(emails: set[str], phones: set[str]) -> tuple[dict, dict]:
    """Existing contacts (any state: archived and merged people exist too) by email and phone."""
    by_email, by_phone = {}, {}
    for chunk in _chunks(emails):
        # Lower("email") is what contact_email_lower_idx indexes.
        for key, pk, first, last in (
            Contact.objects.annotate(email_lower=Lower("email"))
            .filter(email_lower__in=chunk)
            .values_list("email_lower", "pk", "first_name", "last_name")
        ):
            by_email.setdefault(key, (pk, f"{first} {last}".strip()))
    for chunk in _chunks(phones):
        for phone, mobile, pk, first, last in Contact.objects.filter(
            Q(phone__in=chunk) | Q(mobile__in=chunk)
        ).values_list("phone", "mobile", "pk", "first_name", "last_name"):
            for number in (phone, mobile):
                if number in phones:
                    by_phone.setdefault(number, (pk, f"{first} {last}".strip()))
    return by_email, by_phone


def _uploads_matching(emails: set[str], phones: set[str]) -> tuple[dict, dict]:
    """Rows created by earlier runs: a lead uploaded once is never uploaded again, even when its
    contact was since deleted."""
    by_email, by_phone = {}, {}
    created = SourceLead.objects.filter(status=SourceLeadStatus.CREATED)
    for chunk in _chunks(emails):
        for key, name, line in created.filter(email_key__in=chunk).values_list(
            "email_key", "source__name", "line"
        ):
            by_email.setdefault(key, (name, line))
    for chunk in _chunks(phones):
        for key, name, line in created.filter(phone_key__in=chunk).values_list(
            "phone_key", "source__name", "line"
        ):
            by_phone.setdefault(key, (name, line))
    return by_email, by_phone


def candidates_select(
    unique: list[tuple[SourceLead, str]], *, targets: dict[str, int], fill: bool
) -> tuple[list[tuple[SourceLead, str]], list[str]]:
    """The best rows per tier up to its target. When a tier runs short and the total is below its
    minimum, the best remaining rows of other tiers fill in (better a B lead than none)."""
    chosen, notes = [], []
    taken: set[int] = set()
    for tier in TIERS:
        of_tier = [(row, t) for row, t in unique if t == tier][: targets.get(tier, 0)]
        chosen += of_tier
        taken.update(row.pk for row, _ in of_tier)
        if len(of_tier) < targets.get(tier, 0):
            notes.append(f"{tier}: wanted {targets[tier]}, only {len(of_tier)} new")
    missing = sum(targets.values()) - len(chosen)
    if missing and fill:
        extra = [(row, t) for row, t in unique if row.pk not in taken][:missing]
        if extra:
            notes.append(f"filled {len(extra)} from other tiers")
        chosen += extra
    chosen.sort(
        key=lambda item: (
            TIER_RANK[item[1]],
            -(item[0].score if item[0].score is not None else -1),
            item[0].pk,
        )
    )
    return chosen, notes


# --- Running --------------------------------------------------------------------------------


@dataclass
class RunOutcome:
    status: str
    lines: list[str]
    run: ReplenishmentRun | None = None
    plan: Plan | None = None
    assignment: AssignmentResult | None = None


def replenishment_run(
    *,
    trigger: str,
    config: ReplenishmentConfig | None = None,
    at: datetime | None = None,
    triggered_by: AbstractBaseUser | None = None,
    dry_run: bool = False,
    report: Report | None = None,
) -> RunOutcome:
    """One replenishment cycle; see the module docstring for its steps.

    Never overlaps another: it holds a lease it renews between steps (a killed run's lease runs
    out after JOB_LEASE_SECONDS and the next run marks it failed); a run that finds the lock held
    is recorded as skipped. Everything it creates, marks and assigns commits in one
    transaction, so an exception half way leaves the database as it was (the run is recorded as
    failed) and the next run starts from the same waiting rows. A dry run writes nothing but the
    staging of changed path sources, and records no run.
    """
    started = time.monotonic()
    at = at or timeutils.now()
    config = config or selectors.config_current()
    lines: list[str] = []

    def say(line: str) -> None:
        lines.append(line)
        if report:
            report(line)

    say("Starting replenishment run" + (" (dry run: nothing will be created or assigned)" if dry_run else ""))
    holder = None
    if not dry_run:
        holder = lease_acquire(at=at)
        if holder is None:
            return _skipped(trigger=trigger, triggered_by=triggered_by, at=at, say=say, lines=lines)
    run = None

    def heartbeat() -> None:
        """Renew the lock between steps (and once inside the final transaction, so the run commits
        only if the lock is still its own). The run's clock is `at` moved on by the time spent."""
        if holder is None:
            return
        now = at + timedelta(seconds=time.monotonic() - started)
        if not lease_renew(holder=holder, at=now):
            raise LeaseLost("another run took the lock over: this one stopped renewing it in time")
        if run is not None:
            ReplenishmentRun.objects.filter(pk=run.pk).update(heartbeat_at=now)

    try:
        if not dry_run:
            _dead_runs_fail(at=at)
            run = ReplenishmentRun.objects.create(
                started_at=at, trigger=trigger, triggered_by=triggered_by, heartbeat_at=at
            )
        problems = sources_refresh(heartbeat=heartbeat)
        for problem in problems:
            say(f"Error: {problem}")
        heartbeat()
        plan = replenishment_plan(config=config, at=at)
        heartbeat()
        outcome = RunOutcome(status=RunStatus.RUNNING, lines=lines, run=run, plan=plan)
        _report_plan(plan, say)
        if dry_run:
            preview = assignment_preview(new_lead_tiers=[tier for _, tier in plan.selected], at=at)
            say(f"Would assign: {_assignment_line(preview)}")
            outcome.assignment, outcome.status = preview, _status(plan, created=len(plan.selected))
            say(f"Dry run done in {time.monotonic() - started:.1f}s")
            return outcome
        with transaction.atomic():
            created_ids = (
                _apply(plan, run, say, errors=len(problems)) if plan.needed and not plan.block else []
            )
            assignment = contacts_assign(at=at, note=f"Replenishment run {run.pk}")
            say(f"Assigned: {_assignment_line(assignment)}")
            # Assigned contacts were scored by the move (contacts_reassign); the ones still
            # waiting for room need their queue priority too.
            queue_scores_refresh(set(created_ids) - set(assignment.contact_ids))
            outcome.assignment, outcome.status = assignment, _status(plan, created=len(created_ids))
            heartbeat()
            say(f"Done in {time.monotonic() - started:.1f}s")
            _record(run, plan, problems, created_ids, assignment, outcome.status, lines)
            run.refresh_from_db()
        return outcome
    except Exception as error:
        logger.exception("replenishment run failed")
        if run is not None:
            say(f"Failed: {type(error).__name__}: {error}. Nothing of this run was kept.")
            ReplenishmentRun.objects.filter(pk=run.pk).update(
                status=RunStatus.FAILED,
                finished_at=timeutils.now(),
                summary=f"Failed: {type(error).__name__}: {error}"[:255],
                steps=lines,
            )
        raise
    finally:
        if holder:
            lease_release(holder=holder)


class LeaseLost(Exception):
    """This run's lock lease ran out and another run took it: nothing more of this run may commit."""


def _dead_runs_fail(*, at: datetime) -> None:
    """Holding the lock, no other run is live: one still "running" lost its process (its lease
    ran out without a heartbeat). Say so, with when it was last seen."""
    for dead in ReplenishmentRun.objects.filter(status=RunStatus.RUNNING):
        seen = timezone.localtime(dead.heartbeat_at or dead.started_at)
        ReplenishmentRun.objects.filter(pk=dead.pk, status=RunStatus.RUNNING).update(
            status=RunStatus.FAILED,
            finished_at=at,
            summary=(
                f"Interrupted: its process stopped (last heartbeat {seen:%H:%M:%S}) before the run "
                "finished; nothing of it was kept."
            ),
        )


def _skipped(*, trigger: str, triggered_by, at: datetime, say: Report, lines: list[str]) -> RunOutcome:
    """Another run holds the lock: record this one as skipped (never as a success), saying who
    holds it and when it last showed life."""
    lease = ReplenishmentLease.objects.filter(name=LEASE_NAME).first()
    holding = ReplenishmentRun.objects.filter(status=RunStatus.RUNNING).order_by("-started_at").first()
    who = ""
    if holding:
        beat = holding.heartbeat_at or holding.started_at
        who = f" (run {holding.pk}, last heartbeat {max(0, (at - beat).total_seconds()):.0f} s ago)"
    say(f"Another run holds the lock until {timezone.localtime(lease.expires_at):%H:%M:%S}{who}; skipped")
    run = ReplenishmentRun.objects.create(
        started_at=at,
        finished_at=at,
        trigger=trigger,
        triggered_by=triggered_by,
        status=RunStatus.SKIPPED,
        summary=f"Skipped: another run held the lock{who}"[:255],
        steps=lines,
    )
    logger.warning(
        "replenishment.skipped", extra={"run": run.pk, "holding_run": holding.pk if holding else None}
    )
    return RunOutcome(status=RunStatus.SKIPPED, lines=lines, run=run)


def counted(number: int, word: str) -> str:
    """'1 duplicate', '2 duplicates', '0 errors'."""
    return f"{number} {word}{'' if number == 1 else 's'}"


def _report_plan(plan: Plan, say: Report) -> None:
    stock = plan.inventory
    tiers = ", ".join(f"{tier} {stock.by_tier[tier]}" for tier in TIERS)
    conversion = ", ".join(
        f"{tier} {c.percent}% of {c.leads}" if c.leads else f"{tier} no leads"
        for tier, c in stock.conversion.items()
    )
    say(
        f"Metrics: {stock.total} available leads ({tiers}, untiered {stock.untiered}; "
        f"{stock.unassigned} unassigned) · 30-day conversion: {conversion}"
    )
    if not plan.needed:
        say("Lead levels sufficient, no upload needed")
        return
    say(f"Reasons: {'; '.join(plan.reasons)}")
    if plan.mix_note:
        say(f"Mix: {plan.mix_note}")
    say(
        f"Targets: {', '.join(f'{t} {n}' for t, n in plan.targets.items())} "
        f"(at most {plan.allowed} this run: {plan.config.max_per_run} per run, "
        f"{plan.config.max_per_day} per day)"
    )
    if plan.block:
        say(f"Upload blocked: {plan.block}")
        return
    say(
        f"Found: {counted(plan.found, 'waiting row')} in the active sources "
        f"({counted(len(plan.duplicates), 'duplicate')})"
    )
    selected = ", ".join(f"{t} {n}" for t, n in plan.selected_by_tier().items())
    notes = f" · {'; '.join(plan.selection_notes)}" if plan.selection_notes else ""
    say(f"Selected: {len(plan.selected)} leads for upload ({selected}){notes}")


def _apply(plan: Plan, run: ReplenishmentRun, say: Report, *, errors: int) -> list[int]:
    """Mark duplicates, create the selected contacts and mark their rows used (caller's transaction)."""
    for row, reason in plan.duplicates:
        row.status, row.detail, row.run = SourceLeadStatus.DUPLICATE, reason, run
    SourceLead.objects.bulk_update(
        [row for row, _ in plan.duplicates], ["status", "detail", "run"], batch_size=LOOKUP_CHUNK
    )
    rows = [row for row, _ in plan.selected]
    # Claim first: a row some other writer consumed meanwhile aborts the run instead of doubling.
    claimed = SourceLead.objects.filter(
        pk__in=[row.pk for row in rows], status=SourceLeadStatus.PENDING
    ).update(status=SourceLeadStatus.CREATED, run=run)
    if claimed != len(rows):
        raise RuntimeError(f"{len(rows) - claimed} selected rows were no longer waiting")
    contacts = []
    for row, tier in plan.selected:
        contact = Contact(
            first_name=row.first_name,
            last_name=row.last_name,
            email=row.email,
            city=row.city,
            tier=tier,
            lead_source=row.lead_source or row.source.default_lead_source or row.source.name,
            lifecycle_stage=LifecycleStage.LEAD,
            lead_status=LeadStatus.NEW,
        )
        contact_set_phones(contact, phone=row.phone)
        contacts.append(contact)
    Contact.objects.bulk_create(contacts, batch_size=LOOKUP_CHUNK)
    for row, contact in zip(rows, contacts, strict=True):
        row.contact_id = contact.pk
    SourceLead.objects.bulk_update(rows, ["contact"], batch_size=LOOKUP_CHUNK)
    say(
        f"Created: {counted(len(contacts), 'contact')} · {counted(len(plan.duplicates), 'duplicate')} skipped"
        f" · {counted(errors, 'error')}"
    )
    return [contact.pk for contact in contacts]


def _status(plan: Plan, *, created: int) -> str:
    if not plan.needed:
        return RunStatus.NOT_NEEDED
    if plan.block:
        return RunStatus.BLOCKED
    return RunStatus.UPLOADED if created else RunStatus.NOTHING_NEW


def _assignment_line(assignment: AssignmentResult) -> str:
    given = ", ".join(f"{name} {n}" for name, n in assignment.by_owner.items())
    line = f"{assignment.assigned} lead{'s' if assignment.assigned != 1 else ''}"
    if given:
        line += f" ({given})"
    return line + f"; {assignment.carried_over} waiting for room"


def _record(run, plan: Plan, problems, created_ids, assignment: AssignmentResult, status: str, lines) -> None:
    summary = {
        RunStatus.NOT_NEEDED: "Lead levels sufficient, no upload needed",
        RunStatus.BLOCKED: f"Upload blocked: {plan.block}",
        RunStatus.NOTHING_NEW: "Below thresholds but no new leads in the sources",
        RunStatus.UPLOADED: (
            f"{counted(len(created_ids), 'lead')} uploaded, {counted(len(plan.duplicates), 'duplicate')}, "
            f"{counted(len(problems), 'error')}"
        ),
    }[status]
    ReplenishmentRun.objects.filter(pk=run.pk).update(
        status=status,
        finished_at=timeutils.now(),
        summary=summary[:255],
        metrics=plan.inventory.as_json() | {"mix": plan.mix},
        reasons=plan.reasons,
        targets=plan.targets,
        found=plan.found,
        selected=len(plan.selected),
        created=len(created_ids),
        duplicates=len(plan.duplicates),
        errors=len(problems),
        error_details=problems,
        assigned=assignment.by_owner,
        carried_over=assignment.carried_over,
        steps=lines,
    )
