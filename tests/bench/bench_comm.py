"""bench_comm.py TOTAL CHILD... - Popen(stdin/stdout/stderr=PIPE).communicate(input) through the
child (cat); print GB/s of input. The input is built before the clock starts."""
import os
import subprocess
import sys
import time

total, child = int(sys.argv[1]), sys.argv[2:]
if os.environ.get("PIN_PARENT"):
    os.sched_setaffinity(0, {int(os.environ["PIN_PARENT"])})
line = (b"abcdefghijklmnopqrstuvwxyz" * 4)[:79] + b"\n"
data = (line * (total // 80 + 1))[:total]
t0 = time.monotonic()
p = subprocess.Popen(child, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
out, _ = p.communicate(data)
dt = time.monotonic() - t0
if len(out) != total:
    sys.exit(f"bench_comm.py: {len(out)} of {total} bytes")
print(f"{total / dt / 1e9:.4f}")
