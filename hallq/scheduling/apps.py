from django.apps import AppConfig


class SchedulingConfig(AppConfig):
    name = "hallq.scheduling"
    verbose_name = "排班与号源 Schedules"
