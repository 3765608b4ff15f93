"""The Helm chart: renders for every value set in values/, passes
`helm lint --strict`, matches its snapshot, validates strictly against the
Kubernetes schemas of two minor versions, and refuses every file of
bad-values/ through values.schema.json."""

import base64
import copy
import os
import re
from pathlib import Path

import kubernetes_validate
import pytest
import yaml

import helm_python as helm

from conftest import CHART, TESTS, documents, kind_named, load_values, render

# Two minor versions the chart supports (EKS standard support at the time
# of writing); kubernetes-validate ships their OpenAPI schemas.
KUBERNETES_VERSIONS = ["1.33", "1.36"]
# Custom resources: the Prometheus Operator's CRD is not a Kubernetes schema.
CUSTOM_KINDS = {"ServiceMonitor"}
SNAPSHOTS = TESTS / "snapshots"
BAD_VALUES = sorted((TESTS / "bad-values").glob("*.yaml"))
# The default targets, sorted: every target of the binary but `all`
# (test_drift.py checks this list against the binary's `Target`).
TARGETS = ["billing", "disclosure", "gateway", "ingestion", "metadata", "storage", "webhooks"]


def snapshot_text(values):
    """The rendered objects with what changes on every render (generated
    secrets) replaced by a placeholder naming its length."""
    out = []
    for path, text in render(values).items():
        for doc in yaml.safe_load_all(text):
            if not doc:
                continue
            if doc["kind"] == "Secret":
                doc["data"] = {
                    key: f"<{len(base64.b64decode(value))} bytes>"
                    for key, value in doc.get("data", {}).items()
                }
            out.append(f"# {path}\n" + yaml.safe_dump(doc, sort_keys=False))
    return "---\n".join(out)


def test_every_value_set_matches_its_snapshot(value_set):
    actual = snapshot_text(load_values(value_set))
    snapshot = SNAPSHOTS / f"{value_set.stem}.yaml"
    if os.environ.get("UPDATE_SNAPSHOTS") == "1":
        snapshot.write_text(actual)
    assert snapshot.exists(), f"no snapshot: run with UPDATE_SNAPSHOTS=1"
    assert actual == snapshot.read_text(), (
        f"{value_set.name} renders differently from {snapshot}: review the change, "
        "then UPDATE_SNAPSHOTS=1 scripts/test-deploy"
    )


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
def test_helm_lint_strict(value_set, version):
    report = helm.lint(
        CHART, load_values(value_set), strict=True, namespace="callvault", kube_version=f"v{version}.0"
    )
    assert report["total_charts_linted"] == 1
    problems = [m for m in report["messages"] if m["severity"] >= 2] + report["errors"]
    assert not problems, problems


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
def test_valid_against_kubernetes_schemas(value_set, version):
    checked = 0
    for doc in documents(load_values(value_set)):
        if doc["kind"] in CUSTOM_KINDS:
            continue
        # strict: an unknown field is an error, as kubeconform -strict.
        kubernetes_validate.validate(doc, version, strict=True)
        checked += 1
    assert checked > 0


@pytest.mark.parametrize("bad", BAD_VALUES, ids=lambda p: p.stem)
def test_schema_refuses_bad_values(bad):
    expected = re.search(r"^# expect: (.+)$", bad.read_text(), re.M).group(1)
    with pytest.raises(helm.HelmValuesError) as refused:
        render(load_values(bad))
    assert "values don't meet the specifications of the schema" in str(refused.value)
    assert expected in str(refused.value)


def pod_specs(docs):
    for doc in docs:
        kind = doc["kind"]
        if kind in ("Deployment", "StatefulSet", "Job"):
            yield doc["metadata"]["name"], doc["spec"]["template"]["spec"]
        elif kind == "Pod":
            yield doc["metadata"]["name"], doc["spec"]


