"""bench_spawn.py N HEAP_MIB CHILD - subprocess.run() N times, print spawns per second."""
import subprocess
import sys
import time

n, heap_mib, child = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
if heap_mib:
    heap = bytearray(heap_mib << 20)
    heap[::4096] = b"\x01" * len(range(0, len(heap), 4096))  # touch every page
t0 = time.monotonic()
for _ in range(n):
    subprocess.run([child], check=True)
print(f"{n / (time.monotonic() - t0):.1f}")
