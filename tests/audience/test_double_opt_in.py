"""Double opt-in: the confirmation mail is queued with the pending subscription (same
transaction), goes out through the worker, and its link confirms once — by POST only."""

from __future__ import annotations

import email
import email.policy
import re
import time
from datetime import timedelta
from urllib.parse import urlsplit

import pytest
from django.core import signing
from django.db import transaction
from django.test import Client
from django.utils import timezone

from openesp.audience import actions, doubleoptin, suppressions
from openesp.audience.actions import Consent
from openesp.audience.doubleoptin import InvalidConfirmation, NotPending, Outcome, TooSoon
from openesp.audience.models import ConsentRecord, Contact, Subscription, SubscriptionStatus
from openesp.delivery.worker import Worker
from openesp.esp.models import EspConfig
from openesp.messaging.models import Message
from tests.limit_helpers import interval_passed

pytestmark = pytest.mark.django_db


@pytest.fixture
def doi_list(workspace):
    return actions.create_list(workspace, "Weekly digest", double_opt_in=True)


@pytest.fixture
def contact(workspace) -> Contact:
    return actions.create_contact(workspace, "Reader@Example.net", name="Rita")


def _link(message: Message) -> str:
    match = re.search(r"https?://\S+/c/(\S+)/", message.text_body)
    assert match, message.text_body
    return match.group(1)


def _pending(contact, doi_list) -> tuple[Subscription, Message]:
    subscription = actions.subscribe(contact, doi_list, Consent(source="form", ip="192.0.2.1"))
    assert subscription.status == SubscriptionStatus.PENDING
    (message,) = Message.objects.filter(to_email=contact.email)
    return subscription, message


def _old_token(subscription: Subscription, days: int) -> str:
    """A token as it was made ``days`` ago."""

    class Then(signing.TimestampSigner):
        def timestamp(self) -> str:
            return signing.b62_encode(int(time.time()) - days * 86400)

    data = {"s": subscription.pk, "f": doubleoptin._fingerprint(subscription)}
    return Then(salt=doubleoptin.SALT).sign_object(data)


def test_it_queues_a_system_mail_of_the_workspace_with_the_link(org, workspace, contact, doi_list):
    subscription, message = _pending(contact, doi_list)
    assert message.category == "system"
    assert (message.workspace_id, message.organization_id, message.user_id) == (workspace.pk, org.pk, None)
    assert message.to_email == "Reader@example.net"
    assert message.from_name == "Acme"
    assert message.metadata == {"double_opt_in_subscription": str(subscription.pk)}
    assert message.subject == "Confirm your subscription to Weekly digest"
    assert "Hello Rita," in message.text_body
    assert "7 days" in message.text_body
    assert doubleoptin.subscription_for_token(_link(message)).pk == subscription.pk
    # The ledger has the subscribe; the confirm comes with the click.
    assert list(ConsentRecord.objects.filter(contact=contact).values_list("action", "source")) == [
        ("subscribe", "form")
    ]


def test_it_writes_the_mail_in_swedish_for_a_swedish_contact(workspace, doi_list):
    contact = actions.create_contact(workspace, "sven@example.se", name="Sven", language="sv-SE")
    _subscription, message = _pending(contact, doi_list)
    assert message.subject == "Bekräfta din prenumeration på Weekly digest"
    assert "Hej Sven," in message.text_body


def test_it_falls_back_to_english_for_other_languages(workspace, doi_list):
    contact = actions.create_contact(workspace, "pierre@example.fr", language="fr")
    _subscription, message = _pending(contact, doi_list)
    assert message.subject == "Confirm your subscription to Weekly digest"
    assert message.text_body.startswith("Hello,")


def test_it_sends_nothing_for_a_single_opt_in_list_or_a_repeat(workspace, contact, doi_list):
    actions.subscribe(contact, actions.create_list(workspace, "Open"))
    assert not Message.objects.exists()
    _pending(contact, doi_list)
    actions.subscribe(contact, doi_list)  # still pending: no second mail
    assert Message.objects.count() == 1


def _subscribe_then_fail(contact, doi_list) -> None:
    with transaction.atomic():
        actions.subscribe(contact, doi_list)
        assert Message.objects.count() == 1
        raise RuntimeError("the caller fails after subscribing")


def test_the_mail_is_part_of_the_transaction(contact, doi_list):
    with pytest.raises(RuntimeError):
        _subscribe_then_fail(contact, doi_list)
    assert not Message.objects.exists()
    assert not Subscription.objects.exists()


