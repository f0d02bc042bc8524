from django.apps import AppConfig


class MessagingConfig(AppConfig):
    name = "openesp.messaging"
    label = "messaging"

    def ready(self) -> None:
        # accounts sits below messaging and cannot import it: hand it the queue for its mail.
        from openesp.accounts import outbox
        from openesp.messaging.actions import enqueue_message, withdraw_messages
        from openesp.messaging.models import Category

        unknown = outbox.CATEGORIES - set(Category.values)
        assert not unknown, f"account mail categories messaging does not know: {unknown}"
        outbox.register(enqueue_message, withdraw_messages)