def test_every_pod_is_hardened(value_set):
    specs = list(pod_specs(documents(load_values(value_set))))
    assert specs
    for name, spec in specs:
        assert spec["automountServiceAccountToken"] is False, name
        assert spec["securityContext"]["runAsNonRoot"] is True, name
        assert spec["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault", name
        for container in spec["containers"]:
            context = container["securityContext"]
            assert context["readOnlyRootFilesystem"] is True, name
            assert context["allowPrivilegeEscalation"] is False, name
            assert context["capabilities"]["drop"] == ["ALL"], name
            assert "resources" in container, name


def deployments(docs):
    return {d["metadata"]["name"]: d for d in docs if d["kind"] == "Deployment"}


def env_of(doc):
    return {e["name"]: e for e in doc["spec"]["template"]["spec"]["containers"][0]["env"]}


def test_distributed_runs_one_deployment_per_target_with_its_companions():
    docs = documents({})
    found = deployments(docs)
    assert sorted(found) == [f"cv-callvault-{t}" for t in TARGETS]
    for name, doc in found.items():
        target = name.removeprefix("cv-callvault-")
        container = doc["spec"]["template"]["spec"]["containers"][0]
        assert container["args"] == ["serve", "--target", target]
        assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
        assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
        for kind in ("Service", "ServiceAccount", "PodDisruptionBudget", "NetworkPolicy"):
            kind_named(docs, kind, name)
        assert doc["spec"]["template"]["spec"]["topologySpreadConstraints"]


def test_adding_a_target_is_one_entry_in_values():
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    analytics = copy.deepcopy(values["targets"]["metadata"])
    analytics["ingressPaths"] = ["/v1/analytics"]
    docs = documents({"targets": {"analytics": analytics}, "ingress": {"enabled": True}})
    deployment = kind_named(docs, "Deployment", "cv-callvault-analytics")
    assert deployment["spec"]["template"]["spec"]["containers"][0]["args"][-1] == "analytics"
    assert env_of(deployment)["CALLVAULT_DATABASE__ANALYTICS_URL"]["valueFrom"]
    for kind in ("Service", "ServiceAccount", "PodDisruptionBudget", "NetworkPolicy"):
        kind_named(docs, kind, "cv-callvault-analytics")
    secret = kind_named(docs, "Secret", "cv-callvault-secrets")
    assert "database-analytics-url" in secret["data"]
    ingress = kind_named(docs, "Ingress", "cv-callvault")
    paths = {p["path"]: p["backend"]["service"]["name"] for p in ingress["spec"]["rules"][0]["http"]["paths"]}
    assert paths["/v1/analytics"] == "cv-callvault-analytics"
    migrate = kind_named(docs, "Job", "cv-callvault-migrate")
    names = [e["name"] for e in migrate["spec"]["template"]["spec"]["containers"][0]["env"]]
    assert "CALLVAULT_DATABASE__ANALYTICS_URL" in names


def test_disclosure_runs_with_its_database_the_bucket_the_keys_and_storage_inside_the_cluster():
    docs = documents(load_values(TESTS / "values" / "distributed-aws.yaml"))
    env = env_of(kind_named(docs, "Deployment", "cv-callvault-disclosure"))
    ref = env["CALLVAULT_DATABASE__DISCLOSURE_URL"]["valueFrom"]["secretKeyRef"]
    assert ref == {"name": "cv-callvault-secrets", "key": "database-disclosure-url"}
    assert env["CALLVAULT_BLOB__BACKEND"]["value"] == "s3"
    assert env["CALLVAULT_BLOB__S3_BUCKET"]["value"] == "acme-callvault-recordings"
    assert env["CALLVAULT_KEYS__PROVIDER"]["value"] == "kms"
    # Audio is read with signed playback URLs from the storage Service.
    assert env["CALLVAULT_STORAGE_URL"]["value"] == "http://cv-callvault-storage:8080"
    # It builds no links: only the gateway needs the bundles' public base.
    assert "CALLVAULT_DISCLOSURE_URL" not in env
    assert not {"CALLVAULT_AUTH__ISSUER", "CALLVAULT_AUTH__JWKS_URL"} & set(env)
    secret = kind_named(documents({}), "Secret", "cv-callvault-secrets")
    assert "database-disclosure-url" in secret["data"]
    migrate = kind_named(docs, "Job", "cv-callvault-migrate")
    names = [e["name"] for e in migrate["spec"]["template"]["spec"]["containers"][0]["env"]]
    assert "CALLVAULT_DATABASE__DISCLOSURE_URL" in names


def test_the_gateway_builds_bundle_links_on_the_public_url():
    docs = documents(load_values(TESTS / "values" / "distributed-aws.yaml"))
    for name, doc in deployments(docs).items():
        env = env_of(doc)
        if name == "cv-callvault-gateway":
            assert env["CALLVAULT_DISCLOSURE_URL"]["value"] == "https://calls.example.com"
        else:
            assert "CALLVAULT_DISCLOSURE_URL" not in env, name
    # Without publicUrl, the Ingress host is the public base.
    env = env_of(kind_named(documents({}), "Deployment", "cv-callvault-gateway"))
    assert env["CALLVAULT_DISCLOSURE_URL"]["value"] == "https://calls.example.com"


def test_the_embedded_mode_keeps_the_disclosure_database_on_its_volume():
    docs = documents(load_values(TESTS / "values" / "embedded.yaml"))
    sts = kind_named(docs, "StatefulSet", "cv-callvault-embedded")
    env = {e["name"] for e in sts["spec"]["template"]["spec"]["containers"][0]["env"]}
    # SQLite under CALLVAULT_DATA_DIR, as every service's database there;
    # one process serves the bundles itself (disclosure_url = public_url).
    assert "CALLVAULT_DATA_DIR" in env
    assert not {e for e in env if e.startswith("CALLVAULT_DATABASE__")}
    assert "CALLVAULT_DISCLOSURE_URL" not in env


def test_billing_runs_with_its_database_and_the_broker_only():
    docs = documents(load_values(TESTS / "values" / "distributed-aws.yaml"))
    env = env_of(kind_named(docs, "Deployment", "cv-callvault-billing"))
    ref = env["CALLVAULT_DATABASE__BILLING_URL"]["valueFrom"]["secretKeyRef"]
    assert ref == {"name": "cv-callvault-secrets", "key": "database-billing-url"}
    assert env["CALLVAULT_BUS__KIND"]["value"] == "rabbitmq"
    assert env["CALLVAULT_BUS__URL_FILE"]["value"] == "/run/secrets/callvault/bus-url"
    # No bucket, no key provider, no storage or bundle URLs, no token checks:
    # GraphQL reaches it through the gateway over the bus.
    assert not [
        name
        for name in env
        if name.startswith(("CALLVAULT_BLOB__", "CALLVAULT_KEYS__", "CALLVAULT_AUTH__ISSUER", "CALLVAULT_AUTH__JWKS"))
        or name in ("CALLVAULT_STORAGE_URL", "CALLVAULT_DISCLOSURE_URL")
    ], sorted(env)
    assert [name for name in env if name.startswith("CALLVAULT_DATABASE__")] == ["CALLVAULT_DATABASE__BILLING_URL"]
    assert env["CALLVAULT_BILLING__TIMER_INTERVAL_SECS"]["value"] == "300"
    assert env["CALLVAULT_BILLING__GRACE_HOURS"]["value"] == "96"
    secret = kind_named(documents({}), "Secret", "cv-callvault-secrets")
    assert "database-billing-url" in secret["data"]
    migrate = kind_named(docs, "Job", "cv-callvault-migrate")
    names = [e["name"] for e in migrate["spec"]["template"]["spec"]["containers"][0]["env"]]
    assert "CALLVAULT_DATABASE__BILLING_URL" in names


def billing_settings(env):
    return {
        name: entry["value"]
        for name, entry in env.items()
        if name in ("CALLVAULT_BILLING__TIMER_INTERVAL_SECS", "CALLVAULT_BILLING__GRACE_HOURS")
    }


def test_billings_settings_reach_only_the_process_that_runs_billing():
    # The chart's defaults, which are the binary's (test_drift.py).
    found = deployments(documents({}))
    assert billing_settings(env_of(found["cv-callvault-billing"])) == {
        "CALLVAULT_BILLING__TIMER_INTERVAL_SECS": "60",
        "CALLVAULT_BILLING__GRACE_HOURS": "72",
    }
    for name, doc in found.items():
        if name != "cv-callvault-billing":
            assert not billing_settings(env_of(doc)), name
    # Set in values, as integers (a large one is not written as 1e+06).
    docs = documents({"billing": {"timerIntervalSecs": 1000000, "graceHours": 0}})
    assert billing_settings(env_of(kind_named(docs, "Deployment", "cv-callvault-billing"))) == {
        "CALLVAULT_BILLING__TIMER_INTERVAL_SECS": "1000000",
        "CALLVAULT_BILLING__GRACE_HOURS": "0",
    }
    # A group running billing gets them too.
    docs = documents({"groups": [{"name": "control", "targets": ["metadata", "billing"]}]})
    env = env_of(kind_named(docs, "Deployment", "cv-callvault-control"))
    assert len(billing_settings(env)) == 2
    assert {"CALLVAULT_DATABASE__METADATA_URL", "CALLVAULT_DATABASE__BILLING_URL"} <= set(env)


def test_the_embedded_mode_runs_billing_with_its_settings_and_its_database_on_the_volume():
    docs = documents(load_values(TESTS / "values" / "embedded.yaml"))
    sts = kind_named(docs, "StatefulSet", "cv-callvault-embedded")
    env = {e["name"]: e for e in sts["spec"]["template"]["spec"]["containers"][0]["env"]}
    # billing.db under CALLVAULT_DATA_DIR, as every service's SQLite file.
    assert "CALLVAULT_DATA_DIR" in env
    assert not {e for e in env if e.startswith("CALLVAULT_DATABASE__")}
    assert billing_settings(env) == {
        "CALLVAULT_BILLING__TIMER_INTERVAL_SECS": "60",
        "CALLVAULT_BILLING__GRACE_HOURS": "72",
    }


def webhooks_settings(env):
    return {name: entry["value"] for name, entry in env.items() if name.startswith("CALLVAULT_WEBHOOKS__")}


def test_webhooks_runs_with_its_database_its_settings_and_public_egress_only():
    docs = documents(load_values(TESTS / "values" / "distributed-aws.yaml"))
    found = deployments(docs)
    env = env_of(found["cv-callvault-webhooks"])
    ref = env["CALLVAULT_DATABASE__WEBHOOKS_URL"]["valueFrom"]["secretKeyRef"]
    assert ref == {"name": "cv-callvault-secrets", "key": "database-webhooks-url"}
    # Its seal is derived from secrets.pii, which every process gets.
    assert env["CALLVAULT_SECRETS__PII_FILE"]["value"] == "/run/secrets/callvault/pii"
    assert not [name for name in env if name.startswith(("CALLVAULT_BLOB__", "CALLVAULT_KEYS__"))], sorted(env)
    assert webhooks_settings(env) == {
        "CALLVAULT_WEBHOOKS__WORKER_INTERVAL_SECS": "1",
        "CALLVAULT_WEBHOOKS__PER_ENDPOINT_CONCURRENCY": "4",
    }
    for name, doc in found.items():
        if name != "cv-callvault-webhooks":
            assert not webhooks_settings(env_of(doc)), name
    assert "database-webhooks-url" in kind_named(documents({}), "Secret", "cv-callvault-secrets")["data"]
    docs = documents({"webhooks": {"workerIntervalSecs": 5, "perEndpointConcurrency": 2,
                                   "allowNetworks": ["10.20.0.0/16", "192.168.7.7"]}})
    assert webhooks_settings(env_of(kind_named(docs, "Deployment", "cv-callvault-webhooks"))) == {
        "CALLVAULT_WEBHOOKS__WORKER_INTERVAL_SECS": "5",
        "CALLVAULT_WEBHOOKS__PER_ENDPOINT_CONCURRENCY": "2",
        "CALLVAULT_WEBHOOKS__ALLOW_NETWORKS": "10.20.0.0/16,192.168.7.7",
    }
    # Deliveries: ports 80 and 443 anywhere but the non-public networks
    # the service refuses too; no other target gets that rule.
    policy = kind_named(load_docs_aws(), "NetworkPolicy", "cv-callvault-webhooks")
    public = [peer["ipBlock"] for rule in policy["spec"]["egress"] for peer in rule["to"]
              if peer.get("ipBlock", {}).get("cidr") == "0.0.0.0/0"]
    assert len(public) == 1
    assert {"10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "169.254.0.0/16", "127.0.0.0/8"} <= set(public[0]["except"])
    for name in ("billing", "gateway", "ingestion", "metadata", "storage", "disclosure"):
        other = kind_named(load_docs_aws(), "NetworkPolicy", f"cv-callvault-{name}")
        assert not [peer for rule in other["spec"]["egress"] for peer in rule["to"]
                    if peer.get("ipBlock", {}).get("cidr") == "0.0.0.0/0"], name


def load_docs_aws():
    return documents(load_values(TESTS / "values" / "distributed-aws.yaml"))


def test_groups_run_targets_in_one_process():
    docs = documents(load_values(TESTS / "values" / "grouped.yaml"))
    found = deployments(docs)
    # A target no group names runs on its own, next to the groups.
    assert sorted(found) == [
        "cv-callvault-billing",
        "cv-callvault-control",
        "cv-callvault-disclosure",
        "cv-callvault-ingest-store",
        "cv-callvault-webhooks",
    ]
    args = found["cv-callvault-ingest-store"]["spec"]["template"]["spec"]["containers"][0]["args"]
    assert args == ["serve", "--target", "ingestion,storage"]
    env = env_of(found["cv-callvault-ingest-store"])
    assert {"CALLVAULT_DATABASE__INGESTION_URL", "CALLVAULT_DATABASE__STORAGE_URL"} <= set(env)


@pytest.mark.parametrize("internal", ["ingestion", "disclosure"])
def test_a_group_that_needs_two_storage_urls_is_refused(internal):
    with pytest.raises(helm.HelmError) as refused:
        render({"groups": [{"name": "edge", "targets": [internal, "gateway"]}]})
    assert "storage URL both inside the cluster and public" in str(refused.value)


def test_disclosure_grouped_with_storage_reads_audio_in_process():
    docs = documents({"groups": [{"name": "vault", "targets": ["storage", "disclosure"]}]})
    env = env_of(kind_named(docs, "Deployment", "cv-callvault-vault"))
    assert {"CALLVAULT_DATABASE__STORAGE_URL", "CALLVAULT_DATABASE__DISCLOSURE_URL"} <= set(env)
    storage = kind_named(docs, "NetworkPolicy", "cv-callvault-vault")
    callers = [
        peer["podSelector"]["matchLabels"]["app.kubernetes.io/component"]
        for rule in storage["spec"]["ingress"]
        for peer in rule["from"]
        if "podSelector" in peer
    ]
    assert sorted(callers) == ["ingestion", "test"]


def test_ingestion_without_storage_is_refused():
    with pytest.raises(helm.HelmError) as refused:
        render({"targets": {"storage": {"enabled": False}}})
    assert "which no process runs: enable targets.storage" in str(refused.value)


def test_a_group_naming_an_unknown_target_is_refused():
    with pytest.raises(helm.HelmError) as refused:
        render({"groups": [{"name": "edge", "targets": ["ingestion", "analytics"]}]})
    assert '"analytics" is not a target' in str(refused.value)


def test_ingress_routes_only_the_clients_routes():
    docs = documents(load_values(TESTS / "values" / "distributed-aws.yaml"))
    ingress = kind_named(docs, "Ingress", "cv-callvault")
    assert ingress["spec"]["ingressClassName"] == "alb"
    paths = {p["path"]: p["backend"]["service"]["name"] for p in ingress["spec"]["rules"][0]["http"]["paths"]}
    assert paths == {
        "/graphql": "cv-callvault-gateway",
        "/v1/recordings": "cv-callvault-ingestion",
        "/v1/uploads": "cv-callvault-ingestion",
        "/v1/playback": "cv-callvault-storage",
        "/v1/disclosure/bundles": "cv-callvault-disclosure",
    }
    # billing has no route of its own: the gateway reaches it over the bus.
    assert "cv-callvault-billing" not in paths.values()


def test_network_policies_let_each_target_out_only_to_what_it_needs():
    docs = documents(load_values(TESTS / "values" / "distributed-aws.yaml"))

    def egress_ports(name):
        policy = kind_named(docs, "NetworkPolicy", f"cv-callvault-{name}")
        return {p["port"] for rule in policy["spec"]["egress"] for p in rule["ports"]}

    assert egress_ports("gateway") == {53, 5671, 5672, 443, 4317}  # JWKS over HTTPS
    assert egress_ports("ingestion") == {53, 5671, 5672, 5432, "http", 4317}
    assert egress_ports("storage") == {53, 5671, 5672, 5432, 443, 4317}
    assert egress_ports("metadata") == {53, 5671, 5672, 5432, 443, 4317}
    # The bucket and KMS, its database, the broker (metadata) and storage's HTTP (audio).
    assert egress_ports("disclosure") == {53, 5671, 5672, 5432, 443, "http", 4317}
    # Its database and the broker: no S3, no KMS (443), no storage (http).
    assert egress_ports("billing") == {53, 5671, 5672, 5432, 4317}
    # Its database, the broker, and HTTP(S) to tenants' endpoints.
    assert egress_ports("webhooks") == {53, 5671, 5672, 5432, 80, 443, 4317}
    disclosure = kind_named(docs, "NetworkPolicy", "cv-callvault-disclosure")
    to_storage = [
        peer["podSelector"]["matchLabels"]["app.kubernetes.io/component"]
        for rule in disclosure["spec"]["egress"]
        for peer in rule["to"]
        if "podSelector" in peer
    ]
    assert to_storage == ["storage"]
    storage = kind_named(docs, "NetworkPolicy", "cv-callvault-storage")
    callers = [
        peer["podSelector"]["matchLabels"]["app.kubernetes.io/component"]
        for rule in storage["spec"]["ingress"]
        for peer in rule["from"]
        if "podSelector" in peer
    ]
    assert sorted(callers) == ["disclosure", "ingestion", "test"]

    def ingress_namespaces(name):
        policy = kind_named(docs, "NetworkPolicy", f"cv-callvault-{name}")
        return sorted(
            peer["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"]
            for rule in policy["spec"]["ingress"]
            for peer in rule["from"]
            if "namespaceSelector" in peer
        )

    assert ingress_namespaces("metadata") == ["monitoring"], "metadata has no route through the Ingress"
    # Bundle downloads come through the Ingress; no other target calls disclosure's HTTP.
    assert ingress_namespaces("disclosure") == ["ingress-nginx", "monitoring"]
    pods = [
        peer["podSelector"]["matchLabels"]["app.kubernetes.io/component"]
        for rule in disclosure["spec"]["ingress"]
        for peer in rule["from"]
        if "podSelector" in peer
    ]
    assert pods == ["test"]
    # billing: Prometheus and the `helm test` pod only, on the health/metrics port.
    assert ingress_namespaces("billing") == ["monitoring"]
    billing = kind_named(docs, "NetworkPolicy", "cv-callvault-billing")
    assert [p["podSelector"]["matchLabels"]["app.kubernetes.io/component"]
            for rule in billing["spec"]["ingress"] for p in rule["from"] if "podSelector" in p] == ["test"]
    assert {p["port"] for rule in billing["spec"]["ingress"] for p in rule["ports"]} == {"http"}
    assert not [p for rule in billing["spec"]["egress"] for p in rule["to"] if "podSelector" in p]


@pytest.mark.parametrize("target", ["storage", "metadata", "disclosure"])
def test_irsa_role_annotations_reach_the_service_accounts(target):
    docs = documents(load_values(TESTS / "values" / "distributed-aws.yaml"))
    account = kind_named(docs, "ServiceAccount", f"cv-callvault-{target}")
    assert account["metadata"]["annotations"]["eks.amazonaws.com/role-arn"].endswith(f"callvault-prod-{target}")
    assert account["automountServiceAccountToken"] is False


@pytest.mark.parametrize("target", ["billing", "gateway", "ingestion", "webhooks"])
def test_targets_that_call_no_aws_get_no_irsa_role(target):
    docs = documents(load_values(TESTS / "values" / "distributed-aws.yaml"))
    account = kind_named(docs, "ServiceAccount", f"cv-callvault-{target}")
    assert "eks.amazonaws.com/role-arn" not in (account["metadata"].get("annotations") or {})
    assert account["automountServiceAccountToken"] is False


def test_secrets_are_files_and_an_existing_secret_replaces_the_charts():
    docs = documents(load_values(TESTS / "values" / "existing-secret.yaml"))
    assert not [d for d in docs if d["kind"] == "Secret"]
    storage = kind_named(docs, "Deployment", "cv-callvault-storage")
    env = env_of(storage)
    assert env["CALLVAULT_SECRETS__PII_FILE"]["value"] == "/run/secrets/callvault/pii"
    assert env["CALLVAULT_BUS__URL_FILE"]["value"] == "/run/secrets/callvault/bus-url"
    volumes = {v["name"]: v for v in storage["spec"]["template"]["spec"]["volumes"]}
    assert volumes["secrets"]["secret"]["secretName"] == "callvault-prod-secrets"
    ref = env["CALLVAULT_DATABASE__STORAGE_URL"]["valueFrom"]["secretKeyRef"]
    assert ref == {"name": "callvault-prod-secrets", "key": "database-storage-url"}


def test_given_secrets_are_kept_and_missing_ones_generated():
    secret = "p" * 40
    docs = documents({"secrets": {"pii": secret, "busUrl": "amqps://u:p@mq:5671/%2f"}})
    made = kind_named(docs, "Secret", "cv-callvault-secrets")
    assert base64.b64decode(made["data"]["pii"]).decode() == secret
    assert base64.b64decode(made["data"]["bus-url"]).decode() == "amqps://u:p@mq:5671/%2f"
    assert len(base64.b64decode(made["data"]["url-signing"])) >= 32
    assert made["metadata"]["annotations"]["helm.sh/hook"] == "pre-install,pre-upgrade"


def test_migrations_run_first_as_a_hook():
    docs = documents({})
    job = kind_named(docs, "Job", "cv-callvault-migrate")
    annotations = job["metadata"]["annotations"]
    assert annotations["helm.sh/hook"] == "pre-install,pre-upgrade"
    secret = kind_named(docs, "Secret", "cv-callvault-secrets")
    assert int(secret["metadata"]["annotations"]["helm.sh/hook-weight"]) < int(annotations["helm.sh/hook-weight"])
    assert job["spec"]["template"]["spec"]["containers"][0]["args"] == ["migrate"]


def test_embedded_mode_is_one_statefulset_with_a_volume():
    docs = documents(load_values(TESTS / "values" / "embedded.yaml"))
    assert not [d for d in docs if d["kind"] in ("Deployment", "Job", "Secret")]
    sts = kind_named(docs, "StatefulSet", "cv-callvault-embedded")
    assert sts["spec"]["replicas"] == 1
    assert sts["spec"]["volumeClaimTemplates"][0]["spec"]["resources"]["requests"]["storage"] == "200Gi"
    container = sts["spec"]["template"]["spec"]["containers"][0]
    assert container["args"] == ["serve", "--target", "all"]
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env["CALLVAULT_BLOB__BACKEND"] == "fs" and env["CALLVAULT_KEYS__PROVIDER"] == "local"
    assert "CALLVAULT_BUS__KIND" not in env, "one process: the in-process bus"


def test_helm_test_checks_every_targets_readyz():
    docs = documents({})
    pod = kind_named(docs, "Pod", "cv-callvault-test-readyz")
    assert pod["metadata"]["annotations"]["helm.sh/hook"] == "test"
    urls = [a for a in pod["spec"]["containers"][0]["args"] if a.startswith("http")]
    assert sorted(urls) == [f"http://cv-callvault-{t}:8080/readyz" for t in TARGETS]


def test_service_monitor_scrapes_metrics():
    docs = documents(load_values(TESTS / "values" / "distributed-aws.yaml"))
    monitor = kind_named(docs, "ServiceMonitor", "cv-callvault")
    assert monitor["spec"]["endpoints"] == [{"port": "http", "path": "/metrics", "interval": "30s"}]
    assert monitor["metadata"]["labels"]["release"] == "kube-prometheus-stack"
    selector = monitor["spec"]["selector"]["matchLabels"]
    services = [d for d in docs if d["kind"] == "Service"]
    assert services and all(selector.items() <= d["metadata"]["labels"].items() for d in services)


def test_readme_values_table_is_generated_from_values_comments(tmp_path):
    # The values table is the generator's output: a value without its
    # `## @param` comment, or a README not regenerated, fails here.
    import shutil
    import subprocess

    generator = os.environ.get("README_GENERATOR", "readme-generator")
    readme = tmp_path / "README.md"
    shutil.copy(CHART / "README.md", readme)
    run = subprocess.run([generator, "-v", str(CHART / "values.yaml"), "-r", str(readme)],
                         capture_output=True, text=True)
    assert run.returncode == 0 and "Metadata is correct" in run.stdout, run.stdout + run.stderr
    assert readme.read_text() == (CHART / "README.md").read_text(), (
        "charts/callvault/README.md is stale: run readme-generator -v charts/callvault/values.yaml "
        "-r charts/callvault/README.md"
    )


def test_a_target_can_be_recreated_instead_of_rolled():
    docs = documents({"targets": {"metadata": {"strategy": "Recreate"}}})
    assert kind_named(docs, "Deployment", "cv-callvault-metadata")["spec"]["strategy"] == {"type": "Recreate"}
    rolled = kind_named(docs, "Deployment", "cv-callvault-storage")["spec"]["strategy"]
    assert rolled["type"] == "RollingUpdate" and rolled["rollingUpdate"]["maxUnavailable"] == 0
