from django.apps import AppConfig


class IntegrationsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "integrations"
    verbose_name = "Integrations"

    def ready(self):
        from backoffice.events import event_committed
        from integrations.webhooks import on_business_event

        event_committed.connect(on_business_event, dispatch_uid="integrations.webhooks")
