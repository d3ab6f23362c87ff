"""`provenance ui`: serve the Streamlit app on 127.0.0.1 with the hardened settings.

The settings are flags rather than a config file so they hold whatever the working
directory is (.streamlit/config.toml repeats them for a plain `streamlit run`):
upload cap 20 MB, XSRF protection on, error details never sent to the browser, no usage
statistics (no network), no file watcher, local address only.

Host allow-list: the pages answer only to the Host names in PROVENANCE_ALLOWED_HOSTS (set
here: 127.0.0.1 and localhost on the server's port, plus each `--allowed-host`), so a page on
another site that points its own name at 127.0.0.1 (DNS rebinding) gets an error, not the
forms (app/ui.py, require_allowed_host). Streamlit has no such setting itself.

Authentication: none here; `provenance ui` listens on loopback only. A team reaches it through
the authenticating reverse proxy of docker-compose.yml (deploy/Caddyfile: HTTPS, a login for
each user, and only its own site name), which forwards with Host 127.0.0.1:PORT
(docs/deployment.md).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable
from pathlib import Path

from provenance.ports import check_port
from provenance.uploads import MAX_UPLOAD_BYTES

HOST = "127.0.0.1"  # local only: the UI has no login; teams put an authenticating proxy in front
DEFAULT_PORT = 8501
ENV_ALLOWED_HOSTS = "PROVENANCE_ALLOWED_HOSTS"
LOCAL_NAMES = ("127.0.0.1", "localhost")
REPO_ROOT = Path(__file__).resolve().parents[1]
# The pages are started by path, never imported: the application layer sits below app/.
ENTRY = REPO_ROOT / "app" / "streamlit_app.py"

HARDENED = {
    "server.address": HOST,
    "server.headless": "true",
    "server.maxUploadSize": str(MAX_UPLOAD_BYTES // 2**20),
    "server.enableXsrfProtection": "true",
    "server.enableCORS": "true",
    "server.fileWatcherType": "none",
    "server.runOnSave": "false",
    "client.showErrorDetails": "none",
    "client.toolbarMode": "minimal",
    "browser.gatherUsageStats": "false",
    "global.developmentMode": "false",
}


def command(port: int = DEFAULT_PORT) -> list[str]:
    """The `streamlit run` command line of the server."""
    flags = [f"--{name}={value}" for name, value in HARDENED.items()]
    return [sys.executable, "-m", "streamlit", "run", str(ENTRY), *flags, f"--server.port={port}"]


def allowed_hosts(port: int = DEFAULT_PORT, extra: Iterable[str] = ()) -> tuple[str, ...]:
    """The Host header values the pages answer to: the local names on `port`, then `extra`
    (e.g. "provenance.example.org" behind a proxy that keeps the Host header)."""
    return (*(f"{name}:{port}" for name in LOCAL_NAMES), *(h.strip() for h in extra if h.strip()))


def host_allowed(host: str | None, allowed: Iterable[str]) -> bool:
    """Whether a request's Host header is one of `allowed` (case-insensitive, exact)."""
    return host is not None and host.strip().lower() in {a.strip().lower() for a in allowed}


def environment(
    data_dir: Path,
    db_url: str | None,
    base: dict[str, str],
    hosts: Iterable[str] = allowed_hosts(),
) -> dict[str, str]:
    """The server's environment: the data directory (absolute), the ledger URL when given,
    the Host allow-list, and the repository root on PYTHONPATH so the pages import `app` and
    `db`."""
    env = dict(base)
    env[ENV_ALLOWED_HOSTS] = ",".join(hosts)
    env["PROVENANCE_DATA_DIR"] = str(Path(data_dir).resolve())
    if db_url:
        env["PROVENANCE_DB_URL"] = db_url
    paths = [str(REPO_ROOT), *filter(None, [env.get("PYTHONPATH")])]
    env["PYTHONPATH"] = os.pathsep.join(paths)
    return env


def url(port: int = DEFAULT_PORT) -> str:
    return f"http://{HOST}:{port}"


def serve(
    data_dir: Path,
    port: int = DEFAULT_PORT,
    db_url: str | None = None,
    extra_hosts: Iterable[str] = (),
) -> None:
    """Replace this process with the Streamlit server (so a signal to it stops the server);
    provenance.ports.PortBusy, naming the running UI's URL, when the port is taken."""
    check_port(port, HOST)
    print(f"Provenance UI: {url(port)}  (data directory {Path(data_dir).resolve()})", flush=True)
    cmd = command(port)
    hosts = allowed_hosts(port, extra_hosts)
    os.execve(cmd[0], cmd, environment(data_dir, db_url, dict(os.environ), hosts))
