"""Review of issue 17's passes (wt-rev): anyone, without a token, chooses
the HTTP method, and each method was a new pair of metric series (a
histogram of 11 buckets and a counter), kept by the registry and now by
``Metrics``' own series cache too, for the life of the process: memory
and every scrape grow without bound. Methods the API does not know are
counted as one, ``_OTHER`` (OpenTelemetry's name for them)."""

from __future__ import annotations

from typing import Any


async def test_rev_unknown_methods_do_not_grow_the_metric_series(
    beneficiary_app: Any, beneficiary_client: Any
) -> None:
    metrics = beneficiary_app.state.metrics
    await beneficiary_client.get("/healthz")
    before = len(list(metrics.registry.collect())[0].samples) + len(metrics._children)
    for n in range(200):
        await beneficiary_client.request(f"M{n:03d}", "/healthz")
    after = len(list(metrics.registry.collect())[0].samples) + len(metrics._children)
    assert after - before < 10, after - before
