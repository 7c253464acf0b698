"""crawler.filenames: ICE's list file names (every real fixture name, the typos seen), and
Content-Disposition headers."""

from __future__ import annotations

import datetime as dt

import pytest

from crawler.filenames import file_name_from_content_disposition, parse_list_file_name
from tests.files import WORKBOOKS

TODAY = dt.date(2026, 6, 1)
UTC = dt.UTC

# (name, declared list, as of, suffix): every real fixture name.
REAL_NAMES = [
    pytest.param("participatingAgencies-20250221214937.xlsx", "participating", dt.date(2025, 2, 21), "",
                 id="archive-capture"),
    pytest.param("participatingAgencies-20250226183301.xlsx", "participating", dt.date(2025, 2, 26), "",
                 id="archive-capture-2"),
    pytest.param("participatingAgencies-20250318045215.xlsx", "participating", dt.date(2025, 3, 18), "",
                 id="archive-capture-3"),
    pytest.param("participatingAgencies05282025am.xlsx", "participating", dt.date(2025, 5, 28), "am", id="am"),
    pytest.param("participatingAgencies05292025am.xlsx", "participating", dt.date(2025, 5, 29), "am", id="am-2"),
    pytest.param("participatingAgencies07012025pm.xlsx", "participating", dt.date(2025, 7, 1), "pm", id="pm"),
    pytest.param("participatingAgencies08202025pm.xlsx", "participating", dt.date(2025, 8, 20), "pm", id="pm-2"),
    pytest.param("participatingAgencies09222025am.xlsx", "participating", dt.date(2025, 9, 22), "am", id="swap-am"),
    pytest.param("participatingAgencies09222025pm.xlsx", "participating", dt.date(2025, 9, 22), "pm", id="swap-pm"),
    pytest.param("participatingAgencies12312025am.xlsx", "participating", dt.date(2025, 12, 31), "am",
                 id="new-year-eve"),
    pytest.param("participatingAgencies01262026pm.xlsx", "participating", dt.date(2026, 1, 26), "pm", id="2026"),
    pytest.param("participatingAgencies02022026am.xlsx", "participating", dt.date(2026, 2, 2), "am", id="2026-2"),
    pytest.param("participatingAgencies03022026am.xlsx", "participating", dt.date(2026, 3, 2), "am", id="2026-3"),
    pytest.param("participatingAgencies05142026am.xlsx", "participating", dt.date(2026, 5, 14), "am", id="2026-4"),
    pytest.param("participatingAgencies01052025pm.xlsx", "participating", dt.date(2026, 1, 5), "pm",
                 id="year-typo-jan-2026"),
    pytest.param("pendingAgencies-20250221214937.xlsx", "pending", dt.date(2025, 2, 21), "", id="pending-capture"),
    pytest.param("pendingAgencies05292025am.xlsx", "pending", dt.date(2025, 5, 29), "am", id="pending-am"),
    pytest.param("pendingAgencies09222025am.xlsx", "pending", dt.date(2025, 9, 22), "am", id="pending-swap-am"),
    pytest.param("pendingAgencies09222025pm.xlsx", "pending", dt.date(2025, 9, 22), "pm", id="pending-swap-pm"),
    pytest.param("pendingAgencies11142025pm.xlsx", "pending", dt.date(2025, 11, 14), "pm", id="pending-header-only"),
    pytest.param("pendingAgencies01262026pm.xlsx", "pending", dt.date(2026, 1, 26), "pm", id="pending-2026"),
    pytest.param("pendingAgencies02272026am.xlsx", "pending", dt.date(2026, 2, 27), "am", id="pending-2026-2"),
]


def test_every_fixture_name_is_in_the_table():
    assert {path.name for path in WORKBOOKS.glob("*/*.xlsx")} == {case.values[0] for case in REAL_NAMES}


