"""Compile every .po catalogue of the project to .mo with polib (no GNU gettext needed).

The compiled .mo files are committed, so `make run` needs no gettext tools; run this after
editing a .po file: `.venv/bin/python scripts/compile_messages.py`.
"""

from __future__ import annotations

from pathlib import Path

import polib

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    for po_path in sorted((ROOT / "hallq").rglob("locale/*/LC_MESSAGES/*.po")):
        catalogue = polib.pofile(str(po_path))
        catalogue.save_as_mofile(str(po_path.with_suffix(".mo")))
        print(f"{po_path.relative_to(ROOT)}: {catalogue.percent_translated()}% translated")  # noqa: T201


if __name__ == "__main__":
    main()