def test_creating_a_contact_on_a_double_opt_in_list_queues_the_mail(workspace, doi_list):
    contact = actions.create_contact(workspace, "new@example.org", lists=[doi_list])
    (message,) = Message.objects.all()
    assert message.to_email == contact.email


def test_the_link_confirms_once_and_records_the_ip(contact, doi_list):
    subscription, message = _pending(contact, doi_list)
    result = doubleoptin.confirm_by_token(_link(message), ip="198.51.100.7")
    assert result.outcome == Outcome.CONFIRMED
    subscription.refresh_from_db()
    assert subscription.status == SubscriptionStatus.SUBSCRIBED and subscription.confirmed_at is not None
    confirm = ConsentRecord.objects.get(contact=contact, action="confirm")
    assert (confirm.source, confirm.ip, confirm.list_name) == ("double_opt_in", "198.51.100.7", "Weekly digest")

    again = doubleoptin.confirm_by_token(_link(message), ip="198.51.100.8")
    assert again.outcome == Outcome.ALREADY
    assert ConsentRecord.objects.filter(contact=contact).count() == 2


def test_it_does_not_confirm_a_subscription_cancelled_meanwhile(contact, doi_list):
    subscription, message = _pending(contact, doi_list)
    actions.unsubscribe(contact, doi_list)
    assert doubleoptin.confirm_by_token(_link(message)).outcome == Outcome.UNSUBSCRIBED
    subscription.refresh_from_db()
    assert subscription.status == SubscriptionStatus.UNSUBSCRIBED
    assert not ConsentRecord.objects.filter(action="confirm").exists()


def test_it_refuses_tampered_expired_and_stale_tokens(workspace, contact, doi_list):
    subscription, message = _pending(contact, doi_list)
    token = _link(message)
    other = actions.create_contact(workspace, "other@example.org")
    other_subscription, _message = _pending(other, doi_list)
    _payload, timestamp, signature = token.split(":")
    other_payload = doubleoptin.make_token(other_subscription).split(":")[0]
    for bad in [
        token[:-1] + ("A" if token[-1] != "A" else "B"),
        f"{other_payload}:{timestamp}:{signature}",  # another subscription's data under this signature
        "nonsense",
        "",
    ]:
        with pytest.raises(InvalidConfirmation) as info:
            doubleoptin.confirm_by_token(bad)
        assert not info.value.expired

    with pytest.raises(InvalidConfirmation) as info:
        doubleoptin.confirm_by_token(_old_token(subscription, days=8))
    assert info.value.expired
    # Six days old is still within the default seven.
    assert doubleoptin.subscription_for_token(_old_token(subscription, days=6)).pk == subscription.pk

    # The address changed since: the link was for the old one.
    actions.update_contact(contact, {"email": "moved@example.net"})
    with pytest.raises(InvalidConfirmation):
        doubleoptin.confirm_by_token(token)
    subscription.refresh_from_db()
    assert subscription.status == SubscriptionStatus.PENDING
    assert not ConsentRecord.objects.filter(action="confirm").exists()


def test_the_lifetime_is_a_setting(settings, contact, doi_list):
    subscription, _message = _pending(contact, doi_list)
    settings.OPENESP_DOUBLE_OPT_IN_DAYS = 30
    assert doubleoptin.subscription_for_token(_old_token(subscription, days=20)).pk == subscription.pk


def test_resending_is_bounded(contact, doi_list):
    subscription, first = _pending(contact, doi_list)
    with pytest.raises(TooSoon) as info:
        doubleoptin.resend_confirmation(subscription)
    assert 0 < info.value.retry_after <= 300
    sent = [first]
    for _round in range(4):
        Message.objects.filter(pk__in=[m.pk for m in sent]).update(created_at=timezone.now() - timedelta(minutes=6))
        interval_passed("confirm_subscription", contact.email)
        sent.append(doubleoptin.resend_confirmation(subscription))
    assert len(sent) == doubleoptin.max_per_day()
    Message.objects.update(created_at=timezone.now() - timedelta(hours=1))
    with pytest.raises(TooSoon) as info:
        doubleoptin.resend_confirmation(subscription)
    assert info.value.retry_after > 22 * 3600
    # A day later the window has moved on.
    Message.objects.update(created_at=timezone.now() - timedelta(hours=25))
    interval_passed("confirm_subscription", contact.email)
    assert doubleoptin.resend_confirmation(subscription).to_email == contact.email


