"""`provenance ui`: serve the Streamlit app on 127.0.0.1 with the hardened settings.

The settings are flags rather than a config file so they hold whatever the working
directory is (.streamlit/config.toml repeats them for a plain `streamlit run`):
upload cap 20 MB, XSRF protection on, error details never sent to the browser, no usage
statistics (no network), no file watcher, local address only.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from provenance.uploads import MAX_UPLOAD_BYTES

HOST = "127.0.0.1"  # local only: the UI has no login; teams put an authenticating proxy in front
DEFAULT_PORT = 8501
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


def environment(data_dir: Path, db_url: str | None, base: dict[str, str]) -> dict[str, str]:
    """The server's environment: the data directory (absolute), the ledger URL when given,
    and the repository root on PYTHONPATH so the pages import `app` and `db`."""
    env = dict(base)
    env["PROVENANCE_DATA_DIR"] = str(Path(data_dir).resolve())
    if db_url:
        env["PROVENANCE_DB_URL"] = db_url
    paths = [str(REPO_ROOT), *filter(None, [env.get("PYTHONPATH")])]
    env["PYTHONPATH"] = os.pathsep.join(paths)
    return env


def url(port: int = DEFAULT_PORT) -> str:
    return f"http://{HOST}:{port}"


def serve(data_dir: Path, port: int = DEFAULT_PORT, db_url: str | None = None) -> None:
    """Replace this process with the Streamlit server (so a signal to it stops the server)."""
    print(f"Provenance UI: {url(port)}  (data directory {Path(data_dir).resolve()})", flush=True)
    cmd = command(port)
    os.execve(cmd[0], cmd, environment(data_dir, db_url, dict(os.environ)))
