"""The history goes out to readers.

changes   the change-rows query behind every output, and its filters
evidence  the words for an event's evidence, one formatter for every output
render    table, JSON, CSV and Markdown renderings (the JSON is a stable contract)
snapshots snapshots, metrics and baseline comparisons as rows
news      collected news as rows
feed      the Atom feed
report    the HTML report (Jinja2 templates in publish/templates), with charts (charts)
serve     the report on 127.0.0.1
notify    notifications of new changes, once per target: the JSON webhook and Apprise targets
targets   each target's filters, address and secrets; addresses shown masked
messages  the change in a notification: title with counts, changes by state, per format and length
"""
