"""The systemd unit (feedd/unit.py): one source for systemd/feedd.service and
`feedd systemd-unit`, and the settings feedd/daemon.py relies on (issue 6)."""

from __future__ import annotations

import re
import shlex
import tomllib
from pathlib import Path

import pytest

from feedd.cli import cli
from feedd.config import parse_config
from feedd.unit import (
    DEFAULT_CONFIG,
    DEFAULT_EXECUTABLE,
    exec_start,
    render_unit,
    unit_warnings,
)

ROOT = Path(__file__).parents[2]
# Paths unit_warnings must flag; nothing is ever written there.
TMP = "/tmp"  # noqa: S108
VAR_TMP = "/var/tmp"  # noqa: S108

# Every hardening directive issue 6 asks for, with the value it must have.
HARDENING = {
    "ProtectSystem": "strict",
    "ProtectHome": "yes",
    "PrivateTmp": "yes",
    "PrivateDevices": "yes",
    "DevicePolicy": "closed",
    "NoNewPrivileges": "yes",
    "RestrictAddressFamilies": "AF_UNIX AF_INET AF_INET6",
    "SystemCallFilter": "@system-service",
    "SystemCallArchitectures": "native",
    "CapabilityBoundingSet": "",
    "AmbientCapabilities": "",
    "ProtectKernelTunables": "yes",
    "ProtectKernelModules": "yes",
    "ProtectKernelLogs": "yes",
    "ProtectControlGroups": "yes",
    "ProtectClock": "yes",
    "ProtectHostname": "yes",
    "ProtectProc": "invisible",
    "ProcSubset": "pid",
    "RestrictNamespaces": "yes",
    "RestrictRealtime": "yes",
    "RestrictSUIDSGID": "yes",
    "LockPersonality": "yes",
    "MemoryDenyWriteExecute": "yes",
    "RemoveIPC": "yes",
    "UMask": "0027",
}

# What feedd/daemon.py and docs/deploy.md expect of the service.
SERVICE = {
    "Type": "notify",
    "NotifyAccess": "main",
    "WatchdogSec": "60",
    "ExecReload": "/bin/kill -HUP $MAINPID",
    "Restart": "on-failure",
    "User": "feedd",
    "Group": "feedd",
    "StateDirectory": "feedd",
    "StateDirectoryMode": "0750",
    "ConfigurationDirectory": "feedd",
}


def directives(unit: str) -> list[tuple[str, str, str]]:
    """(section, key, value) for every setting, in order."""
    section = ""
    found = []
    for line in unit.splitlines():
        if line.startswith("["):
            section = line.strip("[]")
        elif line and not line.startswith("#"):
            key, _, value = line.partition("=")
            found.append((section, key, value))
    return found


def test_the_unit_file_is_render_unit_output():
    expected = render_unit(DEFAULT_EXECUTABLE)
    actual = (ROOT / "systemd" / "feedd.service").read_text()
    assert actual == expected, (
        "systemd/feedd.service is out of date: run `python -m feedd.unit > systemd/feedd.service`"
    )


def test_default_exec_start():
    settings = directives(render_unit(DEFAULT_EXECUTABLE))
    assert ("Service", "ExecStart", "/opt/feedd/bin/feedd run -c /etc/feedd/feedd.toml") in settings
    assert DEFAULT_CONFIG == "/etc/feedd/feedd.toml"


def test_exec_start_points_at_the_given_install():
    unit = render_unit("/srv/apps/feedd/bin/feedd", "/etc/feedd/other.toml")
    exec_lines = [line for line in unit.splitlines() if line.startswith("ExecStart=")]
    assert exec_lines == ["ExecStart=/srv/apps/feedd/bin/feedd run -c /etc/feedd/other.toml"]
    # Nothing else changes.
    assert unit.replace(exec_lines[0], "") == render_unit(DEFAULT_EXECUTABLE).replace(
        f"ExecStart={exec_start(DEFAULT_EXECUTABLE)}", ""
    )


def test_exec_start_for_python_dash_m():
    assert (
        exec_start(("/usr/bin/python3", "-m", "feedd"))
        == "/usr/bin/python3 -m feedd run -c /etc/feedd/feedd.toml"
    )


@pytest.mark.parametrize(
    ("path", "word"),
    [
        ("/opt/my feedd/bin/feedd", '"/opt/my feedd/bin/feedd"'),
        ("/opt/100%/feedd", "/opt/100%%/feedd"),  # % starts a specifier
        ("/opt/$HOME/feedd", "/opt/$$HOME/feedd"),  # $ an environment variable
        ("/opt/back\\slash/feedd", "/opt/back\\\\slash/feedd"),  # C escapes
        ('/opt/"q"/feedd', '"/opt/\\"q\\"/feedd"'),
        ("/opt/it's/feedd", '"/opt/it\'s/feedd"'),
    ],
)
def test_exec_start_quotes_as_systemd_parses(path, word):
    assert exec_start(path, "/etc/feedd/feedd.toml") == f"{word} run -c /etc/feedd/feedd.toml"


