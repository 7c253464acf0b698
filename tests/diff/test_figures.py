"""Figure extraction (diff/figures.py): one named case per rule, sentences in our own words."""

from __future__ import annotations

import datetime as dt

import pytest

from diff.figures import extract_figures, link_figure, measure_for
from scheduler.seeds import SEEDS_DIR, load_baseline

REFERENCE = dt.date(2026, 2, 10)


def found(text: str) -> list[tuple]:
    return [(f.value, f.unit, f.scope) for f in extract_figures(text, reference_date=REFERENCE)]


# (name, sentence, expected (value, unit, scope) in order)
CASES = [
    # every kind of figure
    ("agencies", "The sheriff said 41 law enforcement agencies signed up.", [(41, "agencies", "US")]),
    ("sheriff's offices", "Another 12 sheriff's offices joined in March.", [(12, "agencies", "US")]),
    ("agreements", "ICE holds 1,290 agreements with local partners.", [(1290, "agreements", "US")]),
    ("MOAs", "The office signed two MOAs with the agency.", [(2, "agreements", "US")]),
    ("officers", "About 300 deputies finished the training.", [(300, "officers", "US")]),
    ("arrests noun", "The operation led to 212 arrests.", [(212, "arrests", "US")]),
    ("arrested verb", "Officers arrested 90 people over four days.", [(90, "arrests", "US")]),
    ("arrests of people", "It announced the arrests of 75 noncitizens.", [(75, "arrests", "US")]),
    ("beds", "The center will have 2,400 beds.", [(2400, "beds", "US")]),
    ("bed compound", "Plans call for a 1,000-bed facility.", [(1000, "beds", "US")]),
    ("facilities", "The agency plans six new detention facilities.", [(6, "facilities", "US")]),
    ("states", "Agencies in 40 states take part.", [(40, "states", "US")]),
    ("percent sign", "Arrests rose 12% from the prior year.", [(12, "percent", "US")]),
    ("percent word", "Local arrests grew by 300 percent.", [(300, "percent", "US")]),
    ("per cent", "Overtime is capped at 20 per cent of pay.", [(20, "percent", "US")]),
    ("dollars", "Each agency gets $5,000 for radios.", [(5000, "USD", "US")]),
    ("dollars million", "The county turned down a $3.5 million grant.", [(3_500_000, "USD", "US")]),
    ("dollars spelled", "The state set aside 2 million dollars.", [(2_000_000, "USD", "US")]),
    # state scoping
    ("state before", "In Georgia, 44 agencies take part.", [(44, "agencies", "state:GA")]),
    ("state after", "ICE made 310 arrests in North Carolina last week.", [(310, "arrests", "state:NC")]),
    ("list of states", "Ohio has 20 agreements, Indiana has 31 and Iowa 9.",
     [(20, "agreements", "state:OH"), (31, "agreements", "state:IN"), (9, "agreements", "state:IA")]),
    ("west virginia not virginia", "West Virginia reported 17 agreements.", [(17, "agreements", "state:WV")]),
    ("nationwide resets the state", "Florida has 330 agreements, and nationwide 1,300 agencies take part.",
     [(330, "agreements", "state:FL"), (1300, "agencies", "US")]),
    ("county with state", "In Polk County, Florida, 60 deputies are trained.",
     [(60, "officers", "county:Polk County, FL")]),
    ("city police", "The Austin police chief declined a $2 million offer.", [(2_000_000, "USD", "city:Austin")]),
    ("newspaper is not a state", "The Washington Post counted 88 agreements.", [(88, "agreements", "US")]),
    # inherited units
    ("up from", "By March, 500 agencies had signed. That is up from 120 a year earlier.",
     [(500, "agencies", "US"), (120, "agencies", "US")]),
    # numbers that are not figures
    ("year", "In 2025, the program grew.", []),
    ("year is not a count", "Since 2019 agencies have signed on.", []),
    ("full date", "The order was signed on February 3, 2026.", []),
    ("day month", "On 14 March the sheriff spoke.", []),
    ("numeric date", "The memo dated 1/26/2026 was released.", []),
    ("iso date", "The list of 2026-01-26 was posted.", []),
    ("phone", "Call (202) 732-4242 or 1-866-347-2423 for details.", []),
    ("phone dotted", "Reporters can call 202.732.4242.", []),
    ("time", "The briefing starts at 10:30 a.m.", []),
    ("ordinal", "It was the 3rd agreement in the county.", []),
    ("age", "A 34-year-old man was arrested.", []),
    ("section number", "Section 287(g) of the Act allows it.", []),
    ("statute", "The law, 8 U.S.C. 1357(g), sets the terms.", []),
    ("no unit", "Two recent polls show support.", []),
    ("version", "Some call it Trump 2.0.", []),
    ("promo discount", "Use promo code SAVE to get 60% off your membership.", []),
    ("percent off", "Readers get 25% off today.", []),
    ("link", "See https://t.co/ab12CD34 for 50 agencies.", [(50, "agencies", "US")]),
    ("handle", "Posted by @agent007 with video.", []),
]


