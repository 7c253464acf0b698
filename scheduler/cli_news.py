"""News commands: ``tracker287g news`` and ``tracker287g baseline propose`` (issue: related news).

Registered on the groups of scheduler.cli when that module is imported.
"""