def test_resending_needs_a_pending_subscription(workspace, contact):
    subscription = actions.subscribe(contact, actions.create_list(workspace, "Open"))
    with pytest.raises(NotPending):
        doubleoptin.resend_confirmation(subscription)


def test_it_does_not_mail_a_bounced_or_complaining_address(workspace, contact, doi_list):
    suppressions.add_suppression(workspace, contact.email, "hard_bounce")
    subscription = actions.subscribe(contact, doi_list)
    assert subscription.status == SubscriptionStatus.PENDING
    assert not Message.objects.exists()
    with pytest.raises(NotPending):
        doubleoptin.resend_confirmation(subscription)


def test_it_still_mails_an_address_that_only_unsubscribed(workspace, contact, doi_list):
    # Signing up again is how a person who unsubscribed comes back.
    suppressions.add_suppression(workspace, contact.email, "unsubscribe")
    _pending(contact, doi_list)


# --- the page ----------------------------------------------------------------------------------


def test_get_shows_a_page_and_confirms_nothing_post_confirms(contact, doi_list):
    subscription, message = _pending(contact, doi_list)
    client = Client(enforce_csrf_checks=True)  # no session: as from a mail client
    path = f"/c/{_link(message)}/"
    page = client.get(path)
    assert page.status_code == 200
    html = page.content.decode()
    assert "data-auto-submit" in html and "preferences.js" in html
    assert page["Referrer-Policy"] == "no-referrer"
    subscription.refresh_from_db()
    assert subscription.status == SubscriptionStatus.PENDING
    assert client.head(path).status_code == 200

    done = client.post(path, REMOTE_ADDR="203.0.113.9")
    assert done.status_code == 200
    assert 'data-outcome="confirmed"' in done.content.decode()
    subscription.refresh_from_db()
    assert subscription.status == SubscriptionStatus.SUBSCRIBED
    assert ConsentRecord.objects.get(action="confirm").ip == "203.0.113.9"
    # After confirming, the link shows that it is done, with no form.
    again = client.get(path)
    assert 'data-outcome="already"' in again.content.decode() and "data-auto-submit" not in again.content.decode()
    assert client.post(path).status_code == 200
    assert ConsentRecord.objects.filter(action="confirm").count() == 1


def test_the_page_explains_invalid_and_expired_links(contact, doi_list):
    subscription, message = _pending(contact, doi_list)
    client = Client()
    invalid = client.post(f"/c/{_link(message)}x/")
    assert invalid.status_code == 404 and 'data-reason="invalid"' in invalid.content.decode()
    expired = client.post(f"/c/{_old_token(subscription, days=8)}/")
    assert expired.status_code == 410 and 'data-reason="expired"' in expired.content.decode()
    subscription.refresh_from_db()
    assert subscription.status == SubscriptionStatus.PENDING


def test_the_page_speaks_the_contacts_language(workspace, doi_list):
    contact = actions.create_contact(workspace, "sven@example.se", language="sv")
    _subscription, message = _pending(contact, doi_list)
    page = Client().get(f"/c/{_link(message)}/", HTTP_ACCEPT_LANGUAGE="en")
    assert "Bekräfta din prenumeration" in page.content.decode()


# --- through the worker to a real SMTP server --------------------------------------------------


def test_the_mail_goes_out_through_the_worker_and_its_link_confirms(org, contact, doi_list, smtp_server):
    config = EspConfig(
        kind="smtp", host=smtp_server.host, port=smtp_server.port, security=smtp_server.security,
        from_email="news@acme.example", username=smtp_server.username, organization=org,
    )  # fmt: skip
    config.set_password(smtp_server.password)
    config.save()
    subscription, message = _pending(contact, doi_list)
    worker = Worker("test-double-opt-in", pool_size=1)
    try:
        assert worker.run_once() == 1
    finally:
        worker.close()
    message.refresh_from_db()
    assert (message.status, message.provider_config_id) == ("sent", config.pk)
    (received,) = smtp_server.messages
    parsed = email.message_from_bytes(received.data, policy=email.policy.default)
    assert parsed["Subject"] == "Confirm your subscription to Weekly digest"
    assert parsed["List-Unsubscribe"] is None  # a system mail
    body = parsed.get_body(preferencelist=("plain",))
    assert body is not None
    url = re.search(r"https?://\S+/c/\S+/", body.get_content())
    assert url is not None
    response = Client().post(urlsplit(url.group(0)).path)
    assert response.status_code == 200
    subscription.refresh_from_db()
    assert subscription.status == SubscriptionStatus.SUBSCRIBED
