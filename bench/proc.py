"""What /proc says about a process: CPU time (all threads, user + system) and resident memory."""

from __future__ import annotations

import os
import resource
import time
from dataclasses import dataclass, field

__all__ = ["CpuMeter", "cpu_seconds", "machine_busy_seconds", "raise_fd_limit", "rss_bytes"]

_TICKS = os.sysconf("SC_CLK_TCK")
_PAGE = os.sysconf("SC_PAGE_SIZE")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of every thread of ``pid`` so far (fields 14 and 15 of /proc/pid/stat)."""
    with open(f"/proc/{pid}/stat", "rb") as stat:
        raw = stat.read()
    # The command name (field 2) may hold spaces and parentheses: split after its closing one.
    fields = raw[raw.rindex(b")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / _TICKS


def rss_bytes(pid: int) -> int:
    """Resident set size of ``pid`` (second field of /proc/pid/statm, in pages)."""
    with open(f"/proc/{pid}/statm", "rb") as statm:
        return int(statm.read().split()[1]) * _PAGE


def machine_busy_seconds() -> float:
    """CPU time every core of the machine spent not idle so far, all processes together (/proc/stat)."""
    with open("/proc/stat", "rb") as stat:
        fields = stat.readline().split()[1:]
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(value) for value in fields[:8])
    return (user + nice + system + irq + softirq + steal) / _TICKS


@dataclass(slots=True)
class CpuMeter:
    """CPU time processes spend inside measured windows, summed over every :meth:`start`/:meth:`stop` pair.

    The machine's own busy time is kept too, so what other processes took meanwhile can be told apart.
    """

    pids: list[int]
    cpu: dict[int, float] = field(default_factory=dict)
    machine: float = 0.0
    wall: float = 0.0
    _cpu0: dict[int, float] = field(default_factory=dict)
    _machine0: float = 0.0
    _wall0: int = 0

    def start(self) -> None:
        self._cpu0 = {pid: cpu_seconds(pid) for pid in self.pids}
        self._machine0 = machine_busy_seconds()
        self._wall0 = time.monotonic_ns()

    def stop(self) -> None:
        self.wall += (time.monotonic_ns() - self._wall0) / 1e9
        self.machine += machine_busy_seconds() - self._machine0
        for pid, before in self._cpu0.items():
            self.cpu[pid] = self.cpu.get(pid, 0.0) + cpu_seconds(pid) - before

    def total(self, pids: list[int] | None = None) -> float:
        return sum(self.cpu.get(pid, 0.0) for pid in (self.pids if pids is None else pids))

    def cores(self, pids: list[int] | None = None) -> float:
        """Average number of cores the processes kept busy in the windows (1.0: one core fully)."""
        return self.total(pids) / self.wall if self.wall > 0 else 0.0

    @property
    def others_cores(self) -> float:
        """Cores kept busy by every other process on the machine in the windows."""
        return max(0.0, (self.machine - self.total()) / self.wall) if self.wall > 0 else 0.0


def raise_fd_limit(wanted: int) -> int:
    """Raise this process's soft open-file limit towards ``wanted`` (capped by the hard limit); return it."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if target > soft:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        return target
    return soft