@pytest.mark.parametrize(("name", "declared_list", "as_of", "suffix"), REAL_NAMES)
def test_real_name(name, declared_list, as_of, suffix):
    parsed = parse_list_file_name(name, today=TODAY)
    assert (parsed.file_name, parsed.declared_list, parsed.as_of, parsed.suffix) == (name, declared_list, as_of, suffix)
    assert (parsed.note is not None) == (name == "participatingAgencies01052025pm.xlsx")


def test_archive_capture_time_is_utc():
    parsed = parse_list_file_name("participatingAgencies-20250221214937.xlsx", today=TODAY)
    assert parsed.captured_at == dt.datetime(2025, 2, 21, 21, 49, 37, tzinfo=UTC)
    assert parse_list_file_name("participatingAgencies05292025am.xlsx", today=TODAY).captured_at is None


# (name, as of, suffix, words the note must contain or None): name forms and typos seen.
NAME_FORMS = [
    pytest.param("participatingAgencies.xlsx", None, "", None, id="undated-url"),
    pytest.param("pendingAgencies.xlsx", None, "", None, id="undated-pending"),
    pytest.param("participatingAgencies090022025am.xlsx", dt.date(2025, 9, 2), "am", "090022025",
                 id="doubled-digit"),
    pytest.param("participatingAgencies01052025pm.xlsx", dt.date(2026, 1, 5), "pm", "year corrected",
                 id="stale-year-in-january"),
    pytest.param("participatingAgencies11114025am.xlsx", dt.date(2025, 11, 11), "am", "4025-11-11",
                 id="wrong-year-digit"),
    pytest.param("ParticipatingAgencies05142026am.xlsx", dt.date(2026, 5, 14), "am", None, id="capitalised"),
    pytest.param("participatingAgencies05142026mid.xlsx", dt.date(2026, 5, 14), "mid", None, id="mid"),
    pytest.param("participatingAgencies05142026pm2.xlsx", dt.date(2026, 5, 14), "pm2", None, id="pm2"),
    pytest.param("participatingAgencies05142026B.xlsx", dt.date(2026, 5, 14), "b", None, id="capital-b"),
    pytest.param("participatingAgencies05142026_b.xlsx", dt.date(2026, 5, 14), "b", None, id="underscore-b"),
    pytest.param("participatingAgencies05142026.xlsx", dt.date(2026, 5, 14), "", None, id="no-part"),
    pytest.param("participatingAgencies05292025am (1).xlsx", dt.date(2025, 5, 29), "am", None, id="browser-copy"),
    pytest.param("downloads/participatingAgencies05292025am.xlsx", dt.date(2025, 5, 29), "am", None,
                 id="directory-ignored"),
    pytest.param("participatingAgencies13052025am.xlsx", None, "am", "ambiguous", id="no-month-13-ambiguous"),
    pytest.param("participatingAgencies1052025pm.xlsx", None, "pm", "ambiguous", id="digit-missing-ambiguous"),
    pytest.param("participatingAgencies05292025123am.xlsx", None, "am", "no plausible date", id="too-many-digits"),
    pytest.param("participatingAgencies-20251399000000.xlsx", None, "", "capture time", id="bad-capture-time"),
    # the editions of the shared history, February to August 2025
    pytest.param("participatingAgencies05122025amB.xlsx", dt.date(2025, 5, 12), "amb", None, id="am-edition-B"),
    pytest.param("pendingAgencies07112025am_b.xlsx", dt.date(2025, 7, 11), "amb", None, id="am-edition-_b"),
    pytest.param("participatingAgencies07242025pm_b.xlsx", dt.date(2025, 7, 24), "pmb", None, id="pm-edition-_b"),
    pytest.param("pendingAgencies06112025pm copy.xlsx", dt.date(2025, 6, 11), "pm", None, id="saved-copy"),
    # ICE's name forms from September 2026: two-digit years, other prefixes, a singular
    pytest.param("287gParticipatingAgencies091526pm.xlsx", dt.date(2026, 9, 15), "pm", None, id="prefix-two-digit-year"),
    pytest.param("ParticipatingAgency091826am.xlsx", dt.date(2026, 9, 18), "am", None, id="singular-two-digit-year"),
    pytest.param("287g_Pending_Agencies091526.xlsx", dt.date(2026, 9, 15), "", None, id="separated-words"),
    pytest.param("ParticipatingAgency091826am - Copy.xlsx", dt.date(2026, 9, 18), "am", None, id="windows-copy"),
    pytest.param("ParticipatingAgency0918626am.xlsx", dt.date(2026, 9, 18), "am", "one digit edit away",
                 id="two-digit-year-doubled-digit"),
]

