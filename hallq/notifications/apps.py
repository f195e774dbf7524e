from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    name = "hallq.notifications"
    verbose_name = "消息推送 Notifications"

    def ready(self) -> None:
        from hallq.common import sms, worker
        from hallq.notifications import texts
        from hallq.notifications.worker import run_delivery

        sms.register_templates(texts.SMS_TEMPLATES)
        worker.register_loop("notifications_delivery", run_delivery)
