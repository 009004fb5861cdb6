#!/usr/bin/env python3
"""Runs a command and records its peak anonymous memory.

usage: peak_anon.py OUT_FILE COMMAND [ARGS...]

The kernel keeps a high-water mark of the whole RSS (VmHWM) but not of its anonymous part, so
RssAnon is sampled from /proc/PID/status every millisecond while the command runs (it is the
command's own process: stdbuf and similar wrappers exec it). Writes "<peak RssAnon KiB> <VmHWM
KiB>" to OUT_FILE and exits with the command's status. Anonymous memory that lives shorter than
a sample interval can be missed; the buffers this measures live for the whole job.
"""
import subprocess
import sys
import time


def sample(pid):
    anon = hwm = None
    try:
        with open(f"/proc/{pid}/status", "rb") as f:
            for line in f:
                if line.startswith(b"RssAnon:"):
                    anon = int(line.split()[1])
                elif line.startswith(b"VmHWM:"):
                    hwm = int(line.split()[1])
    except (FileNotFoundError, ProcessLookupError, ValueError):
        pass
    return anon, hwm


def main():
    if len(sys.argv) < 3:
        sys.stderr.write(__doc__)
        return 2
    out, cmd = sys.argv[1], sys.argv[2:]
    proc = subprocess.Popen(cmd)
    peak_anon = peak_hwm = 0
    while proc.poll() is None:
        anon, hwm = sample(proc.pid)
        # A zombie's status has no memory lines: keep the last figures.
        if anon is not None:
            peak_anon = max(peak_anon, anon)
            peak_hwm = max(peak_hwm, hwm or 0)
        time.sleep(0.001)
    with open(out, "w") as f:
        f.write(f"{peak_anon} {peak_hwm}\n")
    return proc.returncode


if __name__ == "__main__":
    sys.exit(main())
