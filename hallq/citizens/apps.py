from django.apps import AppConfig


class CitizensConfig(AppConfig):
    name = "hallq.citizens"
    verbose_name = "办事人 Citizens"

    def ready(self) -> None:
        from hallq.citizens.services import sign_in_records_prune
        from hallq.common import worker

        worker.register(
            "sign_in_records_prune",
            lambda now: sign_in_records_prune(now=now),
            every_seconds=3600,
        )
