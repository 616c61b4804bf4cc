"""What the demo world is made of: weights, names, places, packages and note templates.

Plain data, so the shape of the world can be tuned here without touching the generator.
"""

import bisect
import itertools
import random
from collections.abc import Hashable, Iterable

from calls.models import CallOutcome, CallStatus, Channel
from leads.models import LeadStatus, LifecycleStage, TaskStatus, Tier, Zone


class Weighted:
    """A value picked with fixed weights: one draw from the seeded Random and a bisect."""

    __slots__ = ("cumulative", "total", "values")

    def __init__(self, pairs: Iterable[tuple[Hashable, float]]) -> None:
        pairs = list(pairs)
        self.values = [value for value, _ in pairs]
        self.cumulative = list(itertools.accumulate(weight for _, weight in pairs))
        self.total = self.cumulative[-1]

    def __call__(self, rng: random.Random):
        return self.values[bisect.bisect_right(self.cumulative, rng.random() * self.total)]


# --- Calendar ---------------------------------------------------------------------------
# ISO weekday -> opening and closing hour in the business time zone. UAE sales teams work
# Monday to Friday and a short Saturday; nobody calls on Sunday.
OPENING_HOURS = {1: (9, 19), 2: (9, 19), 3: (9, 19), 4: (9, 19), 5: (9, 19), 6: (10, 14)}
CALL_HISTORY_DAYS = 90
CREATED_SPREAD_DAYS = 180
HEALTH_HISTORY_DAYS = 60
HEALTH_JOB_HOUR = 2  # the nightly health job runs at 02:00 business time

# --- Owners -----------------------------------------------------------------------------
SETTER_TEAMS = ("Setters · Dubai", "Setters · Abu Dhabi", "Setters · Northern Emirates")
COACH_TEAM = "Coaches"
OWNER_EMAIL_DOMAIN = "crm-demo.example.com"

# --- People -----------------------------------------------------------------------------
# Transliterated Emirati / Arab names; Faker supplies the other communities (see people.py).
ARABIC_FIRST_NAMES = (
    "Mohammed", "Ahmed", "Ali", "Omar", "Khalid", "Hamdan", "Saeed", "Rashid", "Sultan", "Hamad",
    "Yousef", "Abdullah", "Faisal", "Majid", "Salem", "Tariq", "Hassan", "Ibrahim", "Zayed", "Mansour",
    "Fatima", "Aisha", "Mariam", "Noura", "Shamma", "Hessa", "Latifa", "Maitha", "Reem", "Sara",
    "Amna", "Moza", "Alya", "Hind", "Layla", "Nadia", "Rania", "Huda", "Dana", "Salama",
)  # fmt: skip
ARABIC_LAST_NAMES = (
    "Al Mansouri", "Al Hashimi", "Al Nuaimi", "Al Ketbi", "Al Mazrouei", "Al Shamsi", "Al Falasi",
    "Al Marzouqi", "Al Suwaidi", "Al Dhaheri", "Al Blooshi", "Al Zaabi", "Al Muhairi", "Al Qasimi",
    "Al Ameri", "Al Kaabi", "Haddad", "Khoury", "Nasser", "Saleh", "Mahmoud", "Hussein", "Farouk",
    "El Sayed", "Qureshi", "Abdelrahman",
)  # fmt: skip
# Faker locale -> share of contacts; "ar" is the list above.
NAME_GROUPS = (("ar", 40), ("en_IN", 25), ("en_US", 12), ("en_GB", 12), ("en_PH", 11))
NAME_POOL_SIZE = 250
# Reserved example domains (RFC 2606): a demo database can never email a real person.
EMAIL_DOMAINS = Weighted(
    [
        ("example.com", 40),
        ("example.net", 25),
        ("example.org", 15),
        ("mail.example.com", 12),
        ("inbox.example.net", 8),
    ]
)

