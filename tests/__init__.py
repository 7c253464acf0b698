"""The tests: one folder per package, as in the project (crawler, diff, storage, pipeline, publish,
scheduler).  tests/ is a package so that tests/diff never stands in for the real diff package."""
