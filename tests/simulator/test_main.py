from __future__ import annotations

import socket
import subprocess
import sys
import time

import pytest
import requests

from simulator.__main__ import main


def test_python_m_simulator_serves_until_terminated() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    command = [sys.executable, "-m", "simulator", "--port", str(port), "--records",
               "Leads=42", "--per-page", "10", "--job-seconds", "0", "0.05"]  # fmt: skip
    process = subprocess.Popen(command, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120  # a generous wait, not a timing assert
        while True:
            try:
                config = requests.get(f"http://127.0.0.1:{port}/_sim/config", timeout=1).json()
                break
            except requests.ConnectionError:
                assert time.monotonic() < deadline, "the simulator did not start"
                time.sleep(0.1)
        assert config["records"]["Leads"] == 42
        assert config["per_page"] == 10
        assert config["job_seconds"] == [0.0, 0.05]
    finally:
        process.terminate()
        process.wait(timeout=15)


def test_bad_records_argument() -> None:
    with pytest.raises(SystemExit, match="MODULE=COUNT"):
        main(["--records", "Leads"])
