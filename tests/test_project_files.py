"""The repository's own promises: one pinned install file, CI runs the README's test command,
and the compose file keeps the database on loopback with its password in a secret file."""

import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def test_ci_runs_exactly_the_readme_test_command():
    readme = (ROOT / "README.md").read_text()
    commands = re.findall(r"^\s*(make \w+)\s*$", readme, flags=re.MULTILINE)
    assert commands[:2] == ["make demo", "make test"]
    ci_lines = [
        line.strip()
        for line in (ROOT / ".ci" / "run").read_text().splitlines()
        if re.search(r"\b(make|pytest)\b", line) and not line.lstrip().startswith("#")
    ]
    assert ci_lines == ["make test"]


def test_every_requirement_is_pinned_torch_included():
    lines = [
        line.split("#")[0].strip()
        for line in (ROOT / "requirements.txt").read_text().splitlines()
        if line.split("#")[0].strip()
    ]
    assert all(re.fullmatch(r"[A-Za-z0-9_.\-]+==[\w.]+", line) for line in lines), lines
    assert "torch==2.13.0" in lines


def test_compose_database_is_loopback_only_with_a_secret_password():
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    db = compose["services"]["db"]
    assert all(port.startswith("127.0.0.1:") for port in db["ports"])
    assert db["environment"]["POSTGRES_PASSWORD_FILE"].startswith("/run/secrets/")
    assert "POSTGRES_PASSWORD" not in db["environment"]
    assert set(db["secrets"]) <= set(compose["secrets"])
    assert "healthcheck" in db


def _declared() -> tuple[set[str], set[str]]:
    """The distributions pyproject.toml declares: (the core, the core and every extra)."""
    import tomllib

    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    core = {canonicalize_name(Requirement(r).name) for r in project["dependencies"]}
    extras = {
        canonicalize_name(Requirement(r).name)
        for group in project["optional-dependencies"].values()
        for r in group
    }
    extras |= {  # psycopg[binary] means psycopg-binary too
        canonicalize_name(f"{Requirement(r).name}-{extra}")
        for group in project["optional-dependencies"].values()
        for r in group
        for extra in Requirement(r).extras
        if Requirement(r).name != project["name"]
    }
    return core, core | extras - {project["name"]}


def _imported(folders: list[str]) -> dict[str, str]:
    """Third-party distributions imported by the .py files under `folders`: name -> a file."""
    import ast
    import sys
    from importlib.metadata import packages_distributions

    from packaging.utils import canonicalize_name

    ours = {"app", "provenance", "attribution_engine", "db", "benchmarks", "tests"}
    local = {path.stem for path in (ROOT / "tests").rglob("*.py")}  # pythonpath helpers
    owners = packages_distributions()
    found: dict[str, str] = {}
    for folder in folders:
        for path in (ROOT / folder).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, ast.Import):
                    modules = [alias.name for alias in node.names]
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    modules = [node.module]
                else:
                    continue
                for module in modules:
                    top = module.split(".")[0]
                    if top in ours | local | set(sys.stdlib_module_names):
                        continue
                    for name in owners.get(top, [top]):
                        found.setdefault(canonicalize_name(name), str(path.relative_to(ROOT)))
    return found


def test_pyproject_declares_every_package_the_product_imports():
    core, _ = _declared()
    imported = _imported(["app", "provenance", "attribution_engine", "db"])
    missing = {name: path for name, path in imported.items() if name not in core}
    assert not missing, f"imported but not in [project].dependencies: {missing}"


def test_pyproject_extras_cover_the_tests_and_benchmarks():
    _, everything = _declared()
    # Bergson is a peer, installed apart under .peers/ so that it never changes the pinned torch
    # (benchmarks/bergson_peer.py).
    peers = {"bergson"}
    imported = _imported(["tests", "benchmarks"])
    missing = {n: p for n, p in imported.items() if n not in everything and n not in peers}
    assert not missing, f"imported by tests or benchmarks but declared nowhere: {missing}"


def test_the_lock_satisfies_every_declared_range():
    import tomllib

    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    pins = {}
    for line in (ROOT / "requirements.txt").read_text().splitlines():
        line = line.split("#")[0].strip()
        if line:
            name, version = line.split("==")
            pins[canonicalize_name(name)] = version
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    groups = [project["dependencies"], *project["optional-dependencies"].values()]
    for text in (r for group in groups for r in group):
        requirement = Requirement(text)
        name = canonicalize_name(requirement.name)
        if name == project["name"]:
            continue
        assert name in pins, f"{text} is declared but not pinned in requirements.txt"
        assert requirement.specifier.contains(pins[name]), f"{name}=={pins[name]} breaks {text}"
