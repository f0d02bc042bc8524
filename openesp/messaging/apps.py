from typing import Any

from django.apps import AppConfig
from django.db.models.signals import pre_delete


class MessagingConfig(AppConfig):
    name = "openesp.messaging"
    label = "messaging"

    def ready(self) -> None:
        # accounts sits below messaging and cannot import it: hand it the queue for its mail.
        from openesp.accounts import outbox
        from openesp.accounts.models import Organization, Workspace
        from openesp.messaging.actions import enqueue_message, withdraw_messages
        from openesp.messaging.models import Category

        unknown = outbox.CATEGORIES - set(Category.values)
        assert not unknown, f"account mail categories messaging does not know: {unknown}"
        outbox.register(enqueue_message, withdraw_messages)
        # Deleting a workspace or an organization deletes its messages (the ORM's cascade):
        # what they share goes with them, in the same transaction (pre_delete runs inside it).
        pre_delete.connect(_workspace_deleted, sender=Workspace, dispatch_uid="messaging-workspace-deleted")
        pre_delete.connect(_organization_deleted, sender=Organization, dispatch_uid="messaging-organization-deleted")


def _workspace_deleted(sender: type, instance: Any, **_kwargs: Any) -> None:
    from openesp.messaging.actions import delete_shared_content
    from openesp.messaging.models import Message

    delete_shared_content(Message.objects.filter(workspace=instance))


def _organization_deleted(sender: type, instance: Any, **_kwargs: Any) -> None:
    from openesp.messaging.actions import delete_shared_content
    from openesp.messaging.models import Message

    delete_shared_content(Message.objects.filter(organization=instance))