CITIES = Weighted(
    [
        ("Dubai", 45), ("Abu Dhabi", 20), ("Sharjah", 14), ("Ajman", 6), ("Al Ain", 6),
        ("Ras Al Khaimah", 4), ("Fujairah", 3), ("Umm Al Quwain", 2),
    ]
)  # fmt: skip
# Landline area code (national significant number's first digit) per city.
CITY_AREA_CODES = {
    "Dubai": "4", "Abu Dhabi": "2", "Al Ain": "3", "Sharjah": "6", "Ajman": "6", "Umm Al Quwain": "6",
    "Ras Al Khaimah": "7", "Fujairah": "9",
}  # fmt: skip
MOBILE_PREFIXES = ("50", "52", "54", "55", "56", "58")
# How people type a UAE number (national significant number "501234567" / "43123456").
PHONE_FORMATS = Weighted(
    [
        ("local_spaced", 30),
        ("local", 20),
        ("intl_spaced", 20),
        ("intl_00", 12),
        ("intl_no_plus", 12),
        ("intl_dashed", 6),
    ]
)
INVALID_PHONE_SHARE = 0.025
MOBILE_SHARE = 0.45
LANDLINE_SHARE = 0.12

# --- Lifecycle ---------------------------------------------------------------------------
STAGES = Weighted(
    [
        (LifecycleStage.LEAD, 36), (LifecycleStage.MQL, 18), (LifecycleStage.SQL, 14),
        (LifecycleStage.OPPORTUNITY, 9), (LifecycleStage.CUSTOMER, 14), (LifecycleStage.SUBSCRIBER, 4),
        (LifecycleStage.LOST, 4), (LifecycleStage.EVANGELIST, 1),
    ]
)  # fmt: skip
CLIENT_STAGES = frozenset({LifecycleStage.CUSTOMER, LifecycleStage.EVANGELIST})
TIER_STAGES = frozenset({LifecycleStage.LEAD, LifecycleStage.MQL, LifecycleStage.SQL})
COACHED_STAGES = frozenset({LifecycleStage.OPPORTUNITY, LifecycleStage.CUSTOMER, LifecycleStage.EVANGELIST})
TIERS = Weighted([(Tier.A_PLUS, 15), (Tier.A, 45), (Tier.B, 40)])
COACH_SHARE = 0.85  # the rest of opportunities/customers show the "missing coach" flag
NEW_LEAD_LAST_HOUR_SHARE = 0.03  # of leads: created in the last hour, never called (speed to lead)
NEW_LEAD_LAST_DAY_SHARE = 0.05
UNOWNED_SHARE = 0.02
ARCHIVED_SHARE = 0.015
MERGED_SHARE = 0.01
DO_NOT_CONTACT_SHARE = 0.015
OPT_OUT_SHARES = {"phone_opt_out": 0.01, "whatsapp_opt_out": 0.04, "email_opt_out": 0.05, "sms_opt_out": 0.06}
NO_EMAIL_SHARE = 0.03

# Rhythm: how a contact gets called. STEADY contacts have a usual weekly frequency (and some
# break it this week), ATTEMPTS are new leads worked right after they arrive, NURTURE are
# called now and then, NONE never.
STEADY, ATTEMPTS, NURTURE, NONE = "steady", "attempts", "nurture", "none"
RHYTHMS = {
    LifecycleStage.LEAD: Weighted([(NONE, 12), (ATTEMPTS, 63), (NURTURE, 25)]),
    LifecycleStage.MQL: Weighted([(NONE, 5), (ATTEMPTS, 45), (NURTURE, 35), (STEADY, 15)]),
    LifecycleStage.SQL: Weighted([(ATTEMPTS, 25), (NURTURE, 20), (STEADY, 55)]),
    LifecycleStage.OPPORTUNITY: Weighted([(NURTURE, 20), (STEADY, 80)]),
    LifecycleStage.CUSTOMER: Weighted([(NURTURE, 15), (STEADY, 85)]),
    LifecycleStage.EVANGELIST: Weighted([(NURTURE, 40), (STEADY, 60)]),
    LifecycleStage.SUBSCRIBER: Weighted([(NONE, 50), (NURTURE, 50)]),
    LifecycleStage.LOST: Weighted([(NONE, 40), (NURTURE, 60)]),
}
STEADY_RATES = Weighted([(0.5, 15), (1.0, 30), (1.5, 20), (2.0, 20), (3.0, 15)])  # calls a week
PATTERN_BREAK_SHARE = 0.15  # of steady contacts with a few weeks of history

