"""Drift between the binary and the chart. Both directions, read from the
code rather than from a list kept by hand:

- every CALLVAULT_* variable the chart sets names a key of the binary's
  configuration types (services/callvault/src/config/), and every OTEL_*
  one is read by libs/telemetry;
- every target of the binary (its `Target` enum, less `all`) is a target
  of the chart, and the other way round;
- every setting a target needs in a process of its own is set for it: the
  secrets `Secrets::require_configured` demands, the bus its refusal names,
  and what the target's module in modules.rs reads whose default is the
  embedded mode's (its database URL, the storage and disclosure URLs, the
  blob store and the key provider);
- the settings the chart always sets (billing's) default to the binary's
  defaults;
- and the real binary accepts each process's environment as the chart
  renders it (its configuration refuses unknown keys)."""

import os
import re
import subprocess
from pathlib import Path

import pytest

from conftest import ROOT, VALUE_SETS, documents, load_values
from rust_source import block_after, functions, production_source

SRC = ROOT / "services" / "callvault" / "src"
CONFIG_FILES = [SRC / "config" / "mod.rs", SRC / "config" / "jobs.rs", SRC / "config" / "webhooks.rs"]


def config_structs():
    """{struct name: {field: type}} of the configuration types."""
    structs = {}
    for path in CONFIG_FILES:
        text = production_source(path)
        for match in re.finditer(r"pub struct (\w+)\s*\{", text):
            body = block_after(text[match.start() :], r"pub struct \w+")
            structs[match.group(1)] = dict(re.findall(r"pub (\w+):\s*([^,]+),", body))
    return structs


def config_variables():
    """Every CALLVAULT_* variable that sets a configuration key."""
    structs = config_structs()
    variables = set()
    for field, kind in structs["Config"].items():
        if kind in structs:
            variables |= {f"CALLVAULT_{field}__{key}".upper() for key in structs[kind]}
        else:
            variables.add(f"CALLVAULT_{field}".upper())
    raw = (SRC / "config" / "mod.rs").read_text()
    not_keys = re.search(r"const NOT_KEYS: \[&str; \d+\] = \[([^\]]*)\]", raw).group(1)
    variables |= {f"CALLVAULT_{key}".upper() for key in re.findall(r'"(\w+)"', not_keys)}
    return variables


def telemetry_variables():
    text = "".join(p.read_text() for p in (ROOT / "libs" / "telemetry" / "src").rglob("*.rs"))
    return set(re.findall(r"\bOTEL_[A-Z_]+[A-Z]\b", text))


def containers(docs):
    for doc in docs:
        if doc["kind"] in ("Deployment", "StatefulSet", "Job"):
            for container in doc["spec"]["template"]["spec"]["containers"]:
                yield doc, container


def test_config_types_are_read():
    variables = config_variables()
    # A parser that found nothing would let every variable through.
    assert {"CALLVAULT_LISTEN", "CALLVAULT_BUS__URL_FILE", "CALLVAULT_DATABASE__STORAGE_URL"} <= variables
    assert {"CALLVAULT_STORAGE__SWEEP_INTERVAL_SECS", "CALLVAULT_LIFECYCLE__CLOCK_OFFSET_SECS"} <= variables
    assert {
        "CALLVAULT_DATABASE__BILLING_URL",
        "CALLVAULT_BILLING__TIMER_INTERVAL_SECS",
        "CALLVAULT_BILLING__GRACE_HOURS",
    } <= variables
    assert "OTEL_EXPORTER_OTLP_ENDPOINT" in telemetry_variables()


@pytest.mark.parametrize("value_set", VALUE_SETS, ids=lambda p: p.stem)
def test_every_variable_the_chart_sets_is_one_the_binary_reads(value_set):
    known = config_variables()
    otel = telemetry_variables()
    for doc, container in containers(documents(load_values(value_set))):
        for variable in container["env"]:
            name = variable["name"]
            where = f"{doc['kind']}/{doc['metadata']['name']}: {name}"
            if name.startswith("OTEL_"):
                assert name in otel, f"{where} is not read by libs/telemetry"
            else:
                assert name in known, f"{where} is not a key of the configuration types"


@pytest.mark.parametrize("value_set", VALUE_SETS, ids=lambda p: p.stem)
def test_every_key_of_the_charts_configuration_file_is_one_the_binary_reads(value_set):
    import tomllib

    structs = config_structs()
    for doc in documents(load_values(value_set)):
        if doc["kind"] != "ConfigMap":
            continue
        for section, keys in tomllib.loads(doc["data"]["callvault.toml"]).items():
            kind = structs["Config"].get(section)
            assert kind in structs, f"[{section}] is not a section"
            for key in keys:
                assert key in structs[kind], f"[{section}] {key} is not a key"


def module_body(target):
    modules = production_source(SRC / "modules.rs")
    return block_after(modules, rf"async fn {target}\(")


