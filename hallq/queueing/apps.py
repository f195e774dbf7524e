from django.apps import AppConfig


class QueueingConfig(AppConfig):
    name = "hallq.queueing"
    verbose_name = "排队叫号 Queue"

    def ready(self) -> None:
        from hallq.common import worker
        from hallq.queueing.services import tickets_expire

        worker.register("tickets_expire", lambda now: tickets_expire(now=now), every_seconds=60)
