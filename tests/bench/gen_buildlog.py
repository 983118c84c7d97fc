#!/usr/bin/env python3
"""Write MiB mebibytes of a deterministic, build-log-like text to stdout or PATH.

    gen_buildlog.py MIB [PATH]

Compiler command lines, warnings with source excerpts, make's directory chatter, linker lines,
test results, timestamped log lines and valgrind reports, from a seeded generator: the same MIB
gives the same bytes on every machine (the benchmark corpus of perf.md section 4).
"""
import random
import sys

DIRS = ["src", "src/core", "src/net", "src/util", "lib/codec", "tests", "tools/gen", "third_party/json"]
NAMES = ["main", "buffer", "socket", "parser", "lexer", "config", "hash", "arena", "spool", "pipe",
         "process", "signal", "timer", "queue", "stream", "filter", "inflate", "deflate", "log", "path"]
FLAGS = ["-O2", "-g", "-Wall", "-Wextra", "-Wshadow", "-fPIC", "-std=c11", "-D_GNU_SOURCE",
         "-fvisibility=hidden", "-Iinclude", "-Ibuild/gen", "-MD", "-pthread", "-DNDEBUG"]
WARNINGS = ["unused variable 'tmp'", "comparison of integer expressions of different signedness",
            "implicit conversion loses integer precision", "unused parameter 'ctx'",
            "'len' may be used uninitialized in this function", "declaration shadows a local variable"]
LEVELS = ["INFO", "INFO", "INFO", "DEBUG", "WARN", "ERROR"]
MESSAGES = ["connection established to {h}:{p}", "retrying request {n} after {m} ms",
            "cache miss for key {k}", "wrote {n} bytes to {f}", "worker {n} finished job {k}",
            "spawned pid {p} for step {k}", "timeout after {m} ms waiting for {h}"]


def line(r):
    kind = r.random()
    d, n = r.choice(DIRS), r.choice(NAMES)
    if kind < 0.30:
        flags = " ".join(r.sample(FLAGS, r.randint(4, 9)))
        return f"gcc {flags} -c {d}/{n}.c -o build/{d}/{n}.o\n"
    if kind < 0.38:
        ln, col = r.randint(1, 2000), r.randint(1, 80)
        w = r.choice(WARNINGS)
        return (f"{d}/{n}.c:{ln}:{col}: warning: {w} [-W{r.choice(['unused', 'sign-compare', 'shadow'])}]\n"
                f" {ln:5d} |     size_t {n}_len = {r.randint(0, 99999)};\n"
                f"       |            ^~~~~~~\n")
    if kind < 0.45:
        return f"make[{r.randint(1, 4)}]: {'Entering' if r.random() < 0.5 else 'Leaving'} directory '/home/ci/build/{d}'\n"
    if kind < 0.55:
        pct = r.randint(0, 100)
        return f"[{pct:3d}%] Building C object {d}/CMakeFiles/{n}.dir/{n}.c.o\n"
    if kind < 0.60:
        return f"gcc -o build/bin/{n} build/{d}/{n}.o -Lbuild/lib -lpcomm -lz -lzstd -lpthread\n"
    if kind < 0.72:
        ok = r.random() < 0.97
        return f"{r.randint(1, 400):4d}/400 test_{n}_{r.randint(1, 99)}  {'OK  ' if ok else 'FAIL'}  {r.random() * 3:.2f}s\n"
    if kind < 0.95:
        msg = r.choice(MESSAGES).format(h=f"10.0.{r.randint(0, 255)}.{r.randint(1, 254)}",
                                        p=r.randint(1024, 65535), n=r.randint(1, 10**6),
                                        m=r.randint(1, 5000), k=f"{r.getrandbits(48):012x}",
                                        f=f"/var/tmp/{n}.{r.randint(0, 999)}")
        h, mi, s, us = r.randint(0, 23), r.randint(0, 59), r.randint(0, 59), r.randint(0, 999999)
        return f"2026-11-{r.randint(1, 28):02d}T{h:02d}:{mi:02d}:{s:02d}.{us:06d}Z {r.choice(LEVELS):5s} [{n}] {msg}\n"
    pid = r.randint(1000, 99999)
    return (f"=={pid}== Invalid read of size {r.choice([1, 4, 8])}\n"
            f"=={pid}==    at 0x{r.getrandbits(40):010X}: {n}_read ({n}.c:{r.randint(1, 900)})\n"
            f"=={pid}==    by 0x{r.getrandbits(40):010X}: main (main.c:{r.randint(1, 300)})\n")


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    total = int(sys.argv[1]) << 20
    out = open(sys.argv[2], "wb") if len(sys.argv) > 2 else sys.stdout.buffer
    r = random.Random(20261123)
    written = 0
    while written < total:
        chunk = "".join(line(r) for _ in range(4000)).encode()
        chunk = chunk[: total - written]
        out.write(chunk)
        written += len(chunk)
    out.close()


if __name__ == "__main__":
    main()