def required_everywhere():
    """What a process that does not run every service must set: the
    secrets `require_configured` lists, and the bus its refusal names."""
    secrets = (SRC / "secrets.rs").read_text()
    body = secrets[secrets.index("pub fn require_configured") :]
    body = body[: body.index("Self::load_or_generate")]
    keys = re.findall(r'"(\w+\.\w+)"', body)
    assert len(keys) >= 4, keys
    process = (SRC / "process.rs").read_text()
    refusal = process[process.index("BusKind::InProcess => bail!") :][:400]
    bus = re.findall(r"CALLVAULT_(\w+)=", refusal)
    assert bus, "the bus refusal names no variable"
    return {k.replace(".", "__").upper() for k in keys} | {b.upper() for b in bus}


def required_by(target):
    """What the target's module reads whose default is the embedded mode's."""
    body = module_body(target)
    raw = (SRC / "modules.rs").read_text()
    raw_body = raw[raw.index(f"async fn {target}(") :]
    raw_body = raw_body[: raw_body.index("\n}\n")]
    needed = set()
    for service in re.findall(r'config\.database_url\("(\w+)"\)', raw_body):
        needed.add(f"DATABASE__{service.upper()}_URL")
    if "config.storage_url()" in re.sub(r"\s+", "", body):
        needed.add("STORAGE_URL")
    if "config.disclosure_url()" in re.sub(r"\s+", "", body):
        needed.add("DISCLOSURE_URL")
    if "blob_store(" in body:
        backends = (SRC / "backends.rs").read_text()
        needed.add("BLOB__BACKEND")
        needed |= {m.replace(".", "__").upper() for m in re.findall(r'"(blob\.\w+) is required', backends)}
    if "process.keys()" in re.sub(r"\s+", "", body):
        needed.add("KEYS__PROVIDER")
    return needed


def process_env(docs):
    """{process name: (its targets, {variable: entry})} of the Deployments."""
    found = {}
    for doc, container in containers(docs):
        if doc["kind"] == "Deployment":
            targets = container["args"][2].split(",")
            found[doc["metadata"]["name"]] = (targets, {e["name"]: e for e in container["env"]})
    return found


@pytest.mark.parametrize("value_set", ["defaults", "distributed-aws", "existing-secret", "grouped"])
def test_every_setting_a_target_requires_is_set(value_set):
    from conftest import TESTS

    docs = documents(load_values(TESTS / "values" / f"{value_set}.yaml"))
    processes = process_env(docs)
    assert processes
    # Every target of the binary runs in some process.
    assert {t for targets, _ in processes.values() for t in targets} == binary_targets()
    for name, (targets, env) in processes.items():
        needed = set(required_everywhere())
        for target in targets:
            needed |= required_by(target)
        for key in needed:
            assert f"CALLVAULT_{key}" in env or f"CALLVAULT_{key}_FILE" in env, f"{name} does not set {key}"
        if "CALLVAULT_BUS__KIND" in env:
            assert env["CALLVAULT_BUS__KIND"]["value"] == "rabbitmq"


def test_each_target_requires_what_its_module_reads():
    # The derivation itself: a parser that found nothing would pass above.
    assert required_by("storage") >= {"DATABASE__STORAGE_URL", "BLOB__BACKEND", "BLOB__S3_BUCKET", "KEYS__PROVIDER"}
    assert required_by("metadata") >= {"DATABASE__METADATA_URL", "KEYS__PROVIDER"}
    assert required_by("ingestion") >= {"DATABASE__INGESTION_URL", "STORAGE_URL"}
    assert required_by("gateway") >= {"STORAGE_URL", "DISCLOSURE_URL"}
    assert required_by("disclosure") >= {
        "DATABASE__DISCLOSURE_URL",
        "STORAGE_URL",
        "BLOB__BACKEND",
        "BLOB__S3_BUCKET",
        "KEYS__PROVIDER",
    }
    # billing: its database and the bus (required everywhere), nothing else.
    assert required_by("billing") == {"DATABASE__BILLING_URL"}
    # webhooks: its database (its seal comes from secrets.pii, required everywhere).
    assert required_by("webhooks") == {"DATABASE__WEBHOOKS_URL"}


def config_default(struct, field):
    """The default of a configuration key: the value its serde default
    function (`#[serde(default = "…")]`) returns, an integer literal."""
    raw = "".join(path.read_text() for path in CONFIG_FILES)
    body = block_after(raw, rf"pub struct {struct}\b")
    found = re.search(rf'default\s*=\s*"(\w+)"[^\]]*\]\s*(?:#\[[^\]]*\]\s*)*pub {field}:', body)
    assert found, f"{struct}.{field} has no serde default function"
    function = block_after(raw, rf"fn {found.group(1)}\(\)")
    literal = re.fullmatch(r"\{\s*([0-9_]+)\s*\}", function)
    assert literal, f"{found.group(1)} returns no integer literal: {function}"
    return int(literal.group(1).replace("_", ""))


