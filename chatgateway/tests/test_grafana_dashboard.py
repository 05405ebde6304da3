"""The Grafana dashboard (docs/grafana/chatgateway.json) asks only for metrics and labels the gateway exports.

No Prometheus here: the dashboard's JSON is read, and every name its queries use is checked against the metrics
core/metrics.py makes and the outbox's gauge chatgateway/metrics.py writes. That the queries also parse and
return data over real traffic is shown by bench/metrics_demo.py (docs/metrics.md), run by hand.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from chatgateway.metrics import _outbox
from core.metrics import _made

DASHBOARD = Path(__file__).resolve().parents[2] / "docs" / "grafana" / "chatgateway.json"
METRIC = re.compile(r"\bchatgateway_[a-z_]+\b")
MATCHER = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)\s*(?:=~|!~|!=|=)\s*\"")
GROUPING = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\(([^)]*)\)")
LEGEND = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")
VARIABLE = re.compile(r"label_values\(\s*([a-z_]+)\s*,\s*([a-z_]+)\s*\)")


def exported() -> dict[str, set[str]]:
    """Every series name a scrape can have, with its label names."""
    series: dict[str, set[str]] = {}
    for metric in _made().values():
        name, labels = metric._name, set(metric._labelnames)
        if metric._type == "counter":
            series[f"{name}_total"] = labels
        elif metric._type == "histogram":
            series |= {f"{name}_bucket": labels | {"le"}, f"{name}_sum": labels, f"{name}_count": labels}
        else:
            series[name] = labels
    for family in text_string_to_metric_families(_outbox().decode()):
        for sample in family.samples:
            series.setdefault(sample.name, set()).update(sample.labels)
    return series


def targets() -> list[tuple[str, str, str]]:
    dashboard = json.loads(DASHBOARD.read_text())
    return [
        (panel["title"], target["expr"], target.get("legendFormat", ""))
        for panel in dashboard["panels"]
        for target in panel.get("targets", [])
    ]


def problems(expr: str, legend: str, series: dict[str, set[str]]) -> list[str]:
    """What in one query names a metric or a label the gateway does not export."""
    names = METRIC.findall(expr)
    if not names:
        return [f"no chatgateway metric in {expr}"]
    unknown = [name for name in names if name not in series]
    if unknown:
        return [f"{unknown} not exported (exported: {sorted(series)})"]
    common = set.intersection(*(series[name] for name in names))
    found = []
    used = set(MATCHER.findall(expr))
    grouped = {label.strip() for clause in GROUPING.findall(expr) for label in clause.split(",") if label.strip()}
    if not used | grouped <= common:
        found.append(f"labels {sorted((used | grouped) - common)} not on {names}")
    shown = set(LEGEND.findall(legend))
    if not shown <= (grouped or common):  # a legend can show only what the aggregation kept
        found.append(f"the legend names {sorted(shown - (grouped or common))}")
    return found


@pytest.mark.parametrize(("title", "expr", "legend"), targets(), ids=[t[0] for t in targets()])
def test_each_query_uses_only_exported_metrics_and_their_labels(title, expr, legend):
    assert problems(expr, legend, exported()) == [], title


def test_the_variables_read_an_exported_label():
    series = exported()
    dashboard = json.loads(DASHBOARD.read_text())
    queries = [v["query"] for v in dashboard["templating"]["list"] if v["type"] == "query"]
    assert queries
    for query in queries:
        metric, label = VARIABLE.fullmatch(query["query"] if isinstance(query, dict) else query).groups()
        assert label in series[metric]


def test_the_check_itself_catches_a_wrong_name():
    series = exported()
    right = 'sum by (family) (rate(chatgateway_requests_total{status="5xx"}[5m]))'
    assert problems(right, "{{family}}", series) == []
    assert problems(right.replace("status=", "code="), "", series)  # a label of another exporter
    assert problems(right.replace("by (family)", "by (route)"), "", series)
    assert problems(right, "{{model}}", series)  # aggregated away
    assert problems(right.replace("requests_total", "request_total"), "", series)
    assert problems("histogram_quantile(0.5, sum by (le) (rate(chatgateway_tokens_bucket[5m])))", "", series)
