#!/usr/bin/env python3
"""pcomm benchmark driver.

Runs every benchmark's variants round-robin (A B C A B C ...), so that drift on this shared,
noisy machine hits all of them alike, and reports for each variant the median of its values and
the median of its per-round ratios to the group's base. Targets are checked on those ratios and
printed as PASS or MISS; nothing here fails a build (a benchmark is not a test).

    driver.py --build BUILD_DIR [--quick] [--rounds N] [--only NAME[,NAME]]

Every benchmark program prints one number on stdout, higher is better (a rate).
"""
import argparse
import os
import shutil
import statistics
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))


class Variant:
    def __init__(self, label, argv, env=None, unit="/s", scale=1.0):
        self.label, self.argv, self.env, self.unit, self.scale = label, argv, env or {}, unit, scale


class Group:
    """Variants measured together; ratios are against `base`; targets are
    (variant, other, min_ratio, text): median of value(variant)/value(other) >= min_ratio."""

    def __init__(self, title, variants, base, targets=(), cpus=None, maxima=()):
        self.title, self.variants, self.base, self.targets = title, variants, base, list(targets)
        self.cpus = cpus  # e.g. "0": run every variant (and its children) under taskset -c 0
        # (variant, max_value, text): median of the variant's values <= max_value (for
        # lower-is-better measurements such as a peak RSS in MiB)
        self.maxima = list(maxima)


def run_variant(v, cpus=None):
    env = dict(os.environ)
    env.update(v.env)
    argv = (["taskset", "-c", cpus] if cpus else []) + v.argv
    out = subprocess.run(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True, timeout=1800)
    if out.returncode != 0:
        raise RuntimeError(f"{v.label}: {' '.join(v.argv)} failed ({out.returncode}): "
                           f"{out.stderr.strip()[-400:]}")
    return float(out.stdout.split()[-1])


def fmt(value, unit):
    if unit == "GB/s":
        return f"{value:.3f} GB/s"
    if unit == "MB/s":
        return f"{value:.1f} MB/s"
    return f"{value:,.0f}{unit}"


def run_group(g, rounds):
    values = {v.label: [] for v in g.variants}
    for _ in range(rounds):
        for v in g.variants:
            values[v.label].append(run_variant(v, g.cpus) * v.scale)
    base = values[g.base]
    where = f", pinned to CPU {g.cpus}" if g.cpus else ""
    print(f"\n== {g.title}  ({rounds} rounds, round-robin{where})")
    print(f"   {'variant':<34} {'median':>16} {'ratio to ' + g.base:>22}")
    for v in g.variants:
        ratios = [a / b for a, b in zip(values[v.label], base) if b > 0]
        tag = "  (base)" if v.label == g.base else ""
        print(f"   {v.label:<34} {fmt(statistics.median(values[v.label]), v.unit):>16} "
              f"{statistics.median(ratios):>20.3f}x{tag}")
    results = []
    for label, other, minimum, text in g.targets:
        ratios = [a / b for a, b in zip(values[label], values[other]) if b > 0]
        r = statistics.median(ratios)
        ok = r >= minimum
        results.append(ok)
        print(f"   target: {text}: {label} / {other} = {r:.3f}x (>= {minimum}) "
              f"{'PASS' if ok else 'MISS'}")
    for label, maximum, text in g.maxima:
        m = statistics.median(values[label])
        ok = m <= maximum
        results.append(ok)
        print(f"   target: {text}: {label} = {m:.2f} (<= {maximum}) {'PASS' if ok else 'MISS'}")
    return results


# ---- the benchmarks ---------------------------------------------------------------------------

