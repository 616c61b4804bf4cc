from django import forms

from leads.dashboard import NOT_REACHED_DAYS
from leads.models import Owner

EXPLAIN_REVENUE = "revenue"
EXPLAIN_OWNER = "owner"


class DashboardForm(forms.Form):
    """The manager dashboard's URL parameters: the "not contacted in X days" window and, for the
    Explain buttons, what to explain."""

    days = forms.IntegerField(required=False, min_value=1, max_value=365, label="Not contacted in (days)")
    explain = forms.ChoiceField(
        required=False,
        choices=[("", ""), (EXPLAIN_REVENUE, "Revenue at risk"), (EXPLAIN_OWNER, "Owner's day")],
    )
    owner = forms.ModelChoiceField(queryset=Owner.objects.all(), required=False)

    def clean(self):
        data = super().clean()
        if data.get("explain") == EXPLAIN_OWNER and not data.get("owner"):
            raise forms.ValidationError("Explaining an owner's day needs ?owner=<id>.")
        return data

    @property
    def window_days(self) -> int:
        return self.cleaned_data.get("days") or NOT_REACHED_DAYS
