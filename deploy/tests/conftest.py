"""Shared helpers of the deployment tests: rendering the chart offline with
Helm's own Go SDK (helm-python-sdk bundles it as a shared library), and the
repository's paths."""

from pathlib import Path

import pytest
import yaml

import helm_python as helm

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "charts" / "callvault"
TESTS = Path(__file__).resolve().parent
VALUE_SETS = sorted((TESTS / "values").glob("*.yaml"))
RELEASE = "cv"
NAMESPACE = "callvault"


def load_values(path):
    return yaml.safe_load(path.read_text()) or {}


def render(values, is_upgrade=False):
    """The chart's manifests for `values`, as a {template path: text} map
    without NOTES.txt, as `helm template` prints them."""
    with helm.Chart.load(CHART) as chart:
        out = chart.render(
            values,
            name=RELEASE,
            namespace=NAMESPACE,
            is_install=not is_upgrade,
            is_upgrade=is_upgrade,
        )
    return {
        path: text
        for path, text in sorted(out.items())
        if not path.endswith("NOTES.txt") and text.strip()
    }


def documents(values):
    """Every rendered object, in template order."""
    docs = []
    for text in render(values).values():
        docs.extend(doc for doc in yaml.safe_load_all(text) if doc)
    return docs


def kind_named(docs, kind, name):
    found = [d for d in docs if d["kind"] == kind and d["metadata"]["name"] == name]
    assert len(found) == 1, f"{kind}/{name}: {len(found)} rendered"
    return found[0]


@pytest.fixture(params=VALUE_SETS, ids=lambda p: p.stem)
def value_set(request):
    return request.param
