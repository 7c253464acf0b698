"""Review commands: review, feed, report, serve, notify (issue: reviewing changes).

Registered on ``scheduler.cli.main`` when that module is imported.
"""
