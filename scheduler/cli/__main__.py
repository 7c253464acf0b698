"""``python -m scheduler.cli``: the command line without the console script (the service tests and
bench/cycle.py start `run` this way)."""

from scheduler.cli.main import main

main()
