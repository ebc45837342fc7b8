"""The SAM template: lint-clean, buildable, and every built handler importable from the build
output with the built layer on the path (as Lambda's /opt/python would have it).

These run the real `sam` CLI and are slow (a build installs the layer's requirements);
they are marked `template` so a quick run can deselect them with `-m "not template"`.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from roomcast_local.cfn import load_template, resources_of_type
from tests.conftest import ROOT

pytestmark = pytest.mark.template

VENV_BIN = Path(sys.executable).parent
SAM = shutil.which("sam", path=str(VENV_BIN)) or shutil.which("sam")
TEMPLATE = load_template(ROOT / "template.yaml")
FUNCTIONS = resources_of_type(TEMPLATE, "AWS::Serverless::Function")
LAYERS = resources_of_type(TEMPLATE, "AWS::Serverless::LayerVersion")
BUILD_TIMEOUT = 8 * 60

if SAM is None:  # pragma: no cover - the dev requirements install aws-sam-cli
    pytest.skip("the sam CLI is not installed (pip install aws-sam-cli)", allow_module_level=True)


def _sam_env() -> dict[str, str]:
    # sam finds the python3.13 build workflow's interpreter on PATH: the venv's comes first.
    env = dict(os.environ)
    env["PATH"] = f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}"
    env["SAM_CLI_TELEMETRY"] = "0"
    env.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    return env


def _run(args: list[str], timeout: int) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(SAM), *args],
        cwd=ROOT,
        env=_sam_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def _handler_module(logical_id: str, resource: dict[str, Any]) -> tuple[str, str]:
    globals_ = (TEMPLATE.get("Globals") or {}).get("Function") or {}
    handler = resource["Properties"].get("Handler") or globals_.get("Handler")
    assert handler, f"{logical_id} has no Handler"
    module, _, attribute = handler.rpartition(".")
    return module, attribute


@pytest.fixture(scope="session")
def build_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """One `sam build` per session, into a temporary directory (never the repo's .aws-sam)."""
    target = tmp_path_factory.mktemp("sam-build") / "build"
    cache = tmp_path_factory.mktemp("sam-cache")
    done = _run(
        ["build", "--build-dir", str(target), "--cache-dir", str(cache), "--template-file", "template.yaml"],
        timeout=BUILD_TIMEOUT,
    )
    assert done.returncode == 0, f"sam build failed:\n{done.stdout[-4000:]}\n{done.stderr[-4000:]}"
    yield target


def test_template_declares_functions_and_layer() -> None:
    assert FUNCTIONS, "template.yaml declares no AWS::Serverless::Function"
    assert "RoomcastLayer" in LAYERS


def test_sam_validate_lint_is_clean() -> None:
    done = _run(["validate", "--lint", "--template-file", "template.yaml"], timeout=300)
    assert done.returncode == 0, f"sam validate --lint:\n{done.stdout}\n{done.stderr}"


def test_sam_build_produces_every_function_and_the_layer(build_dir: Path) -> None:
    built_template = load_template(build_dir / "template.yaml")
    built_functions = resources_of_type(built_template, "AWS::Serverless::Function")
    assert set(built_functions) == set(FUNCTIONS)
    for logical_id in FUNCTIONS:
        code = build_dir / logical_id
        assert code.is_dir(), f"no build output for {logical_id}"
        module, _ = _handler_module(logical_id, FUNCTIONS[logical_id])
        assert (code / f"{module.replace('.', '/')}.py").is_file(), f"{logical_id}: {module}.py not built"
    for logical_id in LAYERS:
        package = build_dir / logical_id / "python"
        assert (package / "roomcast" / "__init__.py").is_file(), f"{logical_id}: roomcast not in python/"
        # The layer's requirements are installed next to the package, as /opt/python holds them.
        assert (package / "pydantic").is_dir() and (package / "jwt").is_dir()


@pytest.mark.parametrize("logical_id", sorted(FUNCTIONS))
def test_built_handler_imports_with_built_layer(build_dir: Path, logical_id: str, stack) -> None:
    module, attribute = _handler_module(logical_id, FUNCTIONS[logical_id])
    layer_paths = [str(build_dir / name / "python") for name in sorted(LAYERS)]
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "PYTHONPATH": os.pathsep.join([*layer_paths, str(build_dir / logical_id)]),
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_REGION": "us-east-1",
        "PYTHONNOUSERSITE": "1",
        "POWERTOOLS_TRACE_DISABLED": "true",
        # A handler validates its settings at import: the environment the template gives it.
        **stack.function_environment(logical_id),
    }
    # The venv's interpreter stands in for the Lambda runtime (which brings boto3); the layer
    # comes first on PYTHONPATH, and the probe checks roomcast and the handler were loaded from
    # the build output, not from the repository.
    probe = (
        "import importlib\n"
        f"mod = importlib.import_module({module!r})\n"
        f"assert callable(getattr(mod, {attribute!r}, None)), 'handler not callable'\n"
        "import roomcast, pydantic\n"
        "print(mod.__file__)\n"
        "print(roomcast.__file__)\n"
        "print(pydantic.__file__)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=build_dir,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, f"{logical_id}: import failed\n{done.stdout}\n{done.stderr[-4000:]}"
    handler_file, roomcast_file, pydantic_file = done.stdout.split()
    assert handler_file.startswith(str(build_dir / logical_id))
    assert any(roomcast_file.startswith(p) for p in layer_paths)
    assert any(pydantic_file.startswith(p) for p in layer_paths)
