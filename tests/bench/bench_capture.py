"""bench_capture.py MODE TOTAL CHILD... - Python peers of bench_capture; print GB/s.
MODE: communicate (Popen(stdout=PIPE).communicate(): one pipe, its fast path) or
run-capture (subprocess.run(capture_output=True): two pipes, its selector loop)."""
import os
import subprocess
import sys
import time

mode, total, child = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
if os.environ.get("PIN_PARENT"):
    os.sched_setaffinity(0, {int(os.environ["PIN_PARENT"])})
t0 = time.monotonic()
if mode == "communicate":
    out, _ = subprocess.Popen(child, stdout=subprocess.PIPE).communicate()
else:
    out = subprocess.run(child, capture_output=True).stdout
dt = time.monotonic() - t0
if len(out) != total:
    sys.exit(f"bench_capture.py: {len(out)} of {total} bytes")
print(f"{total / dt / 1e9:.4f}")
