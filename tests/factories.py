"""factory_boy factories. Calls that must keep contact facts current go through
calls.services.call_log; CallRecordFactory writes raw rows for history and rebuild tests."""

from datetime import timedelta

import factory
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.utils import timezone

from calls.models import CallRecord, CallStatus, Channel, Direction, Intervention, InterventionType
from leads.models import Contact, Deal, HealthScore, LifecycleStage, Owner, Task, Zone
from scoring.services import queue_scores_refresh


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.com")
    password = factory.PostGenerationMethodCall("set_password", "pw")

    @factory.post_generation
    def groups(self, create, extracted, **kwargs):
        if create and extracted:
            self.groups.set(Group.objects.filter(name__in=extracted))
        if create:
            self.save()


class OwnerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Owner

    hubspot_id = factory.Sequence(lambda n: str(9000 + n))
    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    email = factory.Sequence(lambda n: f"owner{n}@example.com")


class ContactFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Contact
        skip_postgeneration_save = True

    hubspot_id = factory.Sequence(lambda n: str(100000 + n))
    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    email = factory.Sequence(lambda n: f"lead{n}@example.com")
    phone = factory.Sequence(lambda n: f"+97150{n % 10_000_000:07d}")
    city = "Dubai"
    owner = factory.SubFactory(OwnerFactory)
    lifecycle_stage = LifecycleStage.LEAD
    hs_created_at = factory.LazyFunction(lambda: timezone.now() - timedelta(days=30))

    @factory.post_generation
    def scored(self, create, extracted, **kwargs):
        """Scored for the queue, as every service that writes a contact does. A test that then
        changes the row behind the services' back re-scores with queue_scores_refresh."""
        if create:
            queue_scores_refresh([self.pk])
            self.refresh_from_db(fields=["queue_score"])


class CallRecordFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = CallRecord

    contact = factory.SubFactory(ContactFactory)
    owner = factory.SelfAttribute("contact.owner")
    direction = Direction.OUTBOUND
    channel = Channel.PHONE
    status = CallStatus.ANSWERED
    started_at = factory.LazyFunction(timezone.now)


class DealFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Deal

    hubspot_id = factory.Sequence(lambda n: str(500000 + n))
    contact = factory.SubFactory(ContactFactory)
    owner = factory.SelfAttribute("contact.owner")
    name = factory.Sequence(lambda n: f"Deal {n}")
    pipeline = "default"
    stage = "appointmentscheduled"
    amount = 5000
    hs_created_at = factory.LazyFunction(timezone.now)


class TaskFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Task

    contact = factory.SubFactory(ContactFactory)
    owner = factory.SelfAttribute("contact.owner")
    subject = "Call back"
    due_at = factory.LazyFunction(lambda: timezone.now() + timedelta(days=1))


class HealthScoreFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = HealthScore

    contact = factory.SubFactory(ContactFactory)
    score = 45
    zone = Zone.ORANGE
    computed_at = factory.LazyFunction(timezone.now)


class InterventionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Intervention

    contact = factory.SubFactory(ContactFactory)
    intervention_type = InterventionType.WELLNESS_CHECK
    owner = factory.SelfAttribute("contact.owner")
    created_at = factory.LazyFunction(timezone.now)
