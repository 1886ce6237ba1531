"""`feedd check` rejects exactly what `feedd run` would: a broken config never
starts the daemon with half a config, and never creates the database."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

# One of each kind (the unit tests in tests/unit/test_config.py cover every rule);
# each case costs two interpreter starts.
BROKEN = {
    "unknown key": '[fetch]\nintervall = "30m"\n',
    "bounds crossed": '[fetch]\nmin_interval = "2d"\nmax_interval = "1d"\n',
    "credentials in a URL": '[[feeds]]\nurl = "https://u:p@example.com/feed"\n',
    "password variable unset": '[[feeds]]\nurl = "https://example.com/f"\nusername = "u"\n'
    'password = { env = "FEEDD_TEST_SURELY_UNSET" }\n',
    "duplicate feed": '[[feeds]]\nurl = "https://example.com/f"\n[[feeds]]\n'
    'url = "https://EXAMPLE.com/f"\n',
    "not TOML": "[fetch\n",
}


def feedd(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "feedd", *args],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=cwd,
        check=False,
    )


@pytest.mark.parametrize("text", BROKEN.values(), ids=BROKEN.keys())
def test_check_and_run_agree_on_a_broken_config(tmp_path: Path, text: str):
    config = tmp_path / "feedd.toml"
    config.write_text('database = "feedd.db"\n' + text)
    checked = feedd("check", "-c", str(config), cwd=tmp_path)
    ran = feedd("run", "-c", str(config), cwd=tmp_path)
    assert checked.returncode == ran.returncode == 2, (checked.stderr, ran.stderr)
    # Both name the file; run reports the same problems check does.
    assert str(config) in checked.stderr
    problems = [line for line in checked.stderr.splitlines() if line.startswith(str(config))]
    assert problems
    for problem in problems:
        assert problem in ran.stderr
    assert not (tmp_path / "feedd.db").exists()
