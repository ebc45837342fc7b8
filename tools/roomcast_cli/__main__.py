"""python -m roomcast_cli <command> (PYTHONPATH=tools:layers/roomcast, or `make cli ARGS=...`)."""

import sys

from roomcast_cli.cli import main

sys.exit(main())
