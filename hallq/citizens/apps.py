from django.apps import AppConfig


class CitizensConfig(AppConfig):
    name = "hallq.citizens"
    verbose_name = "办事人 Citizens"
