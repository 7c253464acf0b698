"""The ``tracker287g`` command line.  Exit codes: 0 ok, 1 failure, 2 usage error.

main.py     the group, its global options, and the registration of every command
app.py      what every command shares: database, configuration, consoles
options.py  options and checks used by several commands (dates, formats, the change filters,
            the contact for the User-Agent)
lists.py    backfill, crawl, snapshots, changes, metrics
baseline.py baseline, baseline propose
news.py     news, news crawl
review.py   review, feed, report, serve, notify
service.py  run, status, config show, demo
"""

from scheduler.cli.main import main

__all__ = ["main"]
