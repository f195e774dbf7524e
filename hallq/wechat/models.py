"""Credentials WeChat issues for a limited time, shared by every process when Redis is absent."""

from __future__ import annotations

from django.db import models


class AccessToken(models.Model):
    """The current access token (or JS-SDK ticket) of one official account.

    One row per ``name`` (``<app id>:access_token``, ``<app id>:jsapi_ticket``); a process that
    refreshes it holds the row lock, so the others wait for the new value instead of fetching
    their own. Stored in clear, as in Redis: it lives two hours and only calls WeChat's API.
    """

    name = models.CharField(max_length=100, unique=True)
    value = models.TextField(blank=True)
    expires_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.name} until {self.expires_at:%Y-%m-%d %H:%M}"
