"""Scrape a /metrics endpoint the way Prometheus does and look samples up by name and labels."""

from __future__ import annotations

import urllib.request

from prometheus_client.parser import text_string_to_metric_families

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def scrape(host: str, port: int) -> Samples:
    shown = f"[{host}]" if ":" in host else host
    with urllib.request.urlopen(f"http://{shown}:{port}/metrics", timeout=10) as answer:
        assert answer.status == 200
        assert answer.headers["Content-Type"].startswith("text/plain; version=")
        text = answer.read().decode()
    samples: Samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples[sample.name, frozenset(sample.labels.items())] = sample.value
    return samples


def value(samples: Samples, name: str, **labels: str) -> float:
    """One sample's value; 0 when the server has not created it (nothing happened)."""
    return samples.get((name, frozenset(labels.items())), 0.0)
