"""`feedd systemd-unit` run as the installed command, and the unit checked by
systemd's own tools when they are installed (issue 6)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from feedd.unit import installed_command, render_unit

FEEDD = str(Path(sys.executable).parent / "feedd")
ROOT = Path(__file__).parents[2]
SYSTEMD_ANALYZE = shutil.which("systemd-analyze")
SETPRIV = shutil.which("setpriv")
AS_ROOT = os.geteuid() == 0
NOBODY = "65534"

needs_systemd_analyze = pytest.mark.skipif(
    SYSTEMD_ANALYZE is None,
    reason="systemd-analyze is not installed (the systemd package); the unit is not verified",
)


def feedd(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {key: value for key, value in os.environ.items() if key != "FEEDD_CONFIG"}
    return subprocess.run(
        [FEEDD, *args], capture_output=True, text=True, timeout=60, env=env, cwd=cwd, check=False
    )


def test_prints_the_unit_for_this_install():
    result = feedd("systemd-unit")
    assert result.returncode == 0, result.stderr
    assert f"\nExecStart={FEEDD} run -c /etc/feedd/feedd.toml\n" in result.stdout
    assert "\nType=notify\n" in result.stdout
    assert result.stdout == render_unit(FEEDD)


def test_config_option_is_made_absolute(tmp_path):
    result = feedd("systemd-unit", "-c", "feedd.toml", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert f"\nExecStart={FEEDD} run -c {tmp_path / 'feedd.toml'}\n" in result.stdout
    if tmp_path.is_relative_to("/tmp"):  # noqa: S108 - checking where pytest put it
        assert "PrivateTmp=yes hides" in result.stderr


def test_help():
    result = feedd("systemd-unit", "--help")
    assert result.returncode == 0
    assert "/etc/feedd/feedd.toml" in result.stdout


def test_installed_command_prefers_the_console_script(tmp_path):
    python = tmp_path / "bin" / "python3"
    python.parent.mkdir()
    python.touch()
    assert installed_command(str(python)) == (str(python), "-m", "feedd")
    script = python.parent / "feedd"
    script.write_text("#!/bin/sh\n")
    script.chmod(0o755)
    assert installed_command(str(python)) == (str(script),)


# -- systemd's own checks


def as_checker(*command: str) -> list[str]:
    """Run as root, systemd-analyze verify and security start an offline
    manager that touches /run/systemd/systemd-units-load; as nobody that touch
    fails harmlessly, so the tests leave nothing outside their folder."""
    if not AS_ROOT:
        return list(command)
    if SETPRIV is None:
        pytest.skip("running as root without setpriv (util-linux) to drop to nobody")
    return [SETPRIV, f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups", *command]


@pytest.fixture
def shared_dir() -> Iterator[Path]:
    """A folder nobody can read (tmp_path's parents are private to us)."""
    with tempfile.TemporaryDirectory(prefix="feedd-unit-") as name:
        folder = Path(name)
        folder.chmod(0o755)
        yield folder


def analyze(folder: Path, unit: str, *args: str) -> subprocess.CompletedProcess[str]:
    path = folder / "feedd.service"
    path.write_text(unit)
    path.chmod(0o644)
    assert SYSTEMD_ANALYZE is not None
    return subprocess.run(
        as_checker(SYSTEMD_ANALYZE, *args, str(path)),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def printed_unit(folder: Path) -> str:
    """`feedd systemd-unit`'s output. verify checks that ExecStart can be run,
    so if the checking user cannot reach this install (a venv under /root, say)
    ExecStart points at a stand-in script instead."""
    unit = feedd("systemd-unit").stdout
    reachable = subprocess.run(as_checker("test", "-x", FEEDD), check=False).returncode == 0
    if reachable:
        return unit
    stand_in = folder / "feedd"
    stand_in.write_text("#!/bin/sh\n")
    stand_in.chmod(0o755)
    return unit.replace(f"ExecStart={FEEDD} ", f"ExecStart={stand_in} ")


@needs_systemd_analyze
def test_systemd_analyze_verify_passes(shared_dir):
    result = analyze(shared_dir, printed_unit(shared_dir), "verify")
    # No warnings either: systemd merely warns about unknown or misspelt settings.
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")


@needs_systemd_analyze
def test_systemd_analyze_verify_would_catch_a_mistake(shared_dir):
    """The check above is not vacuous as the user it runs as."""
    broken = printed_unit(shared_dir).replace("\nType=notify\n", "\nType=notifyy\n")
    result = analyze(shared_dir, broken, "verify")
    assert "notifyy" in result.stderr


def systemd_version() -> int:
    assert SYSTEMD_ANALYZE is not None
    output = subprocess.run(
        [SYSTEMD_ANALYZE, "--version"], capture_output=True, text=True, check=True
    ).stdout
    match = re.match(r"systemd (\d+)", output)
    return int(match[1]) if match else 0


@needs_systemd_analyze
def test_systemd_analyze_security_exposure(shared_dir):
    if systemd_version() < 250:
        pytest.skip("systemd-analyze security --offline needs systemd 250 or newer")
    unit = (ROOT / "systemd" / "feedd.service").read_text()
    result = analyze(shared_dir, unit, "security", "--offline=yes", "--no-pager")
    assert result.returncode == 0, result.stderr
    match = re.search(r"Overall exposure level for feedd\.service: (\d+\.\d+)", result.stdout)
    assert match, result.stdout
    # 1.1 ("OK") with systemd 252, as docs/deploy.md says; newer versions rate
    # more settings, hence the margin. What is left: network access (it
    # fetches feeds), the host's root directory, a group-readable UMask.
    assert float(match[1]) <= 2.0, result.stdout


@pytest.mark.skipif(
    shutil.which("systemd-sysusers") is None,
    reason="systemd-sysusers is not installed; systemd/feedd.sysusers is not checked",
)
def test_sysusers_file_creates_the_feedd_user_and_group(tmp_path):
    (tmp_path / "etc").mkdir()
    result = subprocess.run(
        ["systemd-sysusers", f"--root={tmp_path}", str(ROOT / "systemd" / "feedd.sysusers")],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    passwd = {
        line.split(":")[0]: line.split(":")
        for line in (tmp_path / "etc" / "passwd").read_text().splitlines()
    }
    groups = {
        line.split(":")[0]: line.split(":")
        for line in (tmp_path / "etc" / "group").read_text().splitlines()
    }
    _, _, uid, gid, _, home, shell = passwd["feedd"]
    assert int(uid) < 1000  # a system user
    assert groups["feedd"][2] == gid  # its own group, which readers may join
    assert home == "/var/lib/feedd"
    assert shell.endswith("nologin")
