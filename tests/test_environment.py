"""The pip lock file and the conda environment pin the same packages."""

from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def lock_pins() -> dict[str, str]:
    pins = {}
    for line in (ROOT / "requirements.lock").read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            name, version = line.split("==")
            pins[name.lower().replace("_", "-")] = version
    return pins


def env_pins() -> dict[str, str]:
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict) and "pip" in d)
    pins = {}
    for spec in pip:
        if "==" in spec:
            name, version = spec.split("==")
            pins[name.lower().replace("_", "-")] = version
    return pins


def test_lock_and_environment_agree():
    lock, env = lock_pins(), env_pins()
    assert lock, "requirements.lock is empty"
    missing = sorted(set(lock) - set(env))
    extra = sorted(set(env) - set(lock))
    differ = sorted(k for k in set(lock) & set(env) if lock[k] != env[k])
    assert not (missing or extra or differ), f"missing={missing} extra={extra} differ={differ}"


def test_jupyter_book_is_1x():
    assert lock_pins()["jupyter-book"].startswith("1."), (
        "jupyter-book must stay <2 (2.x drops _config.yml)"
    )


def test_python_version_matches():
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    assert "python=3.11" in env["dependencies"]
