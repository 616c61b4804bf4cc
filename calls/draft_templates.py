"""Template drafts (SPEC S8): the words for each situation and channel, always available, used
when AI drafting is off or late."""

from dataclasses import dataclass, field

from calls.draft_facts import PACKAGE_ENDING_SESSIONS, DraftFacts, Situation, situation_of
from calls.models import CallOutcome, CallStatus, Channel


@dataclass(frozen=True)
class _Script:
    """One situation's words. {since}, {when} and {package} are always filled with real
    phrases; a script only uses one when its situation guarantees the fact behind it."""

    sms: str
    whatsapp: str
    subject: str
    email: str  # paragraphs separated by a blank line
    opener: str  # phone: the first sentence after the greeting
    points: tuple[str, ...] = field(default=())  # phone: talking points for the setter


_SCRIPTS = {
    Situation.NEW_LEAD: _Script(
        sms="Thanks for getting in touch! When's a good time for a quick call to see how we can help?",
        whatsapp=(
            "Thanks for getting in touch with us! I'd love to hear what you're looking for and see "
            "how we can help. When would suit you for a quick 5-minute call, today or tomorrow?"
        ),
        subject="Thanks for getting in touch",
        email=(
            "Thanks for getting in touch with us. I'll be looking after you, and I'd love to hear "
            "what you're hoping to achieve so I can point you to the right option.\n\n"
            "Would you have 10 minutes for a quick call today or tomorrow? Just reply with a time "
            "that suits you and I'll call you then."
        ),
        opener="Thanks for getting in touch with us, I'm calling to see how we can help.",
        points=(
            "New lead, never called: every hour lowers the chance to reach them.",
            "Ask what made them get in touch and what they want to achieve.",
            "Goal: book the next step before you hang up.",
        ),
    ),
    Situation.CALLBACK_REQUESTED: _Script(
        sms="You asked us to call you back. When's a good time today or tomorrow?",
        whatsapp=(
            "You asked us to give you a call back, so I wanted to find a time that works for you. "
            "Would later today or tomorrow suit you better?"
        ),
        subject="Your call back",
        email=(
            "You asked us to call you back, and I want to make sure I catch you at a good time.\n\n"
            "Could you reply with a day and time that suits you? I'll call you then."
        ),
        opener="You asked us to call you back, is now still a good time?",
        points=(
            "They asked for this call: keep the promise.",
            "Pick up where the last conversation left off (see the note).",
            "Goal: answer their questions and agree the next step.",
        ),
    ),
    Situation.NEW_OWNER: _Script(
        sms=(
            "I'm now your point of contact with us. How are things going? "
            "Happy to have a quick chat this week."
        ),
        whatsapp=(
            "I've just taken over looking after you, so I wanted to say hello and introduce myself. "
            "How are things going? I'd love a quick chat this week to hear how I can help."
        ),
        subject="Your new point of contact",
        email=(
            "I've just taken over looking after you, so I wanted to introduce myself. Whatever you "
            "need from us, I'm your person from now on.\n\n"
            "Could we have a quick chat this week so I can hear how things are going? Just reply "
            "with a time that suits you."
        ),
        opener="I've just taken over looking after you and wanted to introduce myself.",
        points=(
            "They may not know about the handover: introduce yourself first.",
            "Ask how things have been going and what they need from us.",
            "Goal: build rapport and agree when you'll next talk.",
        ),
    ),
    Situation.VOICEMAIL_LEFT: _Script(
        sms="I tried to call you {when} and left a voicemail. When's a good time to talk?",
        whatsapp=(
            "I tried to call you {when} and left you a voicemail. No rush, just let me know when's "
            "a good time to talk, or reply here if that's easier."
        ),
        subject="Sorry I missed you",
        email=(
            "I tried to call you {when} and left you a voicemail. I'd love to catch up when it "
            "suits you.\n\n"
            "Just reply with a good time to call, or reply here if email is easier."
        ),
        opener="I left you a voicemail {when}, so I thought I'd try you again.",
        points=(
            "Keep it short and friendly: they haven't spoken to us live yet.",
            "Ask whether now is a good time, or when is.",
            "No answer again: send a WhatsApp rather than another voicemail.",
        ),
    ),
    Situation.RED_ZONE: _Script(
        sms="Just checking in personally: how are things going? Anything I can help with?",
        whatsapp=(
            "I wanted to check in personally and see how everything is going for you. Is there "
            "anything we could be doing better, or anything I can help with? Happy to jump on a "
            "quick call whenever suits you."
        ),
        subject="Checking in",
        email=(
            "I wanted to check in personally and see how everything is going for you.\n\n"
            "If anything isn't working as well as it should, I'd really like to hear about it so "
            "we can put it right. Would you have 10 minutes for a call this week?"
        ),
        opener="I wanted to check in personally and see how things are going.",
        points=(
            "RED zone client: listen first and find out what's wrong.",
            "Ask what could be better and offer a concrete fix.",
            "Goal: agree a next step (a session booked, a schedule change) before you hang up.",
        ),
    ),
    Situation.PACKAGE_ENDING: _Script(
        sms="Just a heads-up that {package}. Shall we have a quick chat about what's next?",
        whatsapp=(
            "Just a quick heads-up that {package}. I'd love to hear how it's been going and talk "
            "about what's next for you. When would suit you for a quick call?"
        ),
        subject="Your package: what's next",
        email=(
            "Just a quick heads-up that {package}.\n\n"
            "I'd love to hear how it's been going and talk through the options for what comes "
            "next. Would you have 10 minutes for a call this week?"
        ),
        opener="I'm calling because {package}, and I'd love to hear how it's been going.",
        points=(
            "Ask how it has gone so far and recognise their progress.",
            "Talk through renewal options: recommend, don't push.",
            "Goal: a renewal decision, or a time to decide.",
        ),
    ),
    Situation.GOING_COLD: _Script(
        sms=(
            "It's been {since} since we were last in touch. How are things? "
            "Happy to help whenever you're ready."
        ),
        whatsapp=(
            "It's been {since} since we were last in touch, so I wanted to check in. How are things "
            "going? If you'd like to pick things up again, I'd be happy to have a quick chat."
        ),
        subject="Checking in",
        email=(
            "It's been {since} since we were last in touch, so I wanted to check in and see how "
            "you're doing.\n\n"
            "If you'd like to pick things up again, I'm happy to help. Just reply with a good time "
            "for a quick call."
        ),
        opener="It's been {since} since we were last in touch, so I wanted to check in.",
        points=(
            "Going cold: reopen the conversation, don't sell yet.",
            "Ask what has changed since you last spoke.",
            "Goal: a concrete next step, or an honest 'not now' (log it).",
        ),
    ),
    Situation.CHECK_IN: _Script(
        sms="Just checking in. How are things going? Let me know if I can help with anything.",
        whatsapp=(
            "Just checking in to see how things are going. Is there anything I can help with? "
            "Happy to have a quick call whenever suits you."
        ),
        subject="Checking in",
        email=(
            "I just wanted to check in and see how things are going.\n\n"
            "If there's anything I can help with, just reply here or let me know a good time for "
            "a quick call."
        ),
        opener="I just wanted to check in and see how things are going.",
        points=("Ask how things are going and listen.", "Goal: agree the next step."),
    ),
}


