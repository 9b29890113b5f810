#!/usr/bin/env python
"""Django's command-line utility for the demo project that the Rust test
`withdrawal::django` runs against the server (migrate, runserver)."""

import os
import sys

if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "demo_site.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)
