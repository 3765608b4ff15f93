"""checkov on the rendered chart (every value set) and on terraform/: no
failed check, and every skip says why next to what it concerns."""

import json
import os
import re
import subprocess

from conftest import CHART, ROOT, VALUE_SETS, load_values, render

CHECKOV = os.environ.get("CHECKOV", "checkov")


def checkov(directory, framework):
    run = subprocess.run(
        [CHECKOV, "-d", str(directory), "--framework", framework, "-o", "json", "--quiet"],
        capture_output=True,
        text=True,
        check=False,
    )
    reports = json.loads(run.stdout)
    reports = reports if isinstance(reports, list) else [reports]
    assert reports and reports[0]["check_type"] == framework, run.stdout[:2000] + run.stderr[-2000:]
    return reports


def failures(reports):
    return [
        f"{c['check_id']} {c['resource']} ({c['file_path']}): {c['check_name']}"
        for report in reports
        for c in report["results"]["failed_checks"]
    ]


def test_rendered_chart_has_no_failed_check(tmp_path):
    for value_set in VALUE_SETS:
        directory = tmp_path / value_set.stem
        directory.mkdir()
        for path, text in render(load_values(value_set)).items():
            (directory / path.replace("/", "_")).write_text(text)
    reports = checkov(tmp_path, "kubernetes")
    assert reports[0]["summary"]["resource_count"] > 0
    assert reports[0]["summary"]["passed"] > 0
    assert not failures(reports), "\n".join(failures(reports))


def test_terraform_has_no_failed_check():
    reports = checkov(ROOT / "terraform", "terraform")
    assert reports[0]["summary"]["resource_count"] > 0
    assert not failures(reports), "\n".join(failures(reports))


def test_every_skip_gives_its_reason():
    skips = []
    for path in (ROOT / "terraform").rglob("*.tf"):
        skips += [(path, m) for m in re.findall(r"checkov:skip=(.*)", path.read_text())]
    for path in (CHART / "templates").rglob("*.yaml"):
        skips += [(path, m) for m in re.findall(r"checkov\.io/skip\d+: (.*)", path.read_text())]
    assert skips
    for path, skip in skips:
        assert re.fullmatch(r"CKV2?_[A-Z0-9]+_\d+[:=].{20,}", skip), f"{path}: a skip without its reason: {skip}"
