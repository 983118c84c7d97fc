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

    def __init__(self, title, variants, base, targets=(), cpus=None):
        self.title, self.variants, self.base, self.targets = title, variants, base, list(targets)
        self.cpus = cpus  # e.g. "0": run every variant (and its children) under taskset -c 0


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
