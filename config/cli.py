"""The ``hallq`` command: Django's management commands under the product's name."""

import os
import sys

# Subcommands spelled as on the command line of the README (`hallq wechat-sandbox`).
ALIASES = {"wechat-sandbox": "wechat_sandbox"}


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    from django.core.management import execute_from_command_line

    arguments = sys.argv[1:]
    if arguments:
        arguments[0] = ALIASES.get(arguments[0], arguments[0])
    execute_from_command_line(["hallq", *arguments])


if __name__ == "__main__":
    main()
