"""Item 1 of issue 18 (the DNS-rebinding part) and the authentication story: the pages answer
only to the Host names on the server's allow-list, so a page on another site that points its
own name at 127.0.0.1 gets an error instead of the forms; a team reaches the UI only through
the authenticating proxy of docker-compose.yml."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from streamlit.testing.v1 import AppTest

from app import ui
from provenance import cli
from provenance.serve import ENV_ALLOWED_HOSTS, allowed_hosts, environment, host_allowed

ROOT = Path(__file__).resolve().parents[2]
ENTRY = ROOT / "app" / "streamlit_app.py"


def _entry(monkeypatch, tmp_path: Path, host: str | None) -> AppTest:
    monkeypatch.setenv("PROVENANCE_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("PROVENANCE_DB_URL", raising=False)
    monkeypatch.setenv(ENV_ALLOWED_HOSTS, ",".join(allowed_hosts(8501)))
    headers = {} if host is None else {"Host": host, "Origin": f"http://{host}"}
    monkeypatch.setattr(ui, "_request_headers", lambda: headers)
    return AppTest.from_file(str(ENTRY), default_timeout=60).run()


@pytest.mark.parametrize("host", ["evil.example:8501", "127.0.0.1.evil.example:8501", ""])
def test_dns_rebinding_host_is_refused(monkeypatch, tmp_path: Path, host: str) -> None:
    at = _entry(monkeypatch, tmp_path, host)
    assert not at.exception
    assert at.error[0].value.startswith("This server answers only to 127")
    assert not at.title and not at.button and not at.text_input  # no page ran


@pytest.mark.parametrize("host", ["127.0.0.1:8501", "localhost:8501", "LOCALHOST:8501"])
def test_local_host_is_served(monkeypatch, tmp_path: Path, host: str) -> None:
    at = _entry(monkeypatch, tmp_path, host)
    assert not at.exception and not at.error
    assert [t.value for t in at.title] == ["Overview"]


def test_allow_list_comes_from_provenance_ui(monkeypatch) -> None:
    """`provenance ui --allowed-host NAME` adds NAME; the local names on --port always."""
    seen = {}
    monkeypatch.setattr(
        "provenance.serve.serve",
        lambda out, port, db_url=None, extra_hosts=(): seen.update(hosts=extra_hosts),
    )
    cli.main(["ui", "--port", "9000", "--allowed-host", "provenance.example.org"])
    assert seen["hosts"] == ["provenance.example.org"]
    env = environment(Path("."), None, {}, allowed_hosts(9000, seen["hosts"]))
    hosts = env[ENV_ALLOWED_HOSTS].split(",")
    assert hosts == ["127.0.0.1:9000", "localhost:9000", "provenance.example.org"]
    assert host_allowed("Provenance.Example.org", hosts)
    assert not host_allowed("provenance.example.org.evil", hosts)
    assert not host_allowed(None, hosts)


def test_team_reaches_the_ui_only_through_the_authenticating_proxy() -> None:
    """docker-compose.yml: the UI listens on loopback only; the `proxy` service (Caddy) is the
    one way in from the network: HTTPS, a login for every request (basic_auth from a secret
    file of bcrypt hashes), and it forwards with the Host the UI's allow-list accepts."""
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = compose["services"]
    proxy = services["proxy"]
    assert "db_ui_password" not in proxy.get("secrets", [])
    assert "ui_users" in proxy["secrets"]
    assert compose["secrets"]["ui_users"]["file"].startswith("./secrets/")
    assert any("Caddyfile" in str(volume) for volume in proxy["volumes"])
    caddyfile = (ROOT / "deploy" / "Caddyfile").read_text()
    code = "\n".join(line.split("#")[0] for line in caddyfile.splitlines())
    assert "basic_auth" in code and "import /run/secrets/ui_users" in code
    assert "reverse_proxy 127.0.0.1:" in code
    assert "header_up Host 127.0.0.1:" in code  # the UI's allow-list accepts what it forwards
    ui_command = services["ui"]["command"]
    assert "--allowed-host" not in ui_command  # only the local names: the proxy is the way in
    setup = (ROOT / "deploy" / "setup.sh").read_text()
    assert "ui_users" in setup and "hash-password" in setup
