"""``python -m scheduler.cli``: the command line, as the service's child-free entry point."""

from scheduler.cli.main import main

main()
