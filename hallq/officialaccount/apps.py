from django.apps import AppConfig


class OfficialAccountConfig(AppConfig):
    name = "hallq.officialaccount"
    verbose_name = "公众号 Official account"
