"""`manage.py wechat_sandbox` serves the stand-in; `hallq wechat-sandbox` is the same command."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from django.conf import settings

from config import cli
from hallq.conftest import free_port

BASE_DIR = Path(settings.BASE_DIR)


def test_the_command_serves_the_stand_in_for_the_configured_account(tmp_path):
    port = free_port()
    log = (tmp_path / "sandbox.log").open("wb")
    process = subprocess.Popen(
        [
            sys.executable,
            str(BASE_DIR / "manage.py"),
            "wechat_sandbox",
            "--port",
            str(port),
            "--app-id",
            "wx_command_test",
            "--callback-url",
            "http://127.0.0.1:1/wechat/callback",
        ],
        cwd=BASE_DIR,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                page = httpx.get(f"http://127.0.0.1:{port}/", timeout=1)
                break
            except httpx.HTTPError:
                assert process.poll() is None, (tmp_path / "sandbox.log").read_text()
                assert time.monotonic() < deadline, "the stand-in did not start"
                time.sleep(0.1)
        assert page.status_code == 200
        assert "wx_command_test" in page.text
        assert "http://127.0.0.1:1/wechat/callback" in page.text
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_the_hallq_cli_knows_wechat_sandbox(monkeypatch, capsys):
    monkeypatch.setattr(sys, "argv", ["hallq", "wechat-sandbox", "--help"])
    with pytest.raises(SystemExit) as exited:
        cli.main()
    assert exited.value.code == 0
    assert "--callback-url" in capsys.readouterr().out
