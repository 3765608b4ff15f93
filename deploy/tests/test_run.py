"""The chart's distributed mode, run for real: `callvault migrate` with the
migration Job's environment, then one process per Deployment with that
Deployment's environment exactly as rendered, against this machine's
PostgreSQL and RabbitMQ and a moto S3/KMS, until every `/readyz` answers
200. Only what a cluster provides is replaced: the Secret's files (written
to a temporary directory), the pod's address (a free loopback port), the
Service names (loopback addresses) and IRSA (moto's test credentials). The
embedded StatefulSet's environment runs the same way, on its own."""

import os
import secrets
import signal
import socket
import subprocess
import time
import urllib.request

import pytest

from conftest import documents, kind_named
from test_drift import binary, containers, runnable_env

PG = ("127.0.0.1", 5432)
RABBITMQ = ("127.0.0.1", 5672)


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def reachable(address):
    try:
        socket.create_connection(address, timeout=3).close()
        return True
    except OSError:
        return False


@pytest.fixture
def moto():
    server = os.environ.get("MOTO_SERVER") or os.path.expanduser("~/.cache/callvault-venv/bin/moto_server")
    port = free_port()
    child = subprocess.Popen([server, "-H", "127.0.0.1", "-p", str(port)],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 30
    while not reachable(("127.0.0.1", port)):
        assert child.poll() is None and time.time() < deadline, "moto did not start"
        time.sleep(0.1)
    yield f"http://127.0.0.1:{port}"
    child.kill()
    child.wait()


@pytest.fixture
def databases():
    for name, address in (("PostgreSQL", PG), ("RabbitMQ", RABBITMQ)):
        assert reachable(address), f"{name} is not running on {address[0]}:{address[1]}"
    suffix = secrets.token_hex(4)
    services = ("storage", "metadata", "disclosure", "billing", "webhooks", "ingestion")
    names = {service: f"cvdeploy_{suffix}_{service}" for service in services}
    for name in names.values():
        subprocess.run(["createdb", "-h", PG[0], "-U", "postgres", name], check=True)
    yield {s: f"postgres://postgres@{PG[0]}:{PG[1]}/{n}" for s, n in names.items()}
    for name in names.values():
        subprocess.run(["dropdb", "-h", PG[0], "-U", "postgres", "--force", name], check=False)


def delete_broker_topology(prefix):
    """Removes the run's queues and exchanges from the machine's shared
    broker (durable, they would outlive the test otherwise)."""
    script = f"""
        P = <<"{prefix}">>,
        Match = fun(N) -> binary:longest_common_prefix([N, P]) =:= byte_size(P) end,
        Qs = [rabbit_amqqueue:delete(Q, false, false, <<"cli">>) || Q <- rabbit_amqqueue:list(<<"/">>),
              Match(element(4, amqqueue:get_name(Q)))],
        Xs = [rabbit_exchange:delete(element(2, X), false, <<"cli">>) || X <- rabbit_exchange:list(<<"/">>),
              Match(element(4, element(2, X)))],
        {{length(Qs), length(Xs)}}."""
    run = subprocess.run(["rabbitmqctl", "eval", script], capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, f"cannot remove the test's broker topology: {run.stdout}{run.stderr}"


def ready(port):
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


def test_every_deployment_becomes_ready_with_its_rendered_environment(tmp_path, moto, databases):
    bucket = f"cvdeploy-{secrets.token_hex(4)}"
    prefix = f"cvdeploy-{secrets.token_hex(4)}-"
    urllib.request.urlopen(urllib.request.Request(f"{moto}/{bucket}", method="PUT")).close()
    values = {
        "publicUrl": "http://127.0.0.1:9",
        "blob": {"s3Bucket": bucket, "s3Region": "us-east-1", "s3Endpoint": moto},
        "keys": {"kmsRegion": "us-east-1", "kmsEndpoint": moto},
        "bus": {"namePrefix": prefix},
        "secrets": {"busUrl": "amqp://guest:guest@127.0.0.1:5672/%2f", "databaseUrls": databases},
    }
    docs = documents(values)
    secret = kind_named(docs, "Secret", "cv-callvault-secrets")
    config_map = kind_named(docs, "ConfigMap", "cv-callvault-config")
    # What IRSA gives a pod in the cluster.
    aws = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}

    job = kind_named(docs, "Job", "cv-callvault-migrate")
    env = runnable_env({e["name"]: e for e in job["spec"]["template"]["spec"]["containers"][0]["env"]},
                       secret, config_map, tmp_path)
    migrate = subprocess.run([binary(), "migrate"], env=env, capture_output=True, text=True, timeout=120)
    assert migrate.returncode == 0, migrate.stderr

    ports = {}
    started = []
    try:
        # The modules' start order (services/callvault/src/serve.rs):
        # storage, metadata, then disclosure, billing, webhooks, ingestion and
        # gateway (webhooks' queue, like billing's, must exist before what it
        # consumes is published).
        order = ["storage", "metadata", "disclosure", "billing", "webhooks", "ingestion", "gateway"]
        deployments = {d["metadata"]["name"].removeprefix("cv-callvault-"): (d, c) for d, c in containers(docs)
                       if d["kind"] == "Deployment"}
        assert sorted(deployments) == sorted(order)
        for name in order:
            doc, container = deployments[name]
            env = runnable_env({e["name"]: e for e in container["env"]}, secret, config_map, tmp_path / name)
            ports[name] = free_port()
            env["CALLVAULT_LISTEN"] = f"127.0.0.1:{ports[name]}"
            if env.get("CALLVAULT_STORAGE_URL", "").startswith("http://cv-callvault-storage:"):
                env["CALLVAULT_STORAGE_URL"] = f"http://127.0.0.1:{ports['storage']}"
            env.update(aws)
            log = open(tmp_path / f"{name}.log", "w")
            started.append((name, subprocess.Popen([binary(), *container["args"]], env=env, stdout=log,
                                                   stderr=subprocess.STDOUT)))
            deadline = time.time() + 90
            while not ready(ports[name]):
                process = started[-1][1]
                if process.poll() is not None or time.time() > deadline:
                    pytest.fail(f"{name} never became ready:\n" + (tmp_path / f"{name}.log").read_text()[-3000:])
                time.sleep(0.3)
    finally:
        for _, process in started:
            process.send_signal(signal.SIGTERM)
        for _, process in started:
            try:
                process.wait(timeout=40)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        delete_broker_topology(prefix)


def test_the_embedded_statefulset_becomes_ready_with_its_rendered_environment(tmp_path):
    from conftest import TESTS, load_values

    docs = documents(load_values(TESTS / "values" / "embedded.yaml"))
    config_map = kind_named(docs, "ConfigMap", "cv-callvault-config")
    (doc, container), = [(d, c) for d, c in containers(docs) if d["kind"] == "StatefulSet"]
    env = runnable_env({e["name"]: e for e in container["env"]}, None, config_map, tmp_path)
    port = free_port()
    env["CALLVAULT_LISTEN"] = f"127.0.0.1:{port}"
    log = open(tmp_path / "embedded.log", "w")
    process = subprocess.Popen([binary(), *container["args"]], env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.time() + 90
        while not ready(port):
            if process.poll() is not None or time.time() > deadline:
                pytest.fail("embedded never became ready:\n" + (tmp_path / "embedded.log").read_text()[-3000:])
            time.sleep(0.3)
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=40)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
