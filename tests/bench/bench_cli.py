#!/usr/bin/env python3
"""Time a command-line codec as a whole process and print MB/s of uncompressed bytes.

    bench_cli.py BYTES INFILE COMMAND [ARG]...

COMMAND reads INFILE on stdin and writes to /dev/null; BYTES is the uncompressed size it
handles (the input when compressing, the output when decompressing).
"""
import subprocess
import sys
import time


def main():
    if len(sys.argv) < 4:
        sys.exit(__doc__)
    size, path, argv = int(sys.argv[1]), sys.argv[2], sys.argv[3:]
    with open(path, "rb") as inp, open("/dev/null", "wb") as out:
        t0 = time.perf_counter()
        rc = subprocess.run(argv, stdin=inp, stdout=out).returncode
        t = time.perf_counter() - t0
    if rc != 0:
        sys.exit(f"{argv[0]} exited with {rc}")
    print(f"{size / t / 1e6:.2f}")


if __name__ == "__main__":
    main()
