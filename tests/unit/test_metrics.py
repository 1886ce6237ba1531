"""Metrics: values observed from Outcomes, read back through the Prometheus text parser."""

from __future__ import annotations

from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families

from feedd.metrics import FETCH_BUCKETS, Metrics
from feedd.types import Outcome, Status


def samples(metrics: Metrics) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of render(): (name, sorted labels) -> value."""
    found = {}
    for family in text_string_to_metric_families(metrics.render().decode()):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def value(metrics: Metrics, name: str, **labels: str) -> float:
    return samples(metrics)[(name, tuple(sorted(labels.items())))]


OUTCOMES = (
    Outcome(
        "https://a.example/feed",
        Status.OK,
        new=3,
        updated=1,
        http_status=200,
        duration=0.3,
        links_resolved=2,
        links_failed=1,
    ),
    Outcome("https://b.example/feed", Status.OK, new=2, http_status=200, duration=1.2),
    Outcome("https://a.example/feed", Status.NOT_MODIFIED, http_status=304, duration=0.04),
    Outcome("https://c.example/feed", Status.FAILED, error="timed out", duration=20.0),
)


def test_fresh_metrics_read_zero() -> None:
    metrics = Metrics()
    for outcome in ("ok", "not_modified", "failed"):
        assert value(metrics, "feedd_fetches_total", outcome=outcome) == 0
    for state in ("new", "ok", "failing", "gone", "disabled"):
        assert value(metrics, "feedd_feeds", state=state) == 0
    assert value(metrics, "feedd_articles_stored_total") == 0
    assert value(metrics, "feedd_fetch_duration_seconds_count") == 0
    assert value(metrics, "feedd_last_tick_timestamp_seconds") == 0


def test_observe_outcomes() -> None:
    metrics = Metrics()
    for outcome in OUTCOMES:
        metrics.observe_outcome(outcome)
    assert value(metrics, "feedd_fetches_total", outcome="ok") == 2
    assert value(metrics, "feedd_fetches_total", outcome="not_modified") == 1
    assert value(metrics, "feedd_fetches_total", outcome="failed") == 1
    assert value(metrics, "feedd_articles_stored_total") == 5
    assert value(metrics, "feedd_articles_updated_total") == 1
    assert value(metrics, "feedd_links_resolved_total") == 2
    assert value(metrics, "feedd_links_failed_total") == 1


def test_fetch_duration_histogram() -> None:
    metrics = Metrics()
    for outcome in OUTCOMES:
        metrics.observe_outcome(outcome)
    assert value(metrics, "feedd_fetch_duration_seconds_count") == 4
    assert abs(value(metrics, "feedd_fetch_duration_seconds_sum") - 21.54) < 1e-9
    buckets = {
        labels[0][1]: count
        for (name, labels), count in samples(metrics).items()
        if name == "feedd_fetch_duration_seconds_bucket"
    }
    assert len(buckets) == len(FETCH_BUCKETS) + 1  # and +Inf
    assert min(FETCH_BUCKETS) == 0.05
    assert max(FETCH_BUCKETS) == 60
    assert buckets["0.05"] == 1  # the 304
    assert buckets["0.5"] == 2
    assert buckets["2.5"] == 3
    assert buckets["10.0"] == 3
    assert buckets["20.0"] == 4  # the timeout, on the bucket edge
    assert buckets["+Inf"] == 4


def test_tick_feeds_and_articles() -> None:
    metrics = Metrics()
    metrics.observe_tick(1795842000.5)
    metrics.set_feed_states({"ok": 10, "failing": 2, "disabled": 1})
    metrics.set_articles_total(12345)
    assert value(metrics, "feedd_last_tick_timestamp_seconds") == 1795842000.5
    assert value(metrics, "feedd_feeds", state="ok") == 10
    assert value(metrics, "feedd_feeds", state="failing") == 2
    assert value(metrics, "feedd_feeds", state="disabled") == 1
    assert value(metrics, "feedd_feeds", state="new") == 0
    assert value(metrics, "feedd_articles") == 12345

    # A later refresh replaces the counts; missing states drop back to 0.
    metrics.set_feed_states({"ok": 11, "gone": 1})
    assert value(metrics, "feedd_feeds", state="ok") == 11
    assert value(metrics, "feedd_feeds", state="failing") == 0
    assert value(metrics, "feedd_feeds", state="disabled") == 0
    assert value(metrics, "feedd_feeds", state="gone") == 1


def test_unexpected_state_is_shown_then_reset() -> None:
    metrics = Metrics()
    metrics.set_feed_states({"paused": 3})
    assert value(metrics, "feedd_feeds", state="paused") == 3
    metrics.set_feed_states({})
    assert value(metrics, "feedd_feeds", state="paused") == 0


def test_registries_are_separate() -> None:
    one, two = Metrics(), Metrics()
    one.observe_outcome(OUTCOMES[0])
    assert value(one, "feedd_fetches_total", outcome="ok") == 1
    assert value(two, "feedd_fetches_total", outcome="ok") == 0
    assert REGISTRY.get_sample_value("feedd_fetches_total", {"outcome": "ok"}) is None


def test_render_has_help_and_type() -> None:
    text = Metrics().render().decode()
    assert "# TYPE feedd_fetches_total counter" in text
    assert "# TYPE feedd_fetch_duration_seconds histogram" in text
    assert "# TYPE feedd_feeds gauge" in text
    assert "# HELP feedd_articles Articles in the database." in text


def test_a_lost_lease_is_counted() -> None:
    metrics = Metrics()
    metrics.observe_outcome(Outcome("https://a.example/feed", Status.FAILED, error="lease lost"))
    assert value(metrics, "feedd_leases_lost_total") == 0
    metrics.observe_outcome(
        Outcome("https://a.example/feed", Status.FAILED, error="lease lost", lease_lost=True)
    )
    assert value(metrics, "feedd_leases_lost_total") == 1
