"""A document becomes a snapshot and its events, in one transaction.

ingest    read → classify → check → diff → write, for one document (workbook, page, table)
backfill  archived files, oldest first, through ingest
reading   the read stage, and reading the next documents ahead in a child process (backfill, rebuild)
crawl     one crawl of the ICE page (child process), each download through ingest
news      one crawl of a news source, each article recorded with its figures and events
recorder  the one writer of fetch attempts
"""
