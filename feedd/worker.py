"""Inside a worker process (workers.Digesters spawns them): what a task runs
under, and the worker's set-up.

``digest`` is pure CPU work; here is what keeps one process doing it safe: a
memory budget (RLIMIT_DATA) and a time per document, watched by a thread that
stops a task before the limit (``_watch_task``), faulthandler's watchdog for
a task stuck in C code, and the heap given back after each task. The daemon
imports this module (the pool names its functions) but runs none of it.
"""

from __future__ import annotations

import _thread
import contextlib
import faulthandler
import gc
import os
import resource
import signal
import threading
import time
from collections.abc import Callable
from typing import ParamSpec, TypeVar

from . import digest, heap
from .errors import ParseError

PARENT_CHECK_SECONDS = 0.5


def read_page(page: bytes, url: str, selector: str | None) -> digest.ReadPage:
    return task(digest.read_page, page, url, selector)


def digest_body(
    body: bytes, url: str, content_type: str | None, memory: digest.Memory | None, max_items: int
) -> digest.Digest:
    return task(digest.digest, body, url, content_type, memory, max_items)


def task(work: Callable[_P, _R], *args: _P.args, **kwargs: _P.kwargs) -> _R:
    """One task of a worker, kept to the worker's budget (_limit_memory) and time
    (_watch_task)."""
    if _task_seconds:
        # Armed before the task allocates: the watchdog is a thread to start.
        with contextlib.suppress(RuntimeError):
            faulthandler.dump_traceback_later(_WATCHDOG_SECONDS + _task_seconds, exit=True)
    _busy.set()
    try:
        try:
            return work(*args, **kwargs)
        finally:
            _busy.clear()  # first: a stop that comes later is not this task's
    except _Stopped as stopped:
        reason = str(stopped)
    except Exception as exc:
        if not _out_of_memory(exc):
            raise
        reason = OVER_BUDGET.format(_BUDGET_MIB)
    finally:
        _task_ended()
    # Raised only here, outside the handler: the MemoryError's traceback held the
    # frames, and so the document's parsed objects; with them gone the worker can
    # pickle this small error back.
    gc.collect()
    heap.release()
    raise ParseError(reason)


OVER_BUDGET = (
    "the document needs more memory than a worker may use ([fetch] worker_memory = {} MiB)"
)
_BUDGET_MIB = 0  # this worker's budget, for the message
_TOO_LONG = "the document took more than {:g} s of a worker's time to read"
_P = ParamSpec("_P")
_R = TypeVar("_R")


def _out_of_memory(exc: BaseException | None) -> bool:
    """Whether a MemoryError is behind the exception (parse.py turns feedparser's
    crashes, MemoryError included, into a ParseError)."""
    while exc is not None:
        if isinstance(exc, MemoryError):
            return True
        exc = exc.__cause__ or exc.__context__
    return False


class _Stopped(BaseException):
    """Raised in a task by the worker's watcher (over its memory or time): not an
    Exception, so that no library's ``except Exception`` goes on regardless."""


# The share of the budget at which the watcher stops a task. The limit itself is
# a wall where any allocation fails, the interpreter's own too: CPython 3.11,
# unwinding an exception with no memory left, retries the same allocation
# forever. Stopped here, the task unwinds with room to spare.
_WATCHED_SHARE = 0.95
_WATCH_SECONDS = 0.01  # between two looks at the data size, while a task runs
# The watchdog (faulthandler's, a C thread that needs no GIL), armed as a task
# starts and cancelled once the worker waits for the next one: a task still
# running this long after its time was up, its result not sent, is C code that
# never gives the interpreter back (a regular expression backtracking; CPython
# 3.11 retrying a failed allocation forever as it unwinds, or as it pickles a
# result that does not fit the budget). A Python thread cannot act then: the
# watchdog prints every thread's stack to stderr and ends the worker, and the
# daemon's pool starts another.
_WATCHDOG_SECONDS = 5.0
_busy = threading.Event()  # set while a task runs
_watched_limit = 0  # bytes of data segment at which a task is stopped; 0: none
_task_seconds = 0.0  # a task's longest run; 0: no limit
_stop_reason = ""  # what _stop_task raises
_stopping = -1  # the task to stop (_tasks_ended before it ends)