NEW_TODAY = dt.date(2026, 9, 20)   # the names of September 2026 are read as a crawl then would


@pytest.mark.parametrize(("name", "as_of", "suffix", "note"), NAME_FORMS)
def test_name_form(name, as_of, suffix, note):
    parsed = parse_list_file_name(name, today=NEW_TODAY if as_of and as_of.year == 2026 else TODAY)
    assert (parsed.as_of, parsed.suffix) == (as_of, suffix)
    if note is None:
        assert parsed.note is None
    else:
        assert note in parsed.note


def test_year_typo_depends_on_what_today_allows():
    # Before January 2026 the stale-year reading is impossible, and one digit edit fits many days.
    parsed = parse_list_file_name("participatingAgencies01052025pm.xlsx", today=dt.date(2025, 6, 1))
    assert parsed.as_of is None and "ambiguous" in parsed.note
    # Later, 2027-01-05 is also one edit away, but 2026 is the nearer year.
    assert parse_list_file_name("participatingAgencies01052025pm.xlsx", today=dt.date(2027, 6, 1)).as_of == dt.date(
        2026, 1, 5
    )


def test_names_that_are_not_list_files():
    parsed = parse_list_file_name("report.xlsx", today=TODAY)
    assert (parsed.declared_list, parsed.as_of) == (None, None)
    assert parsed.note == "'report.xlsx' is not an ICE list file name"


def test_sort_key_orders_a_backfill():
    names = [
        "participatingAgencies05292025B.xlsx",
        "participatingAgencies05292025pm2.xlsx",
        "participatingAgencies05292025pm.xlsx",
        "participatingAgencies-20250221214937.xlsx",
        "participatingAgencies05292025mid.xlsx",
        "participatingAgencies05292025am.xlsx",
        "participatingAgencies05282025pm.xlsx",
        "participatingAgencies.xlsx",
    ]
    ordered = sorted((parse_list_file_name(name, today=TODAY) for name in names), key=lambda parsed: parsed.sort_key)
    assert [parsed.file_name for parsed in ordered] == [
        "participatingAgencies.xlsx",
        "participatingAgencies-20250221214937.xlsx",
        "participatingAgencies05282025pm.xlsx",
        "participatingAgencies05292025am.xlsx",
        "participatingAgencies05292025mid.xlsx",
        "participatingAgencies05292025pm.xlsx",
        "participatingAgencies05292025pm2.xlsx",
        "participatingAgencies05292025B.xlsx",
    ]


def test_an_edition_follows_the_file_it_replaces_not_the_afternoon():
    # ICE published pendingAgencies07112025am_b.xlsx at 14:25 UTC, between the am (11:07) and
    # pm (18:11) files (their docProps/core.xml); read after pm, it undid the afternoon's changes.
    names = [
        "pendingAgencies07112025pm.xlsx",
        "pendingAgencies07112025am_b.xlsx",
        "pendingAgencies07112025am.xlsx",
        "participatingAgencies07242025pm_b.xlsx",
        "participatingAgencies07242025pm.xlsx",
        "participatingAgencies05122025amB.xlsx",
        "participatingAgencies05122025pm.xlsx",
        "pendingAgencies06112025pm copy.xlsx",
        "pendingAgencies06112025pm.xlsx",
        "participatingAgencies05122025mid.xlsx",
    ]
    ordered = sorted((parse_list_file_name(name, today=TODAY) for name in names), key=lambda parsed: parsed.sort_key)
    assert [parsed.file_name for parsed in ordered] == [
        "participatingAgencies05122025amB.xlsx",
        "participatingAgencies05122025mid.xlsx",
        "participatingAgencies05122025pm.xlsx",
        "pendingAgencies06112025pm.xlsx",
        "pendingAgencies06112025pm copy.xlsx",
        "pendingAgencies07112025am.xlsx",
        "pendingAgencies07112025am_b.xlsx",
        "pendingAgencies07112025pm.xlsx",
        "participatingAgencies07242025pm.xlsx",
        "participatingAgencies07242025pm_b.xlsx",
    ]


