"""deploy/validate.sh passes on the real files and fails on each kind of broken
copy: the validators are real and their failures reach the exit code."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.deploy.processes import DEPLOY, run

BROKEN = {
    "dockerfile-lint": (
        "Dockerfile",
        "USER 10001:10001",
        "RUN apt-get install curl\nUSER 10001:10001",
        "DL3008",
    ),
    "compose-schema": (
        "compose.yaml",
        "condition: service_completed_successfully",
        "condition: service_finished",
        "is not valid under any of the given schemas",
    ),
    "compose-reference": (
        "compose.yaml",
        "  migrate-reporting:\n",
        "  migrate-report:\n",
        "depends on unknown migrate-reporting",
    ),
    "caddyfile-syntax": (
        "Caddyfile",
        "\tencode zstd gzip\n",
        "\tencode zstd gzip {\n",
        "",
    ),
    "caddy-route-to-wrong-prefix": (
        "Caddyfile",
        "handle_path /training/*",
        "handle_path /trainings/*",
        "strips /trainings but training-api",
    ),
    "caddy-metrics-public": (
        "Caddyfile",
        "/training/metrics /training/metrics/* ",
        "",
        "Caddyfile: /training/metrics reaches training-api",
    ),
    "k8s-metrics-public": (
        "k8s/ingress.yaml",
        "/reporting(/|$)((?!metrics(?:/|$)).*)",
        "/reporting(/|$)(.*)",
        "routes /reporting/metrics to the API",
    ),
    "k8s-unknown-field": (
        "k8s/training.yaml",
        "periodSeconds: 20",
        "periodSecond: 20",
        "'periodSecond' was unexpected",
    ),
    "k8s-unknown-kind": (
        "k8s/beneficiary.yaml",
        "kind: PodDisruptionBudget",
        "kind: PodDisruptionBuget",
        "no schema for policy/v1 PodDisruptionBuget",
    ),
    "k8s-hpa-without-target": (
        "k8s/reporting.yaml",
        "    name: reporting-worker\n  minReplicas",
        "    name: reporting-workers\n  minReplicas",
        "no Deployment/reporting-workers",
    ),
    "k8s-root-path": (
        "k8s/training.yaml",
        "value: /training",
        "value: /train",
        "strips /training but training-api has ROOT_PATH '/train'",
    ),
    "k8s-writable-root": (
        "k8s/beneficiary.yaml",
        "readOnlyRootFilesystem: true",
        "readOnlyRootFilesystem: false",
        "readOnlyRootFilesystem is not true",
    ),
    "kustomization-unrendered-field": (
        "k8s/kustomization.yaml",
        "resources:",
        "patches: []\nresources:",
        "only ['apiVersion'",
    ),
    "shell-script": (
        "entrypoint.sh",
        'echo "entrypoint: $*" >&2',
        'local where=entrypoint\n  echo "$where: $*" >&2',
        "SC3043",
    ),
}


def copy_of_deploy(tmp_path: Path) -> Path:
    target = tmp_path / "deploy"
    shutil.copytree(
        DEPLOY,
        target,
        ignore=shutil.ignore_patterns("secrets", "backups", ".env", "__pycache__"),
    )
    return target


def test_the_real_files_are_valid() -> None:
    result = run(DEPLOY / "validate.sh")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "all valid" in result.stdout
    assert "0 problem(s)" in result.stdout


@pytest.mark.parametrize("case", sorted(BROKEN))
def test_a_broken_copy_fails(case: str, tmp_path: Path) -> None:
    file, old, new, message = BROKEN[case]
    copy = copy_of_deploy(tmp_path)
    path = copy / file
    text = path.read_text()
    assert old in text, f"{file} no longer contains {old!r}: update this test"
    path.write_text(text.replace(old, new, 1))
    result = run(DEPLOY / "validate.sh", copy)
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    assert "all valid" not in output
    assert message in output