def spawn_groups(build, quick):
    bench = os.path.join(build, "tests/bench/bench_spawn")
    lp = os.path.join(build, "tests/bench/bench_spawn_libpipeline")
    have_lp = os.path.exists(lp)
    py = [sys.executable, os.path.join(HERE, "bench_spawn.py")]
    true_static = os.path.join(build, "tests/bench/true_static")
    groups = []
    for child, child_title in (("/bin/true", "/bin/true"), (true_static, "static no-libc child")):
        for heap in ((0, 256) if quick else (0, 2048)):
            n = (200 if quick else 2000) if child == "/bin/true" else (400 if quick else 4000)
            nfork = n if heap == 0 else (10 if quick else 30)
            big = heap > 0
            variants = [
                Variant("posix_spawn + waitpid (raw)",
                        [bench, "posix_spawn", str(n), str(heap), child]),
                Variant("pcomm_spawn + wait", [bench, "pcomm", str(n), str(heap), child]),
                Variant("fork + exec + waitpid",
                        [bench, "fork", str(nfork), str(heap), child]),
            ]
            targets = [("pcomm_spawn + wait", "posix_spawn + waitpid (raw)", 0.95,
                        "pcomm >= 0.95x the raw posix_spawn loop")]
            if child == "/bin/true":
                variants.append(Variant("python subprocess.run", py + [str(n // 2), str(heap), child]))
                if have_lp:
                    variants.append(Variant("libpipeline pipeline_run",
                                            [lp, str(nfork), str(heap), child]))
            if big and not quick:
                targets.append(("pcomm_spawn + wait", "fork + exec + waitpid", 50,
                                "pcomm >= 50x fork+exec at 2 GiB"))
                if have_lp and child == "/bin/true":
                    targets.append(("pcomm_spawn + wait", "libpipeline pipeline_run", 50,
                                    "pcomm >= 50x libpipeline at 2 GiB"))
            # Pinned: parent and child share CPU 0; unpinned, placement noise swings rates 2x.
            groups.append(Group(f"spawn + wait, child {child_title}, parent heap {heap} MiB",
                                variants, "posix_spawn + waitpid (raw)", targets, cpus="0"))
    return groups


PLACEMENTS = (("same CPU", "0", "0"), ("cross CPU", "0", "1"))  # (name, parent CPU, child CPU)


def capture_groups(build, quick):
    b = os.path.join(build, "tests/bench")
    total = str((64 if quick else 1024) << 20)
    py = [sys.executable, os.path.join(HERE, "bench_capture.py")]
    groups = []
    for place, pcpu, ccpu in PLACEMENTS:
        child = ["taskset", "-c", ccpu, os.path.join(b, "pipe_writer"), total, "65536"]
        env = {"PIN_PARENT": pcpu}
        mem = [Variant("raw poll+read into memory", [f"{b}/bench_capture", "raw-mem", total] + child,
                       env, "GB/s"),
               Variant("pcomm_run capture (spool)", [f"{b}/bench_capture", "pcomm-mem", total] + child,
                       env, "GB/s"),
               Variant("python Popen.communicate()", py + ["communicate", total] + child, env, "GB/s"),
               Variant("python run(capture_output)", py + ["run-capture", total] + child, env, "GB/s")]
        groups.append(Group(f"capture {int(total) >> 20} MiB of child stdout into memory, {place}",
                            mem, "raw poll+read into memory",
                            [("pcomm_run capture (spool)", "raw poll+read into memory", 0.9,
                              "pcomm >= 0.9x raw"),
                             ("pcomm_run capture (spool)", "python Popen.communicate()", 2.0,
                              "pcomm >= 2x Python communicate()")]))
        f = [Variant("raw splice loop to a file", [f"{b}/bench_capture", "raw-splice", total] + child,
                     env, "GB/s"),
             Variant("pcomm_run forward to a file", [f"{b}/bench_capture", "pcomm-file", total] + child,
                     env, "GB/s")]
        groups.append(Group(f"child stdout into a file, {int(total) >> 20} MiB, {place}", f,
                            "raw splice loop to a file",
                            [("pcomm_run forward to a file", "raw splice loop to a file", 0.9,
                              "pcomm >= 0.9x raw splice")]))
    return groups


def comm_groups(build, quick):
    b = os.path.join(build, "tests/bench")
    total = str((64 if quick else 1024) << 20)
    py = [sys.executable, os.path.join(HERE, "bench_comm.py")]
    groups = []
    for place, pcpu, ccpu in PLACEMENTS:
        child = ["taskset", "-c", ccpu, "cat"]
        env = {"PIN_PARENT": pcpu}
        v = [Variant("raw poll loop, discard", [f"{b}/bench_comm", "raw-discard", total] + child,
                     env, "GB/s"),
             Variant("pcomm_run, stdout to /dev/null", [f"{b}/bench_comm", "pcomm-discard", total]
                     + child, env, "GB/s"),
             Variant("raw poll loop, capture", [f"{b}/bench_comm", "raw-capture", total] + child,
                     env, "GB/s"),
             Variant("pcomm_run, capture", [f"{b}/bench_comm", "pcomm-capture", total] + child,
                     env, "GB/s"),
             Variant("python communicate()", py + [total] + child, env, "GB/s")]
        groups.append(Group(f"round trip {int(total) >> 20} MiB through cat, {place}", v,
                            "raw poll loop, discard",
                            [("pcomm_run, stdout to /dev/null", "raw poll loop, discard", 0.9,
                              "pcomm >= 0.9x raw (discard)"),
                             ("pcomm_run, capture", "raw poll loop, capture", 0.9,
                              "pcomm >= 0.9x raw (capture)"),
                             ("pcomm_run, capture", "python communicate()", 2.0,
                              "pcomm >= 2x Python communicate()")]))
    return groups


def many_groups(build, quick):
    b = os.path.join(build, "tests/bench/bench_many")
    n = "200" if quick else "1000"
    v = [Variant("raw sequential spawn+read+wait", [b, "raw-seq", n]),
         Variant("pcomm: all at once in one loop", [b, "pcomm-loop", n])]
    return [Group(f"{n} children each printing a line", v, "raw sequential spawn+read+wait",
                  [("pcomm: all at once in one loop", "raw sequential spawn+read+wait", 1.0,
                    "pcomm one loop >= sequential raw")])]


def spool_groups(build, quick):
    """pcomm_spool against raw write()/splice loops (tests/bench/raw_spool.c), perf.md M1/M2."""
    bench = os.path.join(build, "tests/bench/bench_spool")
    raw = os.path.join(build, "tests/bench/raw_spool")
    one_g, four_g = (64 << 20, 128 << 20) if quick else (1 << 30, 4 << 30)
    groups = []
    for mode, title in (("mem", "in memory (never spills)"), ("file", "spilled (threshold 0)")):
        base = f"raw {'realloc+memcpy' if mode == 'mem' else 'write() to O_TMPFILE'}"
        groups.append(Group(
            f"spool write, {title}, {one_g >> 20} MiB in 64 KiB writes",
            [Variant(base, [raw, mode, str(one_g), "65536"], unit="GB/s"),
             Variant("pcomm_spool_write", [bench, mode, str(one_g), "65536"], unit="GB/s")],
            base, [("pcomm_spool_write", base, 0.9, "spool write >= 0.9x raw")], cpus="0"))
    for pins, where in (("0/0", "same CPU"), ("1/0", "cross CPU (writer 1, reader 0)")):
        w, r = pins.split("/")
        env = {"PIN_WRITER": w, "PIN_READER": r}
        groups.append(Group(
            f"spool fill from a 1 MiB pipe, {four_g >> 20} MiB, 1 MiB threshold, {where}",
            [Variant("raw splice loop -> O_TMPFILE", [raw, "splice", str(four_g), raw], env,
                     unit="GB/s"),
             Variant("pcomm_spool_fill", [bench, "splice", str(four_g), raw], env,
                     unit="GB/s")],
            "raw splice loop -> O_TMPFILE",
            [("pcomm_spool_fill", "raw splice loop -> O_TMPFILE", 0.9,
              "spilled spool fill >= 0.9x raw splice")]))
    env = {"PIN_WRITER": "1", "PIN_READER": "0"}
    groups.append(Group(
        f"peak RSS growth while {four_g >> 20} MiB pass through a spool (1 MiB threshold), MiB",
        [Variant("raw splice loop (RSS)", [raw, "rss_splice", str(four_g), raw], env, unit=" MiB"),
         Variant("pcomm_spool_fill (RSS)", [bench, "rss_splice", str(four_g), raw], env,
                 unit=" MiB")],
        "raw splice loop (RSS)",
        maxima=[("pcomm_spool_fill (RSS)", 16, "peak RSS <= 16 MiB above the process's start")]))
    return groups


def pipeline_groups(build, quick):
    b = os.path.join(build, "tests/bench")
    total = str((32 if quick else 256) << 20)
    env = {"PIPE_WRITER": os.path.join(b, "pipe_writer")}
    groups = []
    for place, cpus in (("unpinned", None), ("same CPU", "0")):
        v = [Variant("sh -c 'w | cat | cat | cat'", [f"{b}/bench_pipeline", "sh", total], env,
                     "GB/s"),
             Variant("pcomm pipeline", [f"{b}/bench_pipeline", "pcomm", total], env, "GB/s")]
        groups.append(Group(f"{int(total) >> 20} MiB through cat | cat | cat, {place}", v,
                            "sh -c 'w | cat | cat | cat'",
                            [("pcomm pipeline", "sh -c 'w | cat | cat | cat'", 0.95,
                              "pcomm >= 0.95x the shell")], cpus=cpus))
    if not shutil.which("gzip"):
        return groups
    # A gunzip stage in the parent against a gzip -dc process, both feeding cat (the build log
    # corpus of the filter benchmarks, made by gzip -6).
    data = os.path.join(build, "bench-data")
    os.makedirs(data, exist_ok=True)
    plain = _corpus(data, "buildlog", 8 if quick else 256)
    with open(plain, "rb") as inp:
        zfile = _run_to(f"{plain}.gzip", ["gzip", "-6", "-c"], stdin=inp)
    _warm(zfile)
    size = str(os.path.getsize(plain))
    for place, cpus in (("unpinned", None), ("same CPU", "0")):
        v = [Variant("gzip -dc | cat", [f"{b}/bench_pipeline", "gzip-dc", size, zfile], env,
                     "GB/s"),
             Variant("gunzip filter stage | cat", [f"{b}/bench_pipeline", "gunzip", size, zfile],
                     env, "GB/s")]
        groups.append(Group(f"{int(size) >> 20} MiB gunzipped into cat, {place}", v, v[0].label,
                            [(v[1].label, v[0].label, 1.5,
                              "in-process filter stage >= 1.5x a gzip -dc process stage")],
                            cpus=cpus))
    return groups


def pty_groups(build, quick):
    """Issue 5: pipe vs pty throughput (documented, no target), line latency under -u, and
    pcomm -u start-up against expect's unbuffer."""
    b = os.path.join(build, "tests/bench")
    bench = os.path.join(b, "bench_pty")
    groups = []
    shapes = (("bulk", (16 if quick else 128) << 20, 65536),
              ("80-byte lines", (4 if quick else 20) * 1000 * 1000, 80))
    for shape, total, chunk in shapes:
        for place, pcpu, ccpu in PLACEMENTS:
            child = ["taskset", "-c", ccpu, os.path.join(b, "pipe_writer"), str(total), str(chunk)]
            env = {"PIN_PARENT": pcpu}
            v = [Variant(f"raw {kind} capture loop" if raw else f"pcomm_run capture, {kind}",
                         [bench, "tput", f"{'raw' if raw else 'pcomm'}-{kind}", str(total)] + child,
                         env, "MB/s")
                 for kind in ("pipe", "pty") for raw in (True, False)]
            groups.append(Group(f"pty vs pipe, {shape}, {total / 1e6:.0f} MB, {place}", v,
                                "raw pipe capture loop",
                                [("pcomm_run capture, pty", "raw pty capture loop", 0.9,
                                  "pcomm pty >= 0.9x the raw pty loop (PT1)")]))
    n = "200" if quick else "1000"
    ref = [sys.executable, "-c", "print(1000)"]
    lat = [Variant("raw pty read loop", [bench, "latency", "raw-pty", n, "2000"], unit=" lines/s"),
           Variant("pcomm -u line callback", [bench, "latency", "pcomm-pty", n, "2000"],
                   unit=" lines/s"),
           Variant("1 ms reference", ref, unit=" lines/s")]
    groups.append(Group(f"printf to line callback, 1/median latency, {n} lines 2 ms apart", lat,
                        "raw pty read loop",
                        [("pcomm -u line callback", "1 ms reference", 1.0,
                          "median latency <= 1 ms")]))
    runs = "10" if quick else "50"
    cli = os.path.join(build, "demos/pcomm")
    start = [Variant("unbuffer (expect) /bin/true", [bench, "startup", runs, "unbuffer", "/bin/true"]),
             Variant("pcomm -u /bin/true", [bench, "startup", runs, cli, "-u", "/bin/true"]),
             Variant("pcomm /bin/true", [bench, "startup", runs, cli, "/bin/true"]),
             Variant("/bin/true", [bench, "startup", runs, "/bin/true"])]
    if shutil.which("unbuffer"):
        groups.append(Group(f"start-up, {runs} runs in a row", start,
                            "unbuffer (expect) /bin/true",
                            [("pcomm -u /bin/true", "unbuffer (expect) /bin/true", 2.0,
                              "pcomm -u takes <= 0.5x unbuffer's time")], cpus="0"))
    return groups


# ---- compression filters (perf.md section 4, FZ1-FZ3; issue 6) ---------------------------------

def _run_to(path, argv, stdin=None):
    """Write argv's stdout to path (once: kept in the build directory between runs)."""
    if os.path.exists(path):
        return path
    with open(path + ".tmp", "wb") as out:
        subprocess.run(argv, stdin=stdin, stdout=out, check=True)
    os.replace(path + ".tmp", path)
    return path


def _corpus(data, name, mib):
    """buildlog: gen_buildlog.py; mixed: real text and ELF files from this machine."""
    path = os.path.join(data, f"{name}-{mib}M")
    if name == "buildlog":
        return _run_to(path, [sys.executable, os.path.join(HERE, "gen_buildlog.py"), str(mib)])
    tar = subprocess.Popen(["tar", "cf", "-", "/usr/lib/x86_64-linux-gnu", "/usr/share/doc"],
                           stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    _run_to(path, ["head", "-c", str(mib << 20)], stdin=tar.stdout)
    tar.stdout.close()
    tar.wait()
    return path


def _warm(*paths):
    for p in paths:
        with open(p, "rb") as f:
            while f.read(1 << 20):
                pass


def filter_groups(build, quick):
    bench = os.path.join(build, "tests/bench")
    data = os.path.join(build, "bench-data")
    os.makedirs(data, exist_ok=True)
    flt = os.path.join(bench, "bench_filter")
    cli = [sys.executable, os.path.join(HERE, "bench_cli.py")]
    have = {t: shutil.which(t) for t in ("gzip", "pigz", "igzip", "bzip2", "xz", "zstd")}
    mb = "MB/s"
    # (codec, raw program, level, MiB compressed, MiB decompressed, CLI compress, CLI -d, MT)
    codecs = [
        ("gzip", "raw_zlib", 6, 256, 256, ["gzip", "-6", "-c"], ["gzip", "-dc"], False),
        ("bzip2", "raw_bz2", 9, 64, 64, ["bzip2", "-9", "-c"], ["bzip2", "-dc"], False),
        ("xz", "raw_xz", 6, 48, 64, ["xz", "-6", "-T1", "-c"], ["xz", "-dc", "-T1"], True),
        ("zstd", "raw_zstd", 3, 256, 256, ["zstd", "-3", "-T1", "-q", "-c"], ["zstd", "-dcq"], True),
    ]
    groups = []
    for corpus in ("buildlog", "mixed"):
        full = _corpus(data, corpus, 8 if quick else 256)
        for codec, raw, level, mib_c, mib_d, ccli, dcli, mt in codecs:
            raw = os.path.join(bench, raw)
            if not os.path.exists(raw):
                continue
            mib_c, mib_d = (1, 2) if quick else (mib_c, mib_d)
            src = full if mib_c == 256 else _run_to(
                f"{full}.{mib_c}M", ["head", "-c", str(mib_c << 20), full])
            nbytes = os.path.getsize(src)
            _warm(src)
            args = ["c", str(level), src, str(nbytes)]
            v = [Variant(f"raw {codec} -{level} loop", [raw] + args, unit=mb),
                 Variant(f"pcomm filter {codec} -{level}", [flt, codec] + args, unit=mb)]
            t = [(v[1].label, v[0].label, 0.95, "filter overhead <= 5% vs the raw library loop")]
            if have[ccli[0]]:
                v.append(Variant(f"{' '.join(ccli[:2])} (CLI)", cli + [str(nbytes), src] + ccli,
                                 unit=mb))
                if codec == "gzip":
                    t.append((v[1].label, v[2].label, 1.0, "filter >= 1.0x the gzip CLI"))
            if codec == "gzip" and have["pigz"]:
                v.append(Variant("pigz -6 -p2 (CLI)", cli + [str(nbytes), src, "pigz", "-6",
                                                              "-p2", "-c"], unit=mb))
            if mt:
                v += [Variant(f"raw {codec} -{level} loop, 2 threads", [raw] + args + ["2"], unit=mb),
                      Variant(f"pcomm filter {codec} -{level}, 2 threads", [flt, codec] + args + ["2"],
                              unit=mb)]
                t += [(v[-1].label, v[1].label, 1.6, "2 threads >= 1.6x single-threaded"),
                      (v[-1].label, v[-2].label, 0.95, "MT filter overhead <= 5% vs raw MT loop")]
                if have[ccli[0]]:
                    mcli = [a if a != "-T1" else "-T2" for a in ccli]
                    v.append(Variant(f"{ccli[0]} -T2 (CLI)", cli + [str(nbytes), src] + mcli, unit=mb))
            groups.append(Group(f"{codec} compress, {corpus} {nbytes >> 20} MiB", v, v[0].label, t))

            # Decompression: a file made by the codec's own tool, in the build directory.
            plain = full if mib_d == 256 else _run_to(
                f"{full}.{mib_d}M", ["head", "-c", str(mib_d << 20), full])
            zfile = f"{plain}.{codec}"
            zcmd = [a for a in ccli if a != "-T1"] + (["-T2"] if codec == "xz" else [])
            with open(plain, "rb") as inp:
                _run_to(zfile, zcmd, stdin=inp)
            nbytes = os.path.getsize(plain)
            _warm(zfile)
            args = ["d", "0", zfile, str(os.path.getsize(zfile))]
            v = [Variant(f"raw {codec} decode loop", [raw] + args, unit=mb),
                 Variant(f"pcomm filter {codec} decode", [flt, codec] + args, unit=mb)]
            t = [(v[1].label, v[0].label, 0.95, "filter overhead <= 5% vs the raw library loop")]
            if have[dcli[0]]:
                v.append(Variant(f"{' '.join(dcli)} (CLI)", cli + [str(nbytes), zfile] + dcli, unit=mb))
                if codec == "gzip":
                    t.append((v[1].label, v[2].label, 1.8, "filter >= 1.8x gzip -d"))
            if codec == "gzip":
                if have["pigz"]:
                    v.append(Variant("pigz -dc (CLI)", cli + [str(nbytes), zfile, "pigz", "-dc"],
                                     unit=mb))
                if have["igzip"]:
                    v.append(Variant("igzip -dc (CLI)", cli + [str(nbytes), zfile, "igzip", "-dc"],
                                     unit=mb))
                isal = os.path.join(bench, "raw_isal")
                if os.path.exists(isal):
                    v.append(Variant("raw ISA-L isal_inflate loop", [isal] + args, unit=mb))
            groups.append(Group(f"{codec} decompress, {corpus} {nbytes >> 20} MiB", v, v[0].label, t))
    return groups


BENCHMARKS = {
    "spawn": spawn_groups,
    "capture": capture_groups,
    "comm": comm_groups,
    "many": many_groups,
    "spool": spool_groups,
    "pipeline": pipeline_groups,
    "pty": pty_groups,
    "filter": filter_groups,
}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--build", required=True, help="the CMake build directory")
    ap.add_argument("--quick", action="store_true", help="few rounds, small sizes (CI smoke)")
    ap.add_argument("--rounds", type=int, default=0)
    ap.add_argument("--only", default="", help="comma-separated benchmark names")
    args = ap.parse_args()
    rounds = args.rounds or (2 if args.quick else 5)
    names = [n for n in args.only.split(",") if n] or list(BENCHMARKS)
    print(f"pcomm benchmarks on {os.cpu_count()} CPUs; {'quick' if args.quick else 'full'} mode")
    summary = []
    for name in names:
        for g in BENCHMARKS[name](args.build, args.quick):
            summary += run_group(g, rounds)
    missed = summary.count(False)
    print(f"\n{len(summary) - missed} targets met, {missed} missed"
          + (" (quick mode: sizes too small to judge targets)" if args.quick else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
