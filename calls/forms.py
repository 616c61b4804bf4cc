from datetime import datetime, timedelta

from django import forms

from calls.interventions import SMART_ACTIONS_DEFAULT, SMART_ACTIONS_MAX
from calls.models import CallOutcome, CallStatus, Channel, InterventionOutcome
from calls.selectors import QueueFilters
from crm import roles, timeutils
from crm.query_params import QueryParam
from leads.models import Owner
from leads.selectors import User, owner_for_user

ALL_OWNERS = "all"


class QueueFilterForm(forms.Form):
    """The queue's URL parameters. A setter's owner is always their own; a manager may pick any
    active owner or all of them (the default)."""

    owner = forms.ChoiceField(required=False)
    days = forms.IntegerField(required=False, min_value=0, max_value=365, label="Min. days since contact")
    all_zones = forms.BooleanField(required=False, label="Include all zones")
    limit = forms.IntegerField(required=False, min_value=1, max_value=200)

    def __init__(self, *args, user: User, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user
        self.is_manager = roles.is_manager(user)
        own = owner_for_user(user)
        if self.is_manager:
            owners = list(Owner.objects.filter(is_active=True).only("id", "first_name", "last_name", "email"))
            self.fields["owner"].choices = [(ALL_OWNERS, "All owners")] + [
                (str(o.pk), str(o)) for o in owners
            ]
            self._owners = {str(o.pk): o for o in owners}
        else:
            self.fields["owner"].choices = [(str(own.pk), str(own))] if own else []
            self._owners = {str(own.pk): own} if own else {}
        self.default_owner = None if self.is_manager else own

    def clean_owner(self) -> Owner | None:
        value = self.cleaned_data["owner"]
        if not value or value == ALL_OWNERS:
            return self.default_owner
        return self._owners[value]

    def filters(self) -> QueueFilters:
        data = self.cleaned_data
        return QueueFilters(
            owner=data["owner"],
            days_threshold=3 if data["days"] is None else data["days"],
            include_all_zones=data["all_zones"],
            limit=data["limit"] or 50,
        )


# The queue's one-click results: what the setter presses -> (status, outcome) of the call.
CALL_RESULTS = {
    "booked": ("Booked", CallStatus.ANSWERED, CallOutcome.BOOKED),
    "connected": ("Connected", CallStatus.ANSWERED, CallOutcome.CONNECTED),
    "callback": ("Callback", CallStatus.ANSWERED, CallOutcome.CALLBACK_REQUESTED),
    "not_interested": ("Not interested", CallStatus.ANSWERED, CallOutcome.NOT_INTERESTED),
    "no_answer": ("No answer", CallStatus.NO_ANSWER, ""),
    "voicemail": ("Voicemail", CallStatus.VOICEMAIL, CallOutcome.LEFT_MESSAGE),
    "busy": ("Busy", CallStatus.BUSY, ""),
    "wrong_number": ("Wrong number", CallStatus.ANSWERED, CallOutcome.WRONG_NUMBER),
}


class MarkCalledForm(forms.Form):
    result = forms.ChoiceField(choices=[(key, label) for key, (label, _, _) in CALL_RESULTS.items()])
    channel = forms.ChoiceField(choices=Channel.choices, initial=Channel.PHONE, required=False)
    note = forms.CharField(required=False, max_length=5000, widget=forms.Textarea(attrs={"rows": 2}))
    callback_at = forms.DateTimeField(
        required=False, label="Call back at", widget=forms.DateTimeInput(attrs={"type": "datetime-local"})
    )

    def clean(self):
        data = super().clean()
        if data.get("result") == "callback":
            callback_at = data.get("callback_at")
            if callback_at is None:
                self.add_error("callback_at", "When did they ask to be called back?")
            elif callback_at <= timeutils.now():
                self.add_error("callback_at", "The callback time must be in the future.")
        return data

    def call(self) -> dict:
        """The keyword arguments of calls.services.queue_mark_called."""
        data = self.cleaned_data
        _, status, outcome = CALL_RESULTS[data["result"]]
        return {
            "status": status,
            "outcome": outcome,
            "channel": data["channel"] or Channel.PHONE,
            "note": data["note"],
            "callback_at": data["callback_at"] if outcome == CallOutcome.CALLBACK_REQUESTED else None,
        }


class SnoozeForm(forms.Form):
    TOMORROW = "tomorrow"
    CUSTOM = "custom"
    until = forms.ChoiceField(choices=[(TOMORROW, "Tomorrow morning"), (CUSTOM, "Until…")], initial=TOMORROW)
    until_at = forms.DateTimeField(
        required=False, widget=forms.DateTimeInput(attrs={"type": "datetime-local"})
    )
    reason = forms.CharField(required=False, max_length=150)

    # "Tomorrow" means the start of the next business morning, not 24 hours from now.
    MORNING_HOUR = 9

    def clean(self):
        data = super().clean()
        if data.get("until") == self.CUSTOM:
            until_at = data.get("until_at")
            if until_at is None:
                self.add_error("until_at", "Choose until when.")
            elif until_at <= timeutils.now():
                self.add_error("until_at", "Choose a time in the future.")
        return data

    def snooze_until(self) -> datetime:
        if self.cleaned_data["until"] == self.CUSTOM:
            return self.cleaned_data["until_at"]
        tomorrow = timeutils.start_of_day(timeutils.business_today() + timedelta(days=1))
        return tomorrow + timedelta(hours=self.MORNING_HOUR)


def _strict_bool(value: str) -> bool:
    return value in ("true", "1")


_BOOL = {"type": "string", "enum": ["true", "false", "1", "0"]}
OWNER_NOT_VISIBLE = "not_visible"

# The queue API's parameters (SPEC S2 names): /api/schema/ publishes these schemas and
# QueueApiForm enforces exactly them, so the two cannot disagree.
QUEUE_API_PARAMS = [
    QueryParam(
        "owner",
        {"type": "string", "pattern": f"^({ALL_OWNERS}|[1-9][0-9]{{0,17}})$"},
        "Owner id, or 'all' (the default): every lead you may see. A setter sees only their own "
        "leads; an owner id you may not see answers 404.",
    ),
    QueryParam("days_threshold", {"type": "integer", "minimum": 0, "maximum": 365, "default": 3}),
    QueryParam("include_all_zones", {**_BOOL, "default": "false"}, coerce=_strict_bool),
    QueryParam("limit", {"type": "integer", "minimum": 1, "maximum": 200, "default": 50}),
    QueryParam(
        "generate_ai_messages",
        {**_BOOL, "default": "true"},
        "AI drafts within the time budget; else (or without a key) templates.",
        coerce=_strict_bool,
    ),
]


class QueueApiForm(QueueFilterForm):
    """The queue's JSON API parameters, checked against QUEUE_API_PARAMS' schemas; the owners a
    user may ask for come from QueueFilterForm, like the page's."""

    def __init__(self, *args, user: User, **kwargs):
        super().__init__(*args, user=user, **kwargs)
        self.fields = {param.name: param.form_field() for param in QUEUE_API_PARAMS}

    def clean_owner(self) -> Owner | None:
        value = self.cleaned_data["owner"]
        if value is None or value == ALL_OWNERS:
            return self.default_owner
        if value not in self._owners:  # well formed, but not an owner this user may see
            raise forms.ValidationError("No such owner among those you may see.", code=OWNER_NOT_VISIBLE)
        return self._owners[value]

    def owner_not_visible(self) -> bool:
        return self.has_error("owner", code=OWNER_NOT_VISIBLE)

    def filters(self) -> QueueFilters:
        data = self.cleaned_data
        return QueueFilters(
            owner=data["owner"],
            days_threshold=data["days_threshold"],
            include_all_zones=data["include_all_zones"],
            limit=data["limit"],
        )


class SmartActionsForm(forms.Form):
    """How many of the clients most at risk get a smart action."""

    limit = forms.IntegerField(required=False, min_value=1, max_value=SMART_ACTIONS_MAX, label="Clients")

    def limit_value(self) -> int:
        return self.cleaned_data.get("limit") or SMART_ACTIONS_DEFAULT


class InterventionOutcomeForm(forms.Form):
    """How an intervention went: success / partial / failed, with an optional note."""

    outcome = forms.ChoiceField(choices=InterventionOutcome.choices)
    note = forms.CharField(required=False, max_length=1000, widget=forms.TextInput)
