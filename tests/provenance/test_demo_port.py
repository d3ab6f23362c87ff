"""A demo started while another demo's UI holds the port says so, with the running UI's URL."""

from __future__ import annotations

import http.server
import socket
import subprocess
import sys
import threading

import pytest

from provenance.ports import PortBusy, check_port


class _Health(http.server.BaseHTTPRequestHandler):
    def do_GET(self):  # the stdlib calls it by this name
        body = b"ok" if self.path == "/_stcore/health" else b"page"
        self.send_response(200)
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def streamlit_like():
    """A server on a free loopback port that answers Streamlit's health check."""
    server = http.server.HTTPServer(("127.0.0.1", 0), _Health)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_a_free_port_passes():
    check_port(_free_port())


def test_a_running_ui_is_named_with_its_url(streamlit_like):
    with pytest.raises(PortBusy) as busy:
        check_port(streamlit_like)
    message = str(busy.value)
    assert f"http://127.0.0.1:{streamlit_like}" in message
    assert "the UI of a demo still running" in message
    assert f"--port {streamlit_like + 1}" in message


def test_the_make_demo_check_exits_2_with_the_message(streamlit_like):
    done = subprocess.run(
        [sys.executable, "-m", "provenance.ports", str(streamlit_like)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert f"Open http://127.0.0.1:{streamlit_like} to use the UI" in done.stderr


def test_provenance_ui_refuses_a_taken_port_before_starting_streamlit(streamlit_like, tmp_path):
    ui = ["ui", "--out", str(tmp_path), "--port", str(streamlit_like)]
    done = subprocess.run(
        [sys.executable, "-c", "from provenance import cli; cli.main()", *ui],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2
    assert "already in use by a Streamlit server" in done.stderr
    assert f"Open http://127.0.0.1:{streamlit_like}" in done.stderr
