"""The systemd unit for feedd, rendered for a given install.

``render_unit`` is the single source of systemd/feedd.service: that file is
``render_unit(DEFAULT_EXECUTABLE)`` byte for byte (tests/unit/test_unit.py
checks it), and ``feedd systemd-unit`` prints the same unit with ExecStart
pointing at the running install. After changing UNIT_TEMPLATE, regenerate the
file with ``python -m feedd.unit > systemd/feedd.service``.

The unit's settings must match feedd/daemon.py: Type=notify (READY=1 once the
config is valid and the database open, WATCHDOG=1 while the scheduler tick is
alive, RELOADING=1/READY=1 around a SIGHUP reload, STOPPING=1 on SIGTERM).
docs/deploy.md explains the install, the feedd user and how other accounts
read the database.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from pathlib import PurePosixPath

DEFAULT_EXECUTABLE = "/opt/feedd/bin/feedd"
DEFAULT_CONFIG = "/etc/feedd/feedd.toml"

_EXEC_START = "@EXEC_START@"

UNIT_TEMPLATE = """\
# feedd as a systemd service (issue 6).
#
# Printed by `feedd systemd-unit` for the install it runs from;
# systemd/feedd.service is the same output for a venv in /opt/feedd.
# Install, upgrade, the feedd user and reading the database from other
# accounts: docs/deploy.md. Change settings with `systemctl edit feedd`
# (a drop-in survives regenerating this file).
#
# The config must name an absolute database path in the state directory,
#   database = "/var/lib/feedd/feedd.db"
# since a relative path would resolve next to the config, in /etc/feedd,
# which the service cannot write.

[Unit]
Description=feedd feed ingestion daemon
Documentation=https://github.com/feedd/feedd/blob/main/docs/deploy.md
Wants=network-online.target
After=network-online.target

[Service]
# feedd sends READY=1 once the config is valid and the database is open,
# RELOADING=1 then READY=1 around a reload, STOPPING=1 on SIGTERM.
Type=notify
# Only feedd's main process may send those notifications.
NotifyAccess=main
ExecStart=@EXEC_START@
# SIGHUP re-reads the config; an invalid one is logged and the old one kept.
ExecReload=/bin/kill -HUP $MAINPID
# feedd sends WATCHDOG=1 only while its scheduler tick is alive; silence for
# this long makes systemd abort it (SIGABRT) and Restart= start it again.
WatchdogSec=60
# On that SIGABRT, Python prints every thread's traceback to the journal.
Environment=PYTHONFAULTHANDLER=1
# Opening (and migrating) a large database may take a while before READY=1.
TimeoutStartSec=120
# SIGTERM: feedd commits the write in progress and exits 0.
KillSignal=SIGTERM
TimeoutStopSec=60
Restart=on-failure
RestartSec=10
# Exit status 2 is a config or usage error: a restart would not fix it.
RestartPreventExitStatus=2

# The system user and group feedd, from sysusers.d (systemd/feedd.sysusers):
# a static user rather than DynamicUser=yes, so that accounts in the group
# feedd can read the database (docs/deploy.md, "Reading the database").
User=feedd
Group=feedd
# /var/lib/feedd, owned by feedd:feedd; the group may read it, others not.
StateDirectory=feedd
StateDirectoryMode=0750
# /etc/feedd, owned by root; read-only for the service.
ConfigurationDirectory=feedd
# New files (the database; SQLite gives -wal and -shm the database's mode)
# are readable by the group feedd and by no one else.
UMask=0027