# --- Calls -------------------------------------------------------------------------------
CHANNELS = Weighted([(Channel.PHONE, 82), (Channel.WHATSAPP, 11), (Channel.EMAIL, 4), (Channel.SMS, 3)])
OPT_OUT_FIELD = {
    Channel.PHONE: "phone_opt_out", Channel.WHATSAPP: "whatsapp_opt_out", Channel.EMAIL: "email_opt_out",
    Channel.SMS: "sms_opt_out",
}  # fmt: skip
INBOUND_SHARE = {Channel.PHONE: 0.06, Channel.WHATSAPP: 0.2, Channel.EMAIL: 0.1, Channel.SMS: 0.05}
PHONE_STATUSES = Weighted(
    [
        (CallStatus.ANSWERED, 34), (CallStatus.NO_ANSWER, 36), (CallStatus.BUSY, 8),
        (CallStatus.VOICEMAIL, 17), (CallStatus.FAILED, 5),
    ]
)  # fmt: skip
INBOUND_STATUSES = Weighted([(CallStatus.ANSWERED, 88), (CallStatus.NO_ANSWER, 12)])
# A message "answered" is one that got a reply.
MESSAGE_STATUSES = Weighted([(CallStatus.ANSWERED, 40), (CallStatus.NO_ANSWER, 55), (CallStatus.FAILED, 5)])


def _answered(booked: int) -> Weighted:
    return Weighted(
        [
            (CallOutcome.CONNECTED, 42), (CallOutcome.BOOKED, booked), (CallOutcome.CALLBACK_REQUESTED, 18),
            (CallOutcome.NOT_INTERESTED, 10), (CallOutcome.OTHER, 5), (CallOutcome.WRONG_NUMBER, 2),
        ]
    )  # fmt: skip


# Answered-call outcomes by stage: conversations with hot leads and clients book more.
ANSWERED_OUTCOMES = {
    LifecycleStage.LEAD: _answered(8),
    LifecycleStage.MQL: _answered(10),
    LifecycleStage.SQL: _answered(18),
    LifecycleStage.OPPORTUNITY: _answered(20),
    LifecycleStage.CUSTOMER: _answered(15),
    LifecycleStage.EVANGELIST: _answered(15),
    LifecycleStage.SUBSCRIBER: _answered(3),
    LifecycleStage.LOST: _answered(2),
}
# Outcomes allowed without a conversation (the CallRecord check constraint).
UNANSWERED_OUTCOMES = {
    CallStatus.NO_ANSWER: Weighted([("", 85), (CallOutcome.LEFT_MESSAGE, 7), (CallOutcome.OTHER, 5),
                                    (CallOutcome.CALLBACK_REQUESTED, 3)]),
    CallStatus.BUSY: Weighted([("", 88), (CallOutcome.CALLBACK_REQUESTED, 8), (CallOutcome.OTHER, 4)]),
    CallStatus.VOICEMAIL: Weighted([(CallOutcome.LEFT_MESSAGE, 75), ("", 25)]),
    CallStatus.FAILED: Weighted([("", 75), (CallOutcome.WRONG_NUMBER, 25)]),
}  # fmt: skip
CALL_SOURCES = Weighted([("hubspot", 84), ("manual", 14), ("twilio", 2)])
ANSWERED_NOTE_SHARE = 0.4
OTHER_NOTE_SHARE = 0.06
TRANSCRIPT_SHARE = 0.05  # of notes: a long multi-line transcript (exercises the note excerpt)

