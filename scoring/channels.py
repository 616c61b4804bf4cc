"""Which channel to reach a contact on, by rules a person can read (SPEC S2).

The rules, in order; the first that applies wins, and a channel the contact opted out of (or
has no usable number or address for) is never recommended:
1. Urgent (priority 8+): phone, a real conversation.
2. Last call went to voicemail or was not answered: WhatsApp, so they can answer when free.
3. A usable phone number: phone.
4. Opted out of calls: WhatsApp.
5. No phone we may use: email; otherwise SMS.
"""

from dataclasses import dataclass

from calls.models import CallStatus, Channel
from leads.models import Contact
from scoring.priority import URGENT_PRIORITY


@dataclass(frozen=True)
class ChannelRecommendation:
    channel: str  # a calls.models.Channel value, or "" when no channel is allowed
    why: str

    @property
    def label(self) -> str:
        return Channel(self.channel).label if self.channel else "None allowed"


def usable_channels(contact: Contact) -> set[str]:
    has_number = bool(contact.dialable_phone)
    usable = set()
    if has_number and not contact.phone_opt_out:
        usable.add(Channel.PHONE)
    if has_number and not contact.whatsapp_opt_out:
        usable.add(Channel.WHATSAPP)
    if has_number and not contact.sms_opt_out:
        usable.add(Channel.SMS)
    if contact.email and not contact.email_opt_out:
        usable.add(Channel.EMAIL)
    return set() if contact.do_not_contact else usable


def recommend_channel(contact: Contact, *, priority: int) -> ChannelRecommendation:
    usable = usable_channels(contact)
    if not usable:
        return ChannelRecommendation("", "Do not contact, or no channel left that the contact accepts")
    if priority >= URGENT_PRIORITY and Channel.PHONE in usable:
        return ChannelRecommendation(Channel.PHONE, "Urgent: call for a real conversation")
    missed = contact.last_call_status in (CallStatus.VOICEMAIL, CallStatus.NO_ANSWER)
    if missed and Channel.WHATSAPP in usable:
        return ChannelRecommendation(
            Channel.WHATSAPP, "Last call was missed: WhatsApp so they can reply when free"
        )
    if Channel.PHONE in usable:
        return ChannelRecommendation(Channel.PHONE, "Has a phone number: call")
    if Channel.WHATSAPP in usable:
        return ChannelRecommendation(Channel.WHATSAPP, "Opted out of calls: WhatsApp")
    if Channel.EMAIL in usable:
        return ChannelRecommendation(Channel.EMAIL, "No phone we may use: email")
    return ChannelRecommendation(Channel.SMS, "Only SMS is left")