@pytest.mark.parametrize(
    ("executable", "config"),
    [
        ("feedd", DEFAULT_CONFIG),  # ExecStart needs an absolute path
        ("/opt/feedd/bin/feedd", "feedd.toml"),  # the service runs in /
        ("/opt/feedd/bin/feedd", "/etc/feedd/a\nb.toml"),  # would end the line
        ((), DEFAULT_CONFIG),
    ],
)
def test_render_unit_rejects_what_systemd_cannot_run(executable, config):
    with pytest.raises(ValueError):
        render_unit(executable, config)


def test_every_hardening_directive_is_set_and_explained():
    unit = render_unit(DEFAULT_EXECUTABLE)
    settings = directives(unit)
    service = [(key, value) for section, key, value in settings if section == "Service"]
    for key, value in {**HARDENING, **SERVICE}.items():
        assert (key, value) in service, f"{key}={value} missing from [Service]"
    assert ("SystemCallFilter", "~@privileged @resources") in service
    # The service fetches from the internet: no IP allow list, no private network.
    assert not {"IPAddressDeny", "IPAddressAllow", "PrivateNetwork"} & {k for k, _ in service}
    # Each hardening directive is explained by the comment line just above it
    # (the "...and none" continuation counts for its pair).
    lines = unit.splitlines()
    for key in HARDENING:
        index = next(i for i, line in enumerate(lines) if line.startswith(f"{key}="))
        assert lines[index - 1].startswith("# "), f"{key} has no comment above it"


def test_no_directive_is_set_twice_except_lists():
    keys = [key for _, key, _ in directives(render_unit(DEFAULT_EXECUTABLE))]
    repeated = {key for key in keys if keys.count(key) > 1}
    assert repeated == {"SystemCallFilter"}  # the allow list, then what it takes away


def test_the_cli_default_config_is_the_unit_default():
    params = {param.name: param for param in cli.commands["systemd-unit"].params}
    assert params["config_path"].default == DEFAULT_CONFIG


def test_warnings_for_paths_the_sandbox_hides():
    assert unit_warnings(DEFAULT_EXECUTABLE, DEFAULT_CONFIG) == ()
    assert unit_warnings(("/usr/bin/python3", "-m", "feedd")) == ()
    (home,) = unit_warnings("/home/ann/.venv/bin/feedd")
    assert "ProtectHome=yes" in home and "/home/ann/.venv/bin/feedd" in home
    (tmp,) = unit_warnings(DEFAULT_EXECUTABLE, f"{TMP}/feedd.toml")
    assert "PrivateTmp=yes" in tmp and "the config" in tmp
    assert len(unit_warnings("/root/.local/bin/feedd", f"{VAR_TMP}/f.toml")) == 2
    # Only whole path components count.
    assert unit_warnings("/homestead/feedd", f"{TMP}files/f.toml") == ()


def test_deploy_doc_config_edit_gives_the_state_directory_database():
    """docs/deploy.md turns config/feedd.toml into /etc/feedd/feedd.toml with a
    sed expression; applied to the shipped sample, the database must land in
    /var/lib/feedd (the unit's StateDirectory)."""
    deploy = (ROOT / "docs" / "deploy.md").read_text()
    match = re.search(r"^sed 's\|(.+?)\|(.+?)\|' config/feedd\.toml", deploy, re.MULTILINE)
    assert match, "docs/deploy.md must show the sed command that sets the database path"
    sample = (ROOT / "config" / "feedd.toml").read_text()
    # The expression is a plain BRE that means the same as a Python regex.
    edited, count = re.subn(match[1], match[2], sample, flags=re.MULTILINE)
    assert count == 1
    config = parse_config(tomllib.loads(edited), Path("/etc/feedd/feedd.toml"))
    assert config.database == Path("/var/lib/feedd/feedd.db")


def test_deploy_doc_states_the_sysusers_line():
    sysusers = (ROOT / "systemd" / "feedd.sysusers").read_text()
    (entry,) = [line for line in sysusers.splitlines() if line and not line.startswith("#")]
    fields = ["u", "feedd", "-", "feedd feed ingestion daemon", "/var/lib/feedd"]
    assert shlex.split(entry) == fields
    deploy = (ROOT / "docs" / "deploy.md").read_text()
    assert " ".join(entry.split()) in deploy
