from django.apps import AppConfig


class QueueingConfig(AppConfig):
    name = "hallq.queueing"
    verbose_name = "排队叫号 Queue"
