"""Django's PostgreSQL backend, with a request thread keeping its pooled connection between
requests (``base.DatabaseWrapper``). Named by ``DATABASES["default"]["ENGINE"]``."""
