"""Which deployments a request tries first: lower priority first, and among equal priorities a random
order weighted by the deployments' weights (relay/upstream/routing.py's `rng`, seeded here)."""

from __future__ import annotations

from collections import Counter
from types import MappingProxyType

import pytest

from providers.catalog import DeploymentEntry, ModelEntry, ProviderEntry
from relay.upstream import routing


def _provider(name: str, *, endpoints=frozenset({"chat"})) -> ProviderEntry:
    return ProviderEntry(
        id=1, name=name, kind="openai", base_url=f"https://{name}.example.org/v1", api_version="",
        headers=MappingProxyType({}), timeout=5.0, max_retries=0, completion_cap="max_tokens",
        endpoints=endpoints, keys=(),
    )  # fmt: skip


def _model(*deployments: tuple[str, int, int], endpoints=frozenset({"chat"})) -> ModelEntry:
    entries = tuple(
        DeploymentEntry(id=index, provider=_provider(name, endpoints=endpoints), upstream_model=name,
                        priority=priority, weight=weight)
        for index, (name, priority, weight) in enumerate(deployments)
    )  # fmt: skip
    return ModelEntry(id=1, name="fast", deployments=entries, plan_ids=frozenset())


@pytest.fixture
def seeded(monkeypatch):
    monkeypatch.setattr(routing, "rng", routing.random.Random(13))


def test_weights_share_the_first_place_among_equal_priorities(seeded):
    model = _model(("heavy", 1, 3), ("light", 1, 1))

    firsts = Counter(routing.deployments_in_order(model)[0].upstream_model for _ in range(400))

    assert 270 <= firsts["heavy"] <= 330, firsts  # 300 expected: 3 in 4
    assert firsts["heavy"] + firsts["light"] == 400


def test_a_lower_priority_always_comes_first(seeded):
    model = _model(("backup", 2, 100), ("main", 1, 1))

    orders = {tuple(d.upstream_model for d in routing.deployments_in_order(model)) for _ in range(50)}

    assert orders == {("main", "backup")}


def test_deployments_whose_provider_does_not_speak_the_endpoint_are_left_out(seeded):
    model = _model(("embedder", 1, 1), endpoints=frozenset({"embeddings"}))

    assert routing.deployments_in_order(model, endpoint="chat") == []