def _limit_memory(budget: int) -> None:
    """Bound this worker's data segment (heap and private anonymous mappings, the
    parsed document included) to ``budget`` bytes: a task that grows it past
    95% is stopped (_watch_parent, _stop_task), and an allocation beyond the
    whole budget fails, Python raises MemoryError; either way the document fails
    instead of the machine's memory running out. RLIMIT_DATA, not RLIMIT_AS:
    address space counts glibc's per-thread arena reservations (64 MiB each,
    mostly never touched) and shared libraries, which say nothing about what a
    document costs. A worker digests one body at a time and gives its heap back
    after each, so the budget is per document above the idle worker's ~45 MiB
    (interpreter, libraries' data, the language model)."""
    global _BUDGET_MIB, _watched_limit  # one value per worker process, set once
    _, hard = resource.getrlimit(resource.RLIMIT_DATA)
    soft = budget if hard == resource.RLIM_INFINITY else min(budget, hard)
    resource.setrlimit(resource.RLIMIT_DATA, (soft, hard))
    _BUDGET_MIB = soft // 2**20
    if os.path.exists(_STATM):  # Linux: elsewhere only the limit holds
        _watched_limit = int(soft * _WATCHED_SHARE)


# Delivered by _thread.interrupt_main, within the process: no signal is sent.
_STOP_SIGNAL = signal.SIGUSR1


def _stop_task(signum: int, frame: object) -> None:
    if _busy.is_set() and _tasks_ended == _stopping:  # not one that ended meanwhile
        raise _Stopped(_stop_reason)


def _data_size() -> int:
    """This process's data segment, as RLIMIT_DATA counts it (statm's "data")."""
    with open(_STATM, "rb") as statm:
        return int(statm.read().split()[5]) * _PAGE_SIZE


_STATM = "/proc/self/statm"
_PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")


_tasks_ended = 0  # in this worker; _watch_parent trims after each


def _task_ended() -> None:
    """glibc keeps the heap a large document grew to; giving it back after each body
    holds a worker near its idle size (corpus, one process: 142 -> 105 MB). What
    the result's pickled copy and the body's own take is freed only after the task
    has returned and its result was sent: _watch_parent trims again then."""
    global _tasks_ended
    _tasks_ended += 1
    heap.release()


def start(
    parent: int, memory_budget: int = 0, version: str | None = None, task_seconds: float = 0
) -> None:
    """Each worker: never outlive the daemon, take its code version, load the parser
    and the language model (the daemon does not), then keep to its memory budget
    (bytes, 0 for none) and to ``task_seconds`` a task (0 for no limit)."""
    global _task_seconds  # the daemon's, for the worker's whole life
    if version:
        digest.use_code_version(version)
    _task_seconds = task_seconds
    signal.signal(_STOP_SIGNAL, _stop_task)
    threading.Thread(target=_watch_parent, args=(parent,), daemon=True).start()
    digest.warm_up()  # before the budget applies
    if memory_budget:
        _limit_memory(memory_budget)


def _watch_parent(parent: int) -> None:
    # A daemon killed with SIGKILL cannot stop its workers, and they would wait
    # for work forever: re-parented, they see it and leave.
    seen = trims = 0
    while os.getppid() == parent:
        if _busy.wait(PARENT_CHECK_SECONDS):
            _watch_task(parent)
        else:
            # Waiting for the next body, with the interpreter free: the result
            # has been sent (_task armed the watchdog for that).
            faulthandler.cancel_dump_traceback_later()
        # Trimmed on the two checks after a task ended (_task_ended): by the
        # second, its result has been sent (a large document's result and body:
        # ~20 MB held until the next task otherwise).
        if _tasks_ended != seen:
            seen, trims = _tasks_ended, 2
        if trims:
            trims -= 1
            heap.release()
    os._exit(0)


def _watch_task(parent: int) -> None:
    """Until the task ends: stop it once its data passes the watched limit or it
    has run ``_task_seconds`` (once: a task that runs on is the watchdog's)."""
    global _stop_reason, _stopping  # read by _stop_task, in the task's thread
    pause = _WATCH_SECONDS if _watched_limit else PARENT_CHECK_SECONDS
    started, task = time.monotonic(), _tasks_ended  # the next task ends it

    def running() -> bool:
        return _tasks_ended == task and _busy.is_set()

    while running() and os.getppid() == parent:
        if _watched_limit and _data_size() > _watched_limit:
            _stop_reason = OVER_BUDGET.format(_BUDGET_MIB)
        elif _task_seconds and time.monotonic() - started > _task_seconds:
            _stop_reason = _TOO_LONG.format(_task_seconds)
        else:
            time.sleep(pause)
            continue
        _stopping = task
        _thread.interrupt_main(_STOP_SIGNAL)
        return
