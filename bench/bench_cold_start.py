"""Cold start: import + init of each handler vs. `import boto3` + one client.

Each measurement is a fresh interpreter (a new execution environment), timed from inside
with time.perf_counter so interpreter start-up is left out on both sides:
- handler: `import app` from functions/<name>/ (as Lambda imports /var/task/app.py) with
  only the layer (layers/roomcast, i.e. /opt/python) added to the path and the function's
  environment from template.yaml, then the first-request init every handler shares: the
  settings validated from the environment and the DynamoDB client created;
- baseline: `import boto3; boto3.client("dynamodb", region_name="us-east-1")`.
Subjects are interleaved round by round (the first round is a discarded warm-up) and
the median of the rest is reported (wall and CPU time), so drift on a busy machine hits every subject alike.

    PYTHONPATH=local:layers/roomcast:. .venv/bin/python bench/bench_cold_start.py
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys

from bench._common import FAKE_AWS_ENV, ROOT, function_environments, median, print_table

HANDLER_PROBE = """
import time
t0, c0 = time.perf_counter(), time.process_time()
import app
t1 = time.perf_counter()
from roomcast.settings import get_settings
from roomcast.dal.dynamo import dynamodb_client
get_settings()
dynamodb_client()
t2, c2 = time.perf_counter(), time.process_time()
print((t1 - t0) * 1000, (t2 - t0) * 1000, (c2 - c0) * 1000)
"""

BASELINE_PROBE = """
import time
t0, c0 = time.perf_counter(), time.process_time()
import boto3
boto3.client("dynamodb", region_name="us-east-1")
t1, c1 = time.perf_counter(), time.process_time()
print((t1 - t0) * 1000, (t1 - t0) * 1000, (c1 - c0) * 1000)
"""

BASELINE = "baseline"


def handlers() -> list[str]:
    return sorted(p.parent.name for p in (ROOT / "functions").glob("*/app.py"))


def lambda_env(function_env: dict[str, str], name: str) -> dict[str, str]:
    """What a Lambda python3.13 environment holds that matters to an import."""
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "LANG": "en_US.UTF-8",
        "TZ": ":UTC",
        "PYTHONPATH": str(ROOT / "layers" / "roomcast"),
        "AWS_LAMBDA_FUNCTION_NAME": f"roomcast-{name}",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "512",
        "AWS_EXECUTION_ENV": "AWS_Lambda_python3.13",
        **FAKE_AWS_ENV,
        **function_env,
    }
    return env


def probe(
    subject: str, envs: dict[str, dict[str, str]], fallback: dict[str, str]
) -> tuple[float, float, float]:
    """(import ms, import+init ms, import+init CPU ms) of one fresh interpreter."""
    if subject == BASELINE:
        cwd, code, env = ROOT, BASELINE_PROBE, lambda_env({}, "baseline")
        env.pop("PYTHONPATH")
    else:
        cwd = ROOT / "functions" / subject
        code, env = HANDLER_PROBE, lambda_env(envs.get(subject, fallback), subject)
    out = subprocess.run(
        [sys.executable, "-c", code],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    if out.returncode != 0:
        raise RuntimeError(f"{subject}: {out.stderr.strip()[-2000:]}")
    import_ms, init_ms, cpu_ms = (float(v) for v in out.stdout.split()[-3:])
    return import_ms, init_ms, cpu_ms


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3, help="measured rounds (plus one warm-up)")
    parser.add_argument("--only", default="", help="comma-separated handler names (default: all)")
    args = parser.parse_args(argv)
    names = [n for n in handlers() if not args.only or n in args.only.split(",")]
    envs = function_environments()
    # A function not (yet) in the template still gets the Globals environment.
    fallback = next(iter(envs.values()), {})
    subjects = [BASELINE, *names]
    samples: dict[str, list[tuple[float, float, float]]] = {s: [] for s in subjects}
    for round_index in range(args.repeats + 1):
        for subject in subjects:
            result = probe(subject, envs, fallback)
            if round_index:
                samples[subject].append(result)
    base = median([s[1] for s in samples[BASELINE]])
    base_cpu = median([s[2] for s in samples[BASELINE]])
    rows = []
    for name in names:
        import_ms = median([s[0] for s in samples[name]])
        init_ms = median([s[1] for s in samples[name]])
        cpu_ms = median([s[2] for s in samples[name]])
        rows.append((name, import_ms, init_ms, init_ms / base, cpu_ms, cpu_ms / base_cpu))
    print(
        f"cold start, median of {args.repeats} fresh interpreters each (python {sys.version.split()[0]})"
    )
    print(
        f"baseline = import boto3 + boto3.client('dynamodb'): {base:.1f} ms wall, {base_cpu:.1f} ms CPU"
    )
    print("CPU time (process_time) is the steadier ratio when other work shares the machine")
    print_table(
        ["handler", "import ms", "import+init ms", "wall / baseline", "CPU ms", "CPU / baseline"],
        rows,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
