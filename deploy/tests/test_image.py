"""The image: every shared library the binary links (ldd) comes from a
Debian package that the runtime base ships (its published package list,
deploy/image/distroless-cc-debian12.packages), and the Dockerfile builds on
the same Debian release as that base. There is no Docker engine here: the
binary checked is the one the test run built on this Debian 12 machine,
with the features the image's release build has (same crate, same
dependencies; a release build links the same libraries)."""

import re
import subprocess
from pathlib import Path

from conftest import ROOT
from test_drift import binary

PACKAGES = ROOT / "deploy" / "image" / "distroless-cc-debian12.packages"
DOCKERFILE = ROOT / "Dockerfile"


def base_packages():
    lines = PACKAGES.read_text().splitlines()
    return {line.strip() for line in lines if line.strip() and not line.startswith("#")}


def linked_libraries(path):
    out = subprocess.run(["ldd", path], capture_output=True, text=True, check=True).stdout
    libraries = []
    for line in out.splitlines():
        line = line.strip()
        if line.startswith("linux-vdso") or "statically linked" in line:
            continue  # the kernel's, in no package
        found = re.search(r"=>\s*(\S+)", line) or re.match(r"(/\S+)", line)
        assert found and found.group(1) != "not", f"ldd: {line}"
        libraries.append(found.group(1))
    return libraries


def package_of(library):
    run = subprocess.run(["dpkg", "-S", library], capture_output=True, text=True)
    if run.returncode != 0:
        run = subprocess.run(["dpkg", "-S", str(Path(library).resolve())], capture_output=True, text=True)
    assert run.returncode == 0, f"no Debian package ships {library}: {run.stderr}"
    return run.stdout.split(":")[0]


def test_every_linked_library_is_in_the_runtime_base():
    libraries = linked_libraries(binary())
    assert any("libc.so" in lib for lib in libraries), libraries
    shipped = base_packages()
    for library in libraries:
        package = package_of(library)
        assert package in shipped, f"{library} comes from {package}, which {PACKAGES.name} lacks"


def test_the_build_and_runtime_stages_are_one_debian_release():
    stages = re.findall(r"^FROM\s+(\S+)", DOCKERFILE.read_text(), re.M)
    assert len(stages) == 2, stages
    build, runtime = stages
    assert build.endswith("-bookworm") and "bookworm" in Path("/etc/os-release").read_text()
    assert runtime.startswith("gcr.io/distroless/cc-debian12")
    assert "debian12" in PACKAGES.name


def test_the_image_runs_the_binary_as_non_root_without_a_shell():
    text = DOCKERFILE.read_text()
    runtime = text[text.rindex("FROM ") :]
    assert re.search(r"^USER 65532:65532$", runtime, re.M)
    assert re.search(r'^ENTRYPOINT \["/usr/local/bin/callvault"\]$', runtime, re.M)
    assert "RUN " not in runtime, "the runtime base has no shell to run commands with"
    for label in ("title", "version", "revision", "created", "source"):
        assert f"org.opencontainers.image.{label}=" in runtime, label