@pytest.mark.parametrize("name, sentence, expected", CASES, ids=[c[0] for c in CASES])
def test_extraction(name, sentence, expected):
    assert found(sentence) == expected


def test_qualifier_per_and_change_are_kept():
    [cap] = extract_figures("Overtime pay of up to 25 percent of salary is covered.")
    assert (cap.qualifier, cap.change) == ("up to", False)
    [rise] = extract_figures("Arrests by local officers have risen by 950 percent.")
    assert rise.change and rise.counts == "Arrests by local officers have risen by"
    [grant] = extract_figures("It pays $7,500 per officer for gear.")
    assert (grant.per, grant.counts) == ("officer", "USD per officer for gear")


def test_dates_scope_the_figures():
    [dated] = extract_figures("As of Jan. 26, 1,168 local agencies had trained officers.", reference_date=REFERENCE)
    assert (dated.as_of.start, dated.as_of.precision) == (dt.date(2026, 1, 26), "day")
    [month] = extract_figures("In October of 2025, the chief declined a $25 million deal.")
    assert (month.as_of.start, month.as_of.end, month.as_of.precision) == (
        dt.date(2025, 10, 1), dt.date(2025, 10, 31), "month")
    [fiscal] = extract_figures("In fiscal year 2025, officers made 4,000 arrests.")
    assert (fiscal.as_of.start, fiscal.as_of.end) == (dt.date(2024, 10, 1), dt.date(2025, 9, 30))
    # a year-less date takes the year of the reference (the latest full date in the text otherwise)
    [undated] = extract_figures("On December 30, 12 agencies signed.", reference_date=REFERENCE)
    assert undated.as_of.start == dt.date(2025, 12, 30)


def test_an_embedded_post_takes_the_date_of_its_closing_line():
    text = ("ICE says it arrested 420 people in Ohio with local partners.\n"
            "— A Reporter (@reporter) March 2, 2026\n")
    [figure] = extract_figures(text)
    assert (figure.value, figure.unit, figure.scope) == (420, "arrests", "state:OH")
    assert (figure.as_of.start, figure.as_of.basis) == (dt.date(2026, 3, 2), "dated line")


def test_location_points_at_the_number():
    text = "First paragraph.\nSecond one. Here 18 agreements were added."
    [figure] = extract_figures(text)
    assert (figure.location.paragraph, figure.location.sentence) == (2, 2)
    assert text[figure.location.start:figure.location.end] == "18"


def test_model_filters_the_measure():
    [figure] = extract_figures("Texas has 120 task force model agreements.")
    measure = measure_for(figure)
    assert (measure.metric, measure.state, measure.model) == ("agreements", "TX", "TFM")


def test_linking_prefers_the_same_value_then_the_nearest_date():
    baseline = load_baseline(SEEDS_DIR / "baseline.toml")
    [same] = extract_figures("Florida has 324 agreements.")
    assert link_figure(same, baseline).baseline_id == "agreements-fl"
    [other] = extract_figures("Florida now has 351 agreements.")
    link = link_figure(other, baseline)
    assert (link.baseline_id, link.baseline_value) == ("agreements-fl", 324)
    assert link.measure.describe() == "participating list, agreements, state FL"
    [nothing] = extract_figures("Officers made 77 arrests in Maine.")
    assert link_figure(nothing, baseline).baseline_id is None and measure_for(nothing) is None