def test_the_charts_billing_settings_default_to_the_binarys():
    # The chart always sets them, so a chart default that differs from the
    # binary's would silently change the behaviour of every release.
    import yaml

    from conftest import CHART

    values = yaml.safe_load((CHART / "values.yaml").read_text())["billing"]
    struct = config_structs()["Config"]["billing"]
    assert values["timerIntervalSecs"] == config_default(struct, "timer_interval_secs") == 60
    assert values["graceHours"] == config_default(struct, "grace_hours") == 72


def test_the_charts_webhooks_settings_default_to_the_binarys():
    import yaml

    from conftest import CHART

    values = yaml.safe_load((CHART / "values.yaml").read_text())["webhooks"]
    struct = config_structs()["Config"]["webhooks"]
    assert values["workerIntervalSecs"] == config_default(struct, "worker_interval_secs") == 1
    assert values["perEndpointConcurrency"] == config_default(struct, "per_endpoint_concurrency") == 4
    assert values["allowNetworks"] == []


def binary_targets():
    """The targets `callvault serve --target` takes, from the `Target` enum
    and its names, less `all`."""
    main = production_source(SRC / "main.rs")
    variants = re.findall(r"\b(\w+),", block_after(main, r"pub enum Target\b"))
    raw = (SRC / "main.rs").read_text()
    names = dict(re.findall(r'Target::(\w+) => "([a-z]+)"', raw))
    assert variants and set(variants) == set(names), (variants, names)
    return {names[v] for v in variants} - {"all"}


def test_the_chart_knows_every_target_of_the_binary():
    import yaml

    from conftest import CHART

    chart = set(yaml.safe_load((CHART / "values.yaml").read_text())["targets"])
    binary = binary_targets()
    assert {"disclosure", "billing"} <= binary
    assert chart == binary, f"only in the binary: {sorted(binary - chart)}; only in the chart: {sorted(chart - binary)}"
    assert {"AUTH__HS256_SECRET", "SECRETS__PII", "BUS__KIND", "BUS__URL"} <= required_everywhere()


def binary():
    path = os.environ.get("CALLVAULT_BIN") or str(
        Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target")) / "debug" / "callvault"
    )
    assert Path(path).exists(), f"no callvault binary at {path}: build it first (cargo build -p callvault)"
    return path


def runnable_env(env, secret, config_map, tmp_path):
    """A container's environment as the process would see it: the secret
    files and the configuration file written under tmp_path, secretKeyRef
    variables resolved."""
    import base64

    tmp_path.mkdir(parents=True, exist_ok=True)
    (tmp_path / "callvault.toml").write_text(config_map["data"]["callvault.toml"])
    files = tmp_path / "secrets"
    files.mkdir(exist_ok=True)
    for key, value in (secret or {"data": {}})["data"].items():
        (files / key).write_bytes(base64.b64decode(value))
    out = {"PATH": os.environ["PATH"]}
    for name, entry in env.items():
        if "valueFrom" in entry:
            key = entry["valueFrom"]["secretKeyRef"]["key"]
            out[name] = base64.b64decode(secret["data"][key]).decode()
        else:
            out[name] = (
                entry["value"]
                .replace("/run/secrets/callvault", str(files))
                .replace("/etc/callvault", str(tmp_path))
            )
    out["CALLVAULT_DATA_DIR"] = str(tmp_path / "data")
    return out


@pytest.mark.parametrize("value_set", ["defaults", "distributed-aws", "grouped", "embedded"])
def test_the_binary_accepts_each_processs_environment(value_set, tmp_path):
    from conftest import TESTS, kind_named

    docs = documents(load_values(TESTS / "values" / f"{value_set}.yaml"))
    # The embedded mode has no Secret: the process generates its own.
    secret = kind_named(docs, "Secret", "cv-callvault-secrets") if value_set != "embedded" else None
    config_map = kind_named(docs, "ConfigMap", "cv-callvault-config")
    checked = 0
    for doc, container in containers(docs):
        env = runnable_env({e["name"]: e for e in container["env"]}, secret, config_map, tmp_path)
        # `admin token` loads the whole configuration (unknown keys are
        # refused with exit code 2) and reads the secret files.
        run = subprocess.run([binary(), "admin", "token"], env=env, capture_output=True, text=True, timeout=60)
        assert run.returncode == 0, f"{doc['metadata']['name']}: {run.stderr}"
        checked += 1
    assert checked >= 1


def test_the_binary_refuses_a_variable_it_does_not_read(tmp_path):
    env = {"PATH": os.environ["PATH"], "CALLVAULT_DATA_DIR": str(tmp_path), "CALLVAULT_BLOB__S3_BUKET": "x"}
    run = subprocess.run([binary(), "admin", "token"], env=env, capture_output=True, text=True, timeout=60)
    assert run.returncode == 2 and "s3_buket" in run.stderr, run.stderr
