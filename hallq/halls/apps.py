from django.apps import AppConfig


class HallsConfig(AppConfig):
    name = "hallq.halls"
    verbose_name = "大厅 Halls"
