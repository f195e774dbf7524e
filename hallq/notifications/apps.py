from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    name = "hallq.notifications"
    verbose_name = "消息推送 Notifications"
