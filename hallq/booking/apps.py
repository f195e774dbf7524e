from django.apps import AppConfig


class BookingConfig(AppConfig):
    name = "hallq.booking"
    verbose_name = "预约 Booking"

    def ready(self) -> None:
        from hallq.booking import services, signals  # noqa: F401 - connects the schedule hooks
        from hallq.common import worker

        worker.register(
            "appointments_mark_no_shows",
            lambda now: services.appointments_mark_no_shows(now=now),
            every_seconds=60,
        )
        worker.register(
            "appointments_settle",
            lambda now: services.appointments_settle(now=now),
            every_seconds=60,
        )
        worker.register(
            "appointments_remind",
            lambda now: services.appointments_remind(now=now),
            every_seconds=60,
        )
        worker.register(
            "slots_prepare", lambda now: services.slots_prepare(now=now), every_seconds=300
        )
