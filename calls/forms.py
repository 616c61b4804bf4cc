from datetime import datetime, timedelta

from django import forms

from calls.interventions import SMART_ACTIONS_DEFAULT, SMART_ACTIONS_MAX
from calls.models import CallOutcome, CallStatus, Channel, InterventionOutcome
from calls.selectors import QueueFilters
from crm import roles, timeutils
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


class QueueApiForm(QueueFilterForm):
    """The queue's JSON API parameters (SPEC S2 names), validated like the page's."""

    days = None
    all_zones = None
    days_threshold = forms.IntegerField(required=False, min_value=0, max_value=365)
    include_all_zones = forms.TypedChoiceField(
        required=False,
        choices=[(v, v) for v in ("true", "false", "1", "0")],
        coerce=_strict_bool,
        empty_value=False,
    )
    generate_ai_messages = forms.TypedChoiceField(
        required=False,
        choices=[(v, v) for v in ("true", "false", "1", "0")],
        coerce=_strict_bool,
        empty_value=True,
    )

    def filters(self) -> QueueFilters:
        data = self.cleaned_data
        return QueueFilters(
            owner=data["owner"],
            days_threshold=3 if data["days_threshold"] is None else data["days_threshold"],
            include_all_zones=data["include_all_zones"],
            limit=data["limit"] or 50,
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