PACKAGES = (
    "12-session personal training package", "24-session personal training package",
    "8-week transformation programme", "online coaching (3 months)", "nutrition plan",
    "couples training package", "corporate wellness plan", "ladies-only small group package",
)  # fmt: skip
NOTE_DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "next week", "after Eid")
NOTE_TIMES = ("9:30", "11:00", "13:00", "16:30", "18:00", "19:30")
NOTES = {
    CallOutcome.CONNECTED: (
        "Spoke with {first}. Interested in the {package}; wants prices on WhatsApp.",
        "Discussed goals: lose 8 kg before summer. Prefers evening sessions in {city}.",
        "{first} is comparing us with a gym near home.  Sent the {package} brochure.",
        "Client happy with the coach, a few sessions left. Mentioned renewing next month.",
        "Asked about instalments and ladies-only sessions.",
    ),
    CallOutcome.BOOKED: (
        "Booked a consultation for {day} at {time} in {city}.",
        "Booked a trial session {day} {time}. Confirmed on WhatsApp.",
        "Renewal agreed: {package}. Booked the first session for {day}.",
    ),
    CallOutcome.CALLBACK_REQUESTED: (
        "{first} asked for a call back {day} around {time}.",
        "Driving, call back {day}.",
        "Busy with work this week; call back after {time} on {day}.",
    ),
    CallOutcome.NOT_INTERESTED: (
        "Not interested right now - joined another gym. Try again in 3 months.",
        "Price objection, too expensive for now.",
        "Moving out of the UAE next month.",
    ),
    CallOutcome.WRONG_NUMBER: (
        "Wrong number, the person does not know {first}.",
        "Number belongs to a colleague.",
    ),
    CallOutcome.LEFT_MESSAGE: (
        "Left a voicemail about the {package} offer.",
        "No answer, sent a WhatsApp follow-up.",
    ),
    CallOutcome.OTHER: ("Line was bad, will try again.", "Spoke to the assistant, {first} is travelling."),
    "": ("No answer.", "Line busy, try again in the evening.", "Number unreachable."),
}
TRANSCRIPT_LINES = (
    "Setter: Hi {first}, this is your coach's team calling about your enquiry.",
    "{first}: Hi, yes, I filled in the form last week.",
    "Setter: Great. What are you hoping to achieve in the next three months?",
    "{first}: Mainly lose weight and get more energy, I sit at a desk all day.",
    "Setter: The {package} is built for exactly that, with a coach in {city}.",
    "{first}: How much is it, and can I pay monthly?",
    "Setter: Yes, in instalments. Shall I book a free consultation for {day} at {time}?",
)

# --- Deals -------------------------------------------------------------------------------
PIPELINE, PIPELINE_LABEL = "default", "Sales Pipeline"
DEAL_STAGE_LABELS = {
    "appointmentscheduled": "Appointment Scheduled", "qualifiedtobuy": "Qualified To Buy",
    "presentationscheduled": "Presentation Scheduled", "decisionmakerboughtin": "Decision Maker Bought-In",
    "contractsent": "Contract Sent", "closedwon": "Closed Won", "closedlost": "Closed Lost",
}  # fmt: skip
CLOSED_STAGES = frozenset({"closedwon", "closedlost"})
# Expected deals per contact of each stage before scaling to --deals.
DEAL_RATES = {
    LifecycleStage.OPPORTUNITY: 1.0, LifecycleStage.CUSTOMER: 1.0, LifecycleStage.EVANGELIST: 1.0,
    LifecycleStage.SQL: 0.45, LifecycleStage.LOST: 0.35, LifecycleStage.MQL: 0.06, LifecycleStage.LEAD: 0.02,
    LifecycleStage.SUBSCRIBER: 0.0,
}  # fmt: skip
DEAL_STAGES = {
    LifecycleStage.CUSTOMER: Weighted(
        [("closedwon", 80), ("decisionmakerboughtin", 8), ("contractsent", 12)]
    ),
    LifecycleStage.OPPORTUNITY: Weighted(
        [("presentationscheduled", 35), ("decisionmakerboughtin", 35), ("contractsent", 30)]
    ),
    LifecycleStage.SQL: Weighted([("appointmentscheduled", 60), ("qualifiedtobuy", 40)]),
    LifecycleStage.LOST: Weighted([("closedlost", 1)]),
}
DEAL_STAGES[LifecycleStage.EVANGELIST] = DEAL_STAGES[LifecycleStage.CUSTOMER]
OTHER_DEAL_STAGES = Weighted([("appointmentscheduled", 70), ("closedlost", 30)])
DEAL_AMOUNT_MIN, DEAL_AMOUNT_MAX = 2_000, 60_000
DEAL_WITHOUT_AMOUNT_SHARE = 0.03

