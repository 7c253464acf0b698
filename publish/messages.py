"""The change itself in a notification: a title with the counts, then the changes grouped by
state, each with its summary (agency, model, old → new) and its evidence, in the target's
format (text, Markdown or HTML), cut to the target's length limit with a pointer to the rest.

The evidence is worded by publish/evidence.py, as everywhere else.
"""

from __future__ import annotations

import html
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from publish.changes import ChangeRow
from publish.evidence import EvidenceLine, evidence_lines, safe_url

TEXT, MARKDOWN, HTML = "text", "markdown", "html"
# The agreement kinds a title counts, in this order, and the word for each.
COUNTED = (("agreement.added", "added"), ("agreement.removed", "removed"), ("agreement.changed", "changed"),
           ("agreement.renamed", "renamed"), ("agreement.promoted", "promoted"))
ALL_LISTS = "All lists"   # the group of events that concern no state (list shape, source health)


def title(rows: Sequence[ChangeRow]) -> str:
    """"TX: 3 agreements added, 1 removed"; several states are named up to three, then counted;
    events that are not about an agreement are counted as other changes."""
    counts = Counter(row["kind"] for row in rows)
    counted = [(counts[kind], word) for kind, word in COUNTED if counts[kind]]
    parts = [f"{number} {word}" for number, word in counted]
    if counted:   # the noun goes with the first number: "1 agreement added, 2 removed"
        parts[0] = f"{counted[0][0]} agreement{'' if counted[0][0] == 1 else 's'} {counted[0][1]}"
    others = len(rows) - sum(counts[kind] for kind, _ in COUNTED)
    if others:
        parts.append(f"{others} other change" + ("" if others == 1 else "s"))
    states = sorted({row["state"] for row in rows if row["state"]})
    if not states:
        where = "287(g)"
    elif len(states) <= 3:
        where = ", ".join(states)
    else:
        where = f"{len(states)} states"
    return f"{where}: {', '.join(parts) or 'no changes'}"


@dataclass(frozen=True)
class Limits:
    body: int          # characters the target accepts in a body (Apprise's body_maxlen)
    title_in_body: bool = False   # the target has no title: Apprise puts it at the top of the body


def body(rows: Sequence[ChangeRow], fmt: str, *, limit: int, report_url: str = "", title_text: str = "") -> str:
    """The changes grouped by state (list-wide ones first), as many as fit in ``limit``
    characters; the rest are counted, with the report's address when there is one."""
    budget = limit - (len(title_text) + 8 if title_text else 0)
    groups: dict[str, list[ChangeRow]] = {}
    for row in rows:
        groups.setdefault(row["state"] or ALL_LISTS, []).append(row)
    order = sorted(groups, key=lambda g: (g != ALL_LISTS, g))
    pieces: list[str] = []
    used, shown = 0, 0
    for group in order:
        heading = _heading(group, fmt)
        for index, row in enumerate(groups[group]):
            item = (heading if index == 0 else "") + _item(row, fmt)
            rest = len(rows) - shown - 1
            if used + len(item) + (len(_more(rest, fmt, report_url, True)) if rest else 0) > budget:
                return ("".join(pieces) + _more(len(rows) - shown, fmt, report_url, index > 0)).lstrip("\n")
            pieces.append(item)
            used += len(item)
            shown += 1
        if fmt == HTML:
            pieces.append("</ul>\n")
            used += 6
    if report_url and fmt != HTML:
        pieces.append(_link_line(report_url, fmt))
    return "".join(pieces).strip("\n") + ("\n" if fmt == TEXT else "")


def _heading(group: str, fmt: str) -> str:
    if fmt == HTML:
        return f"<h3>{html.escape(group)}</h3>\n<ul>\n"
    if fmt == MARKDOWN:
        return f"\n**{_md(group)}**\n"
    return f"\n{group}\n"


def _item(row: ChangeRow, fmt: str) -> str:
    lines = evidence_lines(row["evidence"])
    if fmt == HTML:
        evidence = "<br>".join(_html_line(line) for line in lines)
        return f"<li>{html.escape(row['summary'])}" + (f"<br><small>{evidence}</small>" if evidence else "") + "</li>\n"
    if fmt == MARKDOWN:
        evidence = " · ".join(_md_line(line) for line in lines)
        return f"- {_md(row['summary'])}\n" + (f"  {evidence}\n" if evidence else "")
    return f"- {row['summary']}\n" + "".join(f"    {line.plain()}\n" for line in lines)


def _html_line(line: EvidenceLine) -> str:
    link = safe_url(line.url)
    if link:
        return f'{html.escape(line.label)}: <a href="{html.escape(link)}">{html.escape(line.text)}</a>'
    return html.escape(line.plain())


def _md_line(line: EvidenceLine) -> str:
    link = safe_url(line.url)
    if link:
        return f"{_md(line.label)}: [{_md(line.text)}]({link.replace(')', '%29').replace(' ', '%20')})"
    return _md(line.plain())


_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]<>()#+!|~])")


def _md(text: str) -> str:
    """Scraped text shown as itself in Markdown, never as markup or a link."""
    return _MD_SPECIAL.sub(r"\\\1", text)


def _more(count: int, fmt: str, report_url: str, inside_list: bool) -> str:
    words = f"… and {count} more change" + ("" if count == 1 else "s")
    if fmt == HTML:
        link = safe_url(report_url)
        where = f' in <a href="{html.escape(link)}">the report</a>' if link else " (tracker287g changes)"
        return ("</ul>\n" if inside_list else "") + f"<p>{html.escape(words)}{where}</p>\n"
    if report_url:
        return f"\n{words}: {report_url}\n"
    return f"\n{words} (tracker287g changes)\n"


def _link_line(report_url: str, fmt: str) -> str:
    if fmt == MARKDOWN:
        return f"\n[The report]({report_url})\n"
    return f"\nThe report: {report_url}\n"


def trial_message() -> tuple[str, str]:
    """What `notify --test` sends: a title and a body that say what it is."""
    return ("tracker287g: test message",
            "This is a test message from tracker287g. Changes to the 287(g) lists will be sent here.")