def _since_phrase(days: int | None) -> str:
    if days is None or days < 14:
        return "over a week"
    if days < 21:
        return "a couple of weeks"
    if days < 45:
        return "a few weeks"
    if days < 90:
        return "over a month"
    return "a few months"


def _when_phrase(days: int | None) -> str:
    if days == 0:
        return "today"
    if days == 1:
        return "yesterday"
    if days is not None and days < 7:
        return "a few days ago"
    return "recently"


def _ago_phrase(days: int) -> str:
    return {0: "today", 1: "yesterday"}.get(days, f"{days} days ago")


def _package_phrase(facts: DraftFacts) -> str:
    if facts.sessions_left is not None and facts.sessions_left <= PACKAGE_ENDING_SESSIONS:
        if facts.sessions_left == 0:
            return "you've used all the sessions in your package"
        plural = "session" if facts.sessions_left == 1 else "sessions"
        return f"you have {facts.sessions_left} {plural} left in your package"
    if facts.package_end_date is not None:
        end = facts.package_end_date
        return f"your package ends on {end.day} {end:%B}"
    return "your package is coming to an end"


def choice_label(choices: type, value: str) -> str:
    try:
        return str(choices(value).label).lower()
    except ValueError:
        return value.replace("_", " ").lower()


def template_draft(facts: DraftFacts) -> str:
    """A ready-to-send message (or, for PHONE, a call opener with talking points) in the
    channel's style, from the facts alone. Always available, never empty."""
    script = _SCRIPTS[situation_of(facts)]
    words = {
        "since": _since_phrase(facts.days_since_last_contact),
        "when": _when_phrase(facts.days_since_last_contact),
        "package": _package_phrase(facts),
    }
    name = facts.first_name or "there"
    owner = facts.owner_first_name
    hello = f"Hi {name}, it's {owner} here." if owner else f"Hi {name}!"
    if facts.channel == Channel.SMS:
        return f"{hello} {script.sms.format(**words)}"
    if facts.channel == Channel.WHATSAPP:
        return f"{hello} {script.whatsapp.format(**words)}"
    if facts.channel == Channel.EMAIL:
        return (
            f"Subject: {script.subject}\n\nHi {name},\n\n{script.email.format(**words)}\n\n"
            f"Best regards,\n{owner or 'The team'}"
        )
    return _phone_notes(facts, script, hello, words)


def _phone_notes(facts: DraftFacts, script: _Script, hello: str, words: dict[str, str]) -> str:
    # Read by the setter, never sent: internal context (reason, note) belongs here.
    lines = [f'Opener: "{hello} {script.opener.format(**words)}"']
    if facts.reason:
        lines.append(f"Why now: {facts.reason}")
    if facts.never_called:
        lines.append("Last call: never called")
    else:
        last = [_ago_phrase(max(facts.days_since_last_contact, 0))]
        if facts.last_call_outcome:
            last.insert(0, choice_label(CallOutcome, facts.last_call_outcome))
        elif facts.last_call_status:
            last.insert(0, choice_label(CallStatus, facts.last_call_status))
        lines.append(f"Last call: {', '.join(last)}")
    if facts.notes_excerpt:
        lines.append(f'Last note: "{facts.notes_excerpt}"')
    lines.append("Talking points:")
    lines.extend(f"- {point}" for point in script.points)
    return "\n".join(lines)
