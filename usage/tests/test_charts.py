"""The dashboard's SVG charts: round axes, short labels, escaped text."""

from __future__ import annotations

import pytest

from usage import charts


@pytest.mark.parametrize(
    ("highest", "top", "step"),
    [
        (0, 1, 0.25),
        (1, 1, 0.25),
        (7, 7.5, 2.5),
        (9, 10, 2.5),
        (40, 40, 10),
        (105_000, 125_000, 25_000),
        (980, 1000, 250),
        (0.034, 0.04, 0.01),
        (0.105, 0.125, 0.025),
    ],
)
def test_it_puts_the_axis_top_on_a_round_number_above_the_highest_value(highest, top, step):
    assert charts.nice_ceiling(highest) == pytest.approx((top, step))


def test_it_writes_axis_labels_short():
    assert [charts.compact(v) for v in (0, 250, 1000, 1250, 2_500_000)] == ["0", "250", "1k", "1.2k", "2.5M"]
    assert charts.percent(0.125) == "12.5%"


def test_a_bar_chart_escapes_its_labels_and_stacks_its_series():
    svg = charts.bar_chart(
        title="<Requests>",
        labels=["<day>", "Mar 2"],
        series=[charts.Series("ok", [3, 0], "red"), charts.Series("errors", [1, 0], "blue")],
    )

    assert "<day>" not in svg
    assert "&lt;day&gt; — ok: 3, errors: 1" in svg
    assert 'aria-label="&lt;Requests&gt;"' in svg
    assert svg.count("<rect") == 2 + 2 + 2  # two layers on the first day, the tooltips' columns, the legend


def test_a_line_chart_breaks_where_there_is_nothing_to_measure():
    svg = charts.line_chart(
        title="Error rate",
        labels=["a", "b", "c", "d", "e"],
        line=charts.Series("rate", [0.1, 0.2, None, 0.3, 0.1], "red"),
    )

    assert svg.count("<polyline") == 2
    assert svg.count("<circle") == 4
