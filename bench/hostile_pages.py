"""How long the 287(g) page's parsing takes on hostile pages, at two sizes each: the time of a
linear parser doubles with the input, a quadratic one's quadruples.

    .venv/bin/python bench/hostile_pages.py [--scale 1]

Pages (built here, nothing fetched): ``nested`` tables (2,000, each inside a cell of the one
before), ``list-tables`` (list-shaped tables with no heading above them, ~97 KB), ``links``
(8,000 workbook-shaped links in one paragraph, no heading).  Two steps are timed: the HTML
table reader (``crawler.html_table.parse_list_tables``) and the spider's link extraction
(``Ice287gSpider._parse_links``), the two things every crawl runs on the page.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from scrapy.http import HtmlResponse  # noqa: E402

from crawler.html_table import parse_list_tables  # noqa: E402
from crawler.spiders.ice_287g import Ice287gSpider  # noqa: E402

URL = "https://www.ice.gov/identify-and-arrest/287g"
ROW = "<tr><th>STATE</th><th>LAW ENFORCEMENT AGENCY</th></tr><tr><td>TX</td><td>Sheriff</td></tr>"


def nested(n: int) -> str:
    return "<html><body>" + f"<table>{ROW}<tr><td>" * n + "x" + "</td></tr></table>" * n + "</body></html>"


def list_tables(n: int) -> str:
    return "<html><body>" + "".join(f"<div><table>{ROW}</table></div>" for _ in range(n)) + "</body></html>"


def links(n: int) -> str:
    anchors = "".join(f'<a href="/doclib/about/offices/ero/287g/file{i}.xlsx">x</a> ' for i in range(n))
    return f"<html><body><p>{anchors}</p></body></html>"


PAGES = {"nested": (nested, 2000), "list-tables": (list_tables, 1000), "links": (links, 8000)}


def timed(function, *args) -> float:
    start = time.perf_counter()
    function(*args)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0, help="multiply every page's size")
    args = parser.parse_args()
    spider = Ice287gSpider(page_url=URL)
    print(f"{'page':12} {'n':>6} {'KB':>6} {'tables s':>9} {'links s':>9}")
    for name, (build, size) in PAGES.items():
        for n in (int(size * args.scale / 2), int(size * args.scale)):
            html = build(n)
            response = HtmlResponse(URL, body=html.encode(), encoding="utf-8")
            tables = timed(parse_list_tables, html.encode(), URL)
            found = timed(spider._parse_links, response)
            print(f"{name:12} {n:>6} {len(html) / 1000:>6.0f} {tables:>9.2f} {found:>9.2f}")


if __name__ == "__main__":
    main()
