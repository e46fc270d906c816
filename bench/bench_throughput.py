"""Benchmark: replay throughput end to end and the plumbing tax, on synthetic articles of two sizes.

For each size (feed: title + summary, ~300–600 characters; 3k: ~3 KB full texts) N articles of a news-stream
mix (`bench.synth_news`: mostly irrelevant news, a share of partnership articles, near-duplicate reprints on
other sites, unique ids and URLs, article times spread over `--days`) are written to a JSONL file in a
temporary directory; then, in one run, side by side:

    extract   `nkru extract --input FILE --output OUT` — the extraction function in a plain loop
    loop      `bench/graph_loop.py FILE OUT` — every function of the graph in a plain loop, no Beam (extract,
              `deduplicate_batch`, `merge_batch`, `alerts_batch`)
    replay    `nkru replay FILE --out DIR --runner R` — the whole graph (extraction, dedup, merge, alerts), on each
              runner of `--runners` (default: direct, the replay's default with one worker process per core, and
              prism); the runners' output files are compared byte for byte

each as a subprocess. Wall time; CPU = user + sys of the command and of every process below it (the Prism
runner and the direct runner's worker processes included: its own rusage when it is reaped, else its last /proc reading); peak summed RSS of the
command's process tree (sampled every 0.25 s); articles/s = N / wall; ratios = replay / extract and replay / loop.

    .venv/bin/python bench/bench_throughput.py [--n 20000] [--sizes feed,3k] [--n-3k 5000]
        [--relevant-share 0.15] [--runners direct,prism] [--keep] [--json]
        [--profile /tmp/replay [--profile-sizes feed,3k]]   # py-spy profiles of the replay (separate runs)

`nkru extract` runs only extraction; the replay also deduplicates, merges and raises alerts. So replay / extract
is the price of the whole graph over the per-article work, and replay / loop the plumbing tax proper (the same
functions with and without Beam).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from itertools import islice
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.bench_replay import _rss_kb, _tree
from bench.synth_news import FEED, FULL, NewsStream, bucket_sizes, write_jsonl

NKRU = str(ROOT / ".venv" / "bin" / "nkru")
_TICK = os.sysconf("SC_CLK_TCK")


def _cpu_s(pid: int) -> float:
    """utime + stime of `pid` so far (its own, not its children's), from /proc/PID/stat."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / _TICK
    except (OSError, IndexError, ValueError):
        return 0.0


def _comm(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return "?"


class ChildTree:
    """Samples a child's process tree: peak summed RSS, and each process's last CPU reading and peak RSS."""

    def __init__(self, pid: int, interval: float = 0.25):
        self.pid, self.interval, self.peak_kb, self.cpu = pid, interval, 0, {}
        self.names: dict[int, str] = {}
        self.peak_by_pid: dict[int, int] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            pids = _tree(self.pid)
            rss = {p: _rss_kb(p) for p in pids}
            self.peak_kb = max(self.peak_kb, sum(rss.values()))
            for p in pids:
                self.cpu[p] = max(self.cpu.get(p, 0.0), _cpu_s(p))
                self.peak_by_pid[p] = max(self.peak_by_pid.get(p, 0), rss[p])
                self.names[p] = _comm(p)  # the latest name: the Prism launcher execs Prism

    def by_process(self) -> dict:
        """{process name: {"cpu_s", "peak_rss_mb"}} (processes of one name summed)."""
        out: dict[str, dict] = {}
        for p, name in self.names.items():
            row = out.setdefault(name, {"cpu_s": 0.0, "peak_rss_mb": 0})
            row["cpu_s"] = round(row["cpu_s"] + self.cpu.get(p, 0.0), 1)
            row["peak_rss_mb"] += round(self.peak_by_pid.get(p, 0) / 1024)
        return out

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


def run_measured(cmd: list[str], log: Path) -> dict:
    """Run `cmd`; wall, CPU of its whole tree, peak tree RSS. A descendant the command did not reap (its rusage
    is then lost) is counted by its last /proc reading instead."""
    start = time.monotonic()
    with open(log, "w") as err:
        proc = subprocess.Popen(cmd, stdout=err, stderr=subprocess.STDOUT, cwd=ROOT)
        tree = ChildTree(proc.pid)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.monotonic() - start
        tree.stop()
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({proc.returncode}); see {log}")
    reaped = usage.ru_utime + usage.ru_stime  # the command and every descendant it waited for
    own = tree.cpu.get(proc.pid, 0.0)
    descendants = sum(c for p, c in tree.cpu.items() if p != proc.pid)
    # if the descendants' sampled CPU is not in `reaped`, add it (Beam stops Prism with SIGINT and polls it)
    missing = max(0.0, descendants - max(0.0, reaped - own))
    return {"wall_s": round(wall, 1), "cpu_s": round(reaped + missing, 1), "cpu_unreaped_s": round(missing, 1),
            "peak_rss_mb": round(max(tree.peak_kb, usage.ru_maxrss) / 1024), "by_process": tree.by_process()}


def _stream(size: str, n: int, args) -> NewsStream:
    return NewsStream(size=size, relevant_share=args.relevant_share, reprint_share=args.reprint_share,
                      per_day=n / args.days, seed=args.seed)


def _runner_args(entry: str) -> list[str]:
    """'direct' or 'direct:single' (a runner and, optionally, the replay's --layout) → nkru replay arguments."""
    runner, _, layout = entry.partition(":")
    return ["--runner", runner, *(["--layout", layout] if layout else [])]


def measure_size(size: str, n: int, args, work: Path) -> dict:
    data = work / f"articles-{size}.jsonl"
    write_jsonl(_stream(size, n, args), data, n)
    chars = sum(len(json.loads(line)["text"]) + len(json.loads(line).get("title", "")) for line in data.open())
    row = {"size": size, "articles": n, "avg_chars": round(chars / n), "load_before": os.getloadavg()[0]}
    extract = run_measured([NKRU, "extract", "--input", str(data), "--output", str(work / f"extract-{size}.jsonl")],
                           work / f"extract-{size}.log")
    loop = run_measured([sys.executable, str(ROOT / "bench" / "graph_loop.py"), str(data), str(work / f"loop-{size}")],
                        work / f"loop-{size}.log")
    runners = args.runners.split(",")
    outs = {runner: work / f"replay-{size}-{runner.replace(':', '-')}" for runner in runners}
    replays = {runner: run_measured([NKRU, "replay", str(data), "--out", str(outs[runner]), *_runner_args(runner),
                                     "--no-progress"], work / f"replay-{size}-{runner.replace(':', '-')}.log")
               for runner in runners}
    row["load_after"] = os.getloadavg()[0]
    for name, m in (("extract", extract), ("loop", loop), *((f"replay_{r}", m) for r, m in replays.items())):
        m["articles_per_s"] = round(n / m["wall_s"], 1)
        row[name] = m
    for runner, replay in replays.items():
        for base in ("extract", "loop"):
            row[f"replay_{runner}_over_{base}"] = {"wall": round(replay["wall_s"] / row[base]["wall_s"], 2),
                                                   "cpu": round(replay["cpu_s"] / row[base]["cpu_s"], 2)}
    row["same_files"] = all((outs[r] / f"{name}.jsonl").read_bytes() == (outs[runners[0]] / f"{name}.jsonl").read_bytes()
                            for r in runners[1:] for name in ("articles", "events", "alerts", "dead_letters"))
    row["loop_counts"] = json.loads((work / f"loop-{size}.log").read_text().strip().splitlines()[-1])
    relevant = sum(json.loads(line)["relevant"] for line in (work / f"extract-{size}.jsonl").open())
    summary = json.loads((outs[runners[0]] / "summary.json").read_text())
    row["relevant"] = relevant
    row["replay_outputs"] = summary["outputs"]
    row["near_duplicates"] = summary["dedup"]["near_duplicates_marked"]
    row["buckets"] = bucket_sizes(islice(_stream(size, n, args), n))  # as the dedup holds them at the end
    if args.profile and size in args.profile_sizes.split(","):
        row["profile"] = profile_replay(data, work / "replay-profiled", f"{args.profile}-{size}.raw", runners[0])
    return row


def profile_replay(data: Path, out: Path, spy_file: str, runner: str) -> dict:
    """The same replay under py-spy (50 Hz, non-blocking, worker processes included): the Python processes
    (the SDK harness in the nkru process on Prism, the worker processes on the direct runner) sampled."""
    from bench.spy_summary import summarise

    spy = str(ROOT / ".venv" / "bin" / "py-spy")
    cmd = [spy, "record", "--nonblocking", "--subprocesses", "-r", "50", "-f", "raw", "--full-filenames", "-o",
           spy_file, "--", NKRU, "replay", str(data), "--out", str(out), *_runner_args(runner), "--no-progress"]
    started = time.monotonic()
    subprocess.run(cmd, check=True, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return {"wall_s": round(time.monotonic() - started, 1), "file": spy_file, **summarise(Path(spy_file))}


def table(rows: list[dict]) -> str:
    lines = ["| size | articles | command | wall | CPU (incl. children) | articles/s | peak RSS | replay / this |",
             "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        replays = [name for name in r if name.startswith("replay_") and "_over_" not in name
                   and name != "replay_outputs"]
        for name in ("extract", "loop", *replays):
            m = r[name]
            ratio = ", ".join(f"{rep.removeprefix('replay_')} ÷ this: wall {over['wall']}×, CPU {over['cpu']}×"
                              for rep in replays if (over := r.get(f"{rep}_over_{name}")))
            label = {"extract": "nkru extract", "loop": "graph_loop.py"}.get(
                name, f"nkru replay --runner {name.removeprefix('replay_')}")
            lines.append(f"| {r['size']} ({r['avg_chars']} chars) | {r['articles']} | {label} | "
                         f"{m['wall_s']} s | {m['cpu_s']} s | {m['articles_per_s']} | {m['peak_rss_mb']} MB | {ratio} |")
        lines.append(f"| {r['size']} | | runners' files identical: {r['same_files']} | | | | | |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=20000, help="articles per size")
    parser.add_argument("--n-3k", type=int, help="articles for the 3 KB size (default: --n)")
    parser.add_argument("--sizes", default=f"{FEED},{FULL}")
    parser.add_argument("--relevant-share", type=float, default=0.15, help="partnership articles among originals")
    parser.add_argument("--reprint-share", type=float, default=0.05, help="near-duplicate reprints")
    parser.add_argument("--days", type=float, default=28, help="days of article time the N articles span")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--profile", help="also profile the replay with py-spy (a separate run) into PREFIX-SIZE.raw")
    parser.add_argument("--profile-sizes", default=FEED, help="the sizes to profile (default: feed)")
    parser.add_argument("--runners", default="direct,prism",
                        help="the replay's runners, compared side by side; RUNNER:LAYOUT also sets --layout "
                             "(e.g. direct:single,direct:sharded)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory (inputs and outputs)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="nkru-bench-throughput-"))
    rows = []
    try:
        for size in args.sizes.split(","):
            n = args.n_3k if size == FULL and args.n_3k else args.n
            rows.append(measure_size(size, n, args, work))
            print(json.dumps(rows[-1]), flush=True)
    finally:
        if args.keep:
            print(f"kept {work}", file=sys.stderr)
        else:
            shutil.rmtree(work, ignore_errors=True)
    if not args.json:
        print(table(rows))


if __name__ == "__main__":
    main()
