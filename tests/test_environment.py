"""pyproject.toml is the one dependency list; environment.yml must mirror it exactly."""
import re
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
_NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(.*)$")


def _normalize(requirement: str) -> tuple[str, str]:
    name, spec = _NAME.match(requirement).groups()
    return re.sub(r"[-_.]+", "-", name).lower(), spec.replace(" ", "")


def test_environment_yml_matches_pyproject():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    pip_deps = dict(map(_normalize, project["dependencies"] + project["optional-dependencies"]["test"]))
    env = yaml.safe_load((ROOT / "environment.yml").read_text())["dependencies"]
    conda_deps = dict(_normalize(d) for d in env if isinstance(d, str) and not d.startswith(("python", "pip")))
    assert conda_deps == pip_deps, set(conda_deps.items()) ^ set(pip_deps.items())
    pip_section = next(d["pip"] for d in env if isinstance(d, dict))
    assert pip_section[-1] == "-e ."
    python = next(d for d in env if isinstance(d, str) and d.startswith("python="))
    assert project["requires-python"] == ">=" + python.split("=")[1]


def test_readme_starts_with_the_two_commands():
    readme = (ROOT / "README.md").read_text()
    commands = re.findall(r"^make (\w+)", readme, flags=re.M)
    assert commands[:2] == ["reports", "test"]


def test_reports_dir_is_ignored_except_readme():
    ignore = (ROOT / ".gitignore").read_text().split()
    assert "reports/*" in ignore and "!reports/README.md" in ignore