# --- Tasks -------------------------------------------------------------------------------
CALLBACK_TASK_SHARE = 0.7  # of contacts whose last call asked for a callback
OTHER_TASK_SHARE = 0.1
TASK_SUBJECTS = {
    "CALL": ("Call back {first}", "Follow up on pricing with {first}", "Confirm consultation with {first}"),
    "EMAIL": ("Send the {package} brochure to {first}", "Email invoice to {first}"),
    "TODO": ("Update {first}'s goals in HubSpot", "Check payment plan for {first}"),
}
TASK_TYPES = Weighted([("CALL", 70), ("EMAIL", 20), ("TODO", 10)])
# Status of a task not due yet (picked uniformly: not started twice as often).
OPEN_TASK_STATUSES = (
    TaskStatus.NOT_STARTED,
    TaskStatus.NOT_STARTED,
    TaskStatus.IN_PROGRESS,
    TaskStatus.WAITING,
    TaskStatus.DEFERRED,
)

# --- Health ------------------------------------------------------------------------------
# Newest score's zone, then a score inside it (every zone appears).
HEALTH_ZONES = Weighted(
    [(Zone.RED, 12), (Zone.ORANGE, 18), (Zone.YELLOW, 25), (Zone.GREEN, 30), (Zone.PURPLE, 15)]
)
ZONE_SCORES = {
    Zone.RED: (5, 29),
    Zone.ORANGE: (30, 49),
    Zone.YELLOW: (50, 69),
    Zone.GREEN: (70, 84),
    Zone.PURPLE: (85, 98),
}
HEALTH_DROPPING_SHARE = 0.3
INTERVENTION_SHARE = 0.45
INTERVENTION_STATUSES = Weighted([("DONE", 55), ("OPEN", 20), ("IN_PROGRESS", 10), ("CANCELLED", 15)])
# Chance an intervention succeeds, by zone when it was created (healthier clients respond more).
INTERVENTION_SUCCESS = {
    Zone.RED: 0.25,
    Zone.ORANGE: 0.4,
    Zone.YELLOW: 0.55,
    Zone.GREEN: 0.7,
    Zone.PURPLE: 0.75,
}

# --- Owner changes -----------------------------------------------------------------------
OWNER_CHANGE_SHARE = {LifecycleStage.CUSTOMER: 0.25, LifecycleStage.EVANGELIST: 0.25}
OWNER_CHANGE_DEFAULT_SHARE = 0.12
RECENT_OWNER_CHANGE_SHARE = 0.35  # of contacts with changes: the newest in the last 7 days
OWNER_CHANGE_SOURCES = Weighted([("sync", 65), ("webhook", 10), ("manual", 20), ("replenishment", 5)])
OWNER_CHANGE_NOTES = ("Rebalanced workload", "Previous owner left the team", "Client asked for a new coach")

# --- Lead sources ------------------------------------------------------------------------
# (lead source, utm_source, utm_medium), weight
LEAD_SOURCES = Weighted(
    [
        (("Facebook Ads", "facebook", "paid_social"), 22),
        (("Instagram Ads", "instagram", "paid_social"), 18),
        (("Google Ads", "google", "cpc"), 16), (("TikTok Ads", "tiktok", "paid_social"), 6),
        (("Website form", "website", "organic"), 12), (("Referral", "", ""), 9), (("Walk-in", "", ""), 4),
        (("Event", "event", "offline"), 4), (("WhatsApp", "whatsapp", "chat"), 5),
        (("Email newsletter", "newsletter", "email"), 4),
    ]
)  # fmt: skip
UTM_CAMPAIGNS = (
    "ramadan-offer", "summer-shape-up", "new-year-transformation", "corporate-wellness",
    "dubai-fitness-challenge", "ladies-only-programme", "abu-dhabi-launch", "back-to-school",
)  # fmt: skip
UTM_TERMS = ("personal trainer dubai", "weight loss programme uae", "online coaching", "gym near me")
UTM_CONTENTS = ("video-a", "video-b", "carousel-1", "static-2", "story-3")

LEAD_STATUS_BY_STAGE = {
    LifecycleStage.OPPORTUNITY: LeadStatus.OPEN_DEAL,
    LifecycleStage.LOST: LeadStatus.UNQUALIFIED,
    LifecycleStage.SUBSCRIBER: "",
    LifecycleStage.CUSTOMER: LeadStatus.CONNECTED,
    LifecycleStage.EVANGELIST: LeadStatus.CONNECTED,
}