# --- Content-Disposition ------------------------------------------------------------------------

CONTENT_DISPOSITION = [
    pytest.param('attachment; filename="participatingAgencies09152026am.xlsx"',
                 "participatingAgencies09152026am.xlsx", id="quoted"),
    pytest.param("attachment; filename=pendingAgencies.xlsx", "pendingAgencies.xlsx", id="bare"),
    pytest.param("attachment;filename=pendingAgencies.xlsx", "pendingAgencies.xlsx", id="no-space"),
    pytest.param('attachment; FileName="pendingAgencies.xlsx"', "pendingAgencies.xlsx", id="parameter-case"),
    pytest.param("attachment; filename*=UTF-8''participatingAgencies%2009.xlsx", "participatingAgencies 09.xlsx",
                 id="rfc8187"),
    pytest.param("attachment; filename=\"x.xlsx\"; filename*=UTF-8''participatingAgencies.xlsx",
                 "participatingAgencies.xlsx", id="extended-wins-after"),
    pytest.param("attachment; filename*=UTF-8''participatingAgencies.xlsx; filename=\"x.xlsx\"",
                 "participatingAgencies.xlsx", id="extended-wins-before"),
    pytest.param("attachment; filename*=utf-8'en'%E2%82%AC.xlsx", "\u20ac.xlsx", id="rfc8187-language"),
    pytest.param("attachment; filename*=iso-8859-1''caf%E9.xlsx", "caf\xe9.xlsx", id="rfc8187-latin-1"),
    pytest.param("attachment; filename*=UTF-8''%FF.xlsx; filename=\"fallback.xlsx\"", "fallback.xlsx",
                 id="bad-extended-falls-back"),
    pytest.param('attachment; filename="a;b.xlsx"; size=10', "a;b.xlsx", id="semicolon-in-quotes"),
    pytest.param('attachment; filename="a\\"b.xlsx"', 'a"b.xlsx', id="escaped-quote"),
    pytest.param("attachment; filename=  spaced name.xlsx  ", "spaced name.xlsx", id="bare-with-spaces"),
    pytest.param(b'attachment; filename="caf\xc3\xa9.xlsx"', "caf\xe9.xlsx", id="bytes-utf-8"),
    pytest.param(b'attachment; filename="caf\xe9.xlsx"', "caf\xe9.xlsx", id="bytes-latin-1"),
    pytest.param('attachment; filename="../../etc/pendingAgencies.xlsx"', "pendingAgencies.xlsx", id="no-path"),
    pytest.param('attachment; filename="C:\\Users\\x\\pendingAgencies.xlsx"', "pendingAgencies.xlsx",
                 id="no-windows-path"),
    pytest.param("attachment; filename*=UTF-8''..%2F..%2Fevil.xlsx", "evil.xlsx", id="no-encoded-path"),
    pytest.param('attachment; filename="a\r\nb\x00.xlsx"', "ab.xlsx", id="control-characters-dropped"),
    pytest.param('attachment; filename=".."', None, id="dot-dot"),
    pytest.param('attachment; filename=""', None, id="empty"),
    pytest.param("inline", None, id="no-name"),
    pytest.param("", None, id="empty-header"),
    pytest.param(None, None, id="absent"),
]


@pytest.mark.parametrize(("header", "expected"), CONTENT_DISPOSITION)
def test_file_name_from_content_disposition(header, expected):
    assert file_name_from_content_disposition(header) == expected