# Hardening. `systemd-analyze security feedd` rates what is left.
# The whole file system is read-only, except the state directory.
ProtectSystem=strict
# /home, /root and /run/user are empty and inaccessible.
ProtectHome=yes
# A private /tmp and /var/tmp, emptied when the service stops.
PrivateTmp=yes
# A minimal /dev (null, zero, random, urandom, ...) without hardware devices.
PrivateDevices=yes
# No device node may be opened beyond those pseudo devices.
DevicePolicy=closed
# File system mounts made in the service's namespace stay private to it.
PrivateMounts=yes
# A user namespace mapping only root and feedd; other users appear as nobody.
PrivateUsers=yes
# Neither feedd nor its children may gain privileges (setuid, file caps).
NoNewPrivileges=yes
# No capabilities at all...
CapabilityBoundingSet=
# ...and none handed over as ambient capabilities either.
AmbientCapabilities=
# Only local sockets (journal, sd_notify) and IPv4/IPv6; no netlink, packet.
RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6
# Only the system calls a typical service needs...
SystemCallFilter=@system-service
# ...minus privileged ones (chown, setuid, ...) and scheduling/resource ones.
SystemCallFilter=~@privileged @resources
# A refused system call fails with EPERM (a Python error) rather than a kill.
SystemCallErrorNumber=EPERM
# Only the native ABI's system calls (no 32-bit x86 calls on x86-64).
SystemCallArchitectures=native
# Kernel tunables (/proc/sys, /sys, ...) are read-only.
ProtectKernelTunables=yes
# No kernel module may be loaded.
ProtectKernelModules=yes
# No access to the kernel log ring buffer.
ProtectKernelLogs=yes
# The cgroup file system is read-only.
ProtectControlGroups=yes
# The system and hardware clocks cannot be set.
ProtectClock=yes
# The host and domain names cannot be changed.
ProtectHostname=yes
# Other users' processes are invisible in /proc.
ProtectProc=invisible
# /proc shows process directories only, not /proc/sys, /proc/kcore and such.
ProcSubset=pid
# No namespaces (user, network, mount, ...) may be created.
RestrictNamespaces=yes
# No realtime scheduling.
RestrictRealtime=yes
# No setuid or setgid files may be created.
RestrictSUIDSGID=yes
# The execution domain (personality) cannot be changed.
LockPersonality=yes
# No memory both writable and executable (CPython without a JIT needs none).
MemoryDenyWriteExecute=yes
# SysV and POSIX IPC objects feedd leaves behind are removed when it stops.
RemoveIPC=yes
# No IPAddressDeny=: feedd fetches feeds from anywhere on the internet; keep
# it off private networks with [fetch] allow_private_networks = false.

[Install]
WantedBy=multi-user.target
"""


def _quote(word: str) -> str:
    """One ExecStart= word, as systemd parses it back (systemd.service, "COMMAND LINES")."""
    if not word or any(ord(char) < 32 or ord(char) == 127 for char in word):
        raise ValueError(f"cannot put {word!r} in a unit file")
    # Backslashes are C escapes, % starts a specifier, $ an environment variable.
    escaped = word.replace("\\", "\\\\").replace("%", "%%").replace("$", "$$")
    if any(char.isspace() or char in "\"'" for char in word):
        return '"' + escaped.replace('"', '\\"') + '"'
    return escaped


def exec_start(executable: str | Sequence[str], config: str = DEFAULT_CONFIG) -> str:
    """The ExecStart= value: the feedd command (a path, or words such as
    ``(python, "-m", "feedd")``) followed by ``run -c CONFIG``."""
    command = (executable,) if isinstance(executable, str) else tuple(executable)
    if not command or not PurePosixPath(command[0]).is_absolute():
        raise ValueError(f"the feedd command must start with an absolute path, got {command!r}")
    if not PurePosixPath(config).is_absolute():
        raise ValueError(f"the config path must be absolute, got {config!r}")
    return " ".join(_quote(word) for word in (*command, "run", "-c", config))


def render_unit(executable: str | Sequence[str], config: str = DEFAULT_CONFIG) -> str:
    """The unit file text, with ExecStart running ``executable run -c config``."""
    return UNIT_TEMPLATE.replace(_EXEC_START, exec_start(executable, config))


# ProtectHome= and PrivateTmp= hide these from the service.
_HIDDEN = {
    "/home": "ProtectHome=yes",
    "/root": "ProtectHome=yes",
    "/run/user": "ProtectHome=yes",
    "/tmp": "PrivateTmp=yes",  # noqa: S108 - a path to warn about, not a file we create
    "/var/tmp": "PrivateTmp=yes",  # noqa: S108 - likewise
}


def unit_warnings(executable: str | Sequence[str], config: str = DEFAULT_CONFIG) -> tuple[str, ...]:
    """Paths in the unit that the sandboxed service will not be able to see."""
    command = (executable,) if isinstance(executable, str) else tuple(executable)
    warnings = []
    for what, path, advice in (
        ("feedd", command[0], "install feedd in a venv under /opt"),
        ("the config", config, "put the config in /etc/feedd"),
    ):
        for hidden, setting in _HIDDEN.items():
            if PurePosixPath(path).is_relative_to(hidden):
                warnings.append(
                    f"{what} is under {hidden} ({path}), which {setting} hides from "
                    f"the service: {advice} (docs/deploy.md)"
                )
    return tuple(warnings)


def installed_command(python: str = sys.executable) -> tuple[str, ...]:
    """How to run this install of feedd: the console script next to the
    interpreter (a venv's bin/), else ``python -m feedd``.

    Symlinks are not resolved: a venv's bin/python links outside the venv.
    """
    python = os.path.abspath(python)
    script = os.path.join(os.path.dirname(python), "feedd")
    if os.path.isfile(script) and os.access(script, os.X_OK):
        return (script,)
    return (python, "-m", "feedd")


if __name__ == "__main__":
    sys.stdout.write(render_unit(DEFAULT_EXECUTABLE))
