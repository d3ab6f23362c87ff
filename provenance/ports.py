"""Is the UI's port free? A second `make demo` while the first one's UI still runs must say so,
with the URL of the running UI, before it trains for minutes; Streamlit itself would start,
fail to bind and print only a traceback.

`python -m provenance.ports [PORT]` exits 2 with that message when the port is taken.
"""

from __future__ import annotations

import socket
import sys
import urllib.request

HOST = "127.0.0.1"  # where `provenance ui` listens (provenance/serve.py)
DEFAULT_PORT = 8501


class PortBusy(ValueError):
    """The UI's port is taken, most often by the UI of a demo still running; says its URL.
    A ValueError, so that the CLI reports it as a fixable problem rather than a crash."""


def check_port(port: int = DEFAULT_PORT, host: str = HOST) -> None:
    """PortBusy when something already listens on host:port."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.settimeout(1.0)
        if probe.connect_ex((host, port)) != 0:
            return
    address = f"http://{host}:{port}"
    running = "a Streamlit server, most likely the UI of a demo still running"
    what = running if is_streamlit(address) else "another program"
    raise PortBusy(
        f"port {port} is already in use by {what}: {address}\n"
        f"Open {address} to use the UI that is running, or stop it (Ctrl-C in its terminal) and "
        f"run this again, or serve this one elsewhere with `provenance ui --port {port + 1}`."
    )


def is_streamlit(address: str) -> bool:
    """Whether `address` answers Streamlit's health check ("ok") within 2 s."""
    try:
        with urllib.request.urlopen(f"{address}/_stcore/health", timeout=2) as answer:
            return answer.read().strip() == b"ok"
    except OSError:  # refused, reset or timed out: not a Streamlit server that answers
        return False


if __name__ == "__main__":
    try:
        check_port(int(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_PORT)
    except PortBusy as busy:
        print(f"provenance: {busy}", file=sys.stderr)
        raise SystemExit(2) from None
