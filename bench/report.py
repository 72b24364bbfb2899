#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Turn the CSV of scripts/bench.sh into RESULTS.md and one PNG per table.

    bench/report.py DIR

reads DIR/results.csv (lines TABLE,SYSTEM,PARAM,REP,VALUE,N) and
DIR/meta.env (KEY=VALUE lines written by scripts/bench.sh), writes
DIR/RESULTS.md, and DIR/*.gp + DIR/*.dat, then runs gnuplot on each .gp
to make DIR/*.png.  Only the standard library is used.
"""
import csv
import os
import statistics
import subprocess
import sys
from collections import defaultdict

IPC_SYSTEMS = ["termite", "termite-uring", "termite-lib", "pipe",
               "seqpacket", "mqueue", "binder"]
IPC_NAMES = {
    "termite": "termite (ioctl)",
    "termite-uring": "termite (io_uring)",
    "termite-lib": "termite (library)",
    "pipe": "pipes",
    "seqpacket": "unix seqpacket",
    "mqueue": "POSIX mqueue",
    "binder": "binder",
}
SIZES = [16, 64, 1024, 65536]
LISTS = [0, 10, 20, 50, 100, 200, 500, 1000]

# The paper's numbers (2006, native 1 GHz Athlon 64, Erlang/OTP R11B-0
# without SMP), for orientation only: (Termite, Erlang) in us.
PAPER = {
    "spawn": (0.91, 1.57),
    "send": (0.27, 0.08),
    "ring_k0": (7.84, 6.64),
    "ring_k1000000": (15.48, 7.32),
}
PAPER_PINGPONG = {0: (0.75, 0.20), 10: (0.75, 0.31), 20: (0.74, 0.42),
                  50: (0.75, 0.73), 100: (0.74, 1.15), 200: (0.75, 1.91),
                  500: (0.75, 4.40), 1000: (0.75, 8.73)}


def load(d):
    data = defaultdict(list)		# (table, system, param) -> [values]
    with open(os.path.join(d, "results.csv")) as f:
        for row in csv.reader(f):
            if len(row) != 6 or row[0] == "table":
                continue
            try:
                data[(row[0], row[1], int(row[2]))].append(float(row[4]))
            except ValueError:
                continue
    meta = {}
    try:
        with open(os.path.join(d, "meta.env")) as f:
            for line in f:
                if "=" in line:
                    k, v = line.rstrip("\n").split("=", 1)
                    meta[k] = v
    except OSError:
        pass
    return data, meta


def fmt(v):
    if v is None:
        return "–"
    a = abs(v)
    if a >= 100:
        return f"{v:,.0f}"
    if a >= 10:
        return f"{v:.1f}"
    if a >= 1:
        return f"{v:.2f}"
    return f"{v:.3f}"


class Stats:
    def __init__(self, vals):
        self.vals = sorted(vals)
        self.n = len(vals)
        self.med = statistics.median(vals) if vals else None
        self.lo = self.vals[0] if vals else None
        self.hi = self.vals[-1] if vals else None

    def cell(self):
        if not self.n:
            return "–"
        if self.n == 1:
            return fmt(self.med)
        return f"{fmt(self.med)} ({fmt(self.lo)}–{fmt(self.hi)})"


def stats(data, table, system, param):
    return Stats(data.get((table, system, param), []))


def ratio(a, b):
    if a.med is None or b.med is None or b.med == 0:
        return "–"
    return f"{a.med / b.med:.2f}"


def md_table(head, rows):
    out = ["| " + " | ".join(head) + " |",
           "|" + "|".join("---" if i == 0 else "---:"
                          for i in range(len(head))) + "|"]
    out += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(out) + "\n"


def write_dat(path, rows):
    with open(path, "w") as f:
        for r in rows:
            f.write(" ".join(str(x) for x in r) + "\n")


def gnuplot(d, name, script):
    gp = os.path.join(d, name + ".gp")
    with open(gp, "w") as f:
        f.write(script)
    try:
        subprocess.run(["gnuplot", name + ".gp"], cwd=d, check=True)
    except (OSError, subprocess.CalledProcessError) as e:
        print(f"report: gnuplot {gp}: {e}", file=sys.stderr)


GP_HEAD = """set terminal pngcairo size 900,560 font ",10"
set output "{name}.png"
set title "{title}"
set grid ytics
set key {key}
"""


def ipc_table(d, data, table, title, unit, better):
    systems = [s for s in IPC_SYSTEMS
               if any((table, s, z) in data for z in SIZES)]
    if not systems:
        return ""
    head = ["size"] + [IPC_NAMES[s] for s in systems]
    rows, rrows, dat = [], [], []
    for z in SIZES:
        st = [stats(data, table, s, z) for s in systems]
        if not any(x.n for x in st):
            continue
        rows.append([f"{z:,} B"] + [x.cell() for x in st])
        rrows.append([f"{z:,} B"] + [ratio(x, st[0]) for x in st])
        dat.append([z] + [v for x in st for v in
                          ((x.med, x.lo, x.hi) if x.n else ("?", "?", "?"))])
    md = f"### {title}\n\n{unit}, {better}; median (min–max) over the " \
         f"repetitions.  Chart: `{table}.png`.\n\n"
    md += md_table(head, rows)
    if table != "thr_mb":	# the same ratios as thr_msgs
        md += ("\nRatio of the medians to termite (ioctl), X / termite "
               f"(above 1: X is {'faster' if 'higher' in better else 'slower'}):\n\n")
        md += md_table(head, rrows)
    md += "\n"
    write_dat(os.path.join(d, table + ".dat"), dat)
    plots = []
    for i, s in enumerate(systems):
        c = 2 + 3 * i
        plots.append(f"'{table}.dat' using 1:{c}:{c + 1}:{c + 2} with "
                     f"yerrorlines lw 2 title '{IPC_NAMES[s]}' noenhanced")
    gnuplot(d, table, GP_HEAD.format(name=table, title=title,
                                     key="outside right top") +
            f"""set logscale xy
set xtics ("16" 16, "64" 64, "1 Ki" 1024, "64 Ki" 65536)
set xrange [10:100000]
set xlabel "message size (bytes)"
set ylabel "{unit}"
plot {", ".join(plots)}
""")
    return md


def bars(d, name, title, ylabel, labels, series, logy=False):
    """A clustered bar chart: labels x series, each (med, lo, hi)."""
    dat = []
    for i, lab in enumerate(labels):
        row = [f'"{lab}"']
        for _, vals in series:
            x = vals[i]
            row += [x.med, x.lo, x.hi] if x.n else ["?", "?", "?"]
        dat.append(row)
    write_dat(os.path.join(d, name + ".dat"), dat)
    plots = []
    for i, (sname, _) in enumerate(series):
        c = 2 + 3 * i
        xt = ":xtic(1)" if i == 0 else ""
        plots.append(f"'{name}.dat' using {c}:{c + 1}:{c + 2}{xt} "
                     f"title '{sname}'")
    gnuplot(d, name, GP_HEAD.format(name=name, title=title, key="top left") +
            f"""set style data histogram
set style histogram errorbars gap 2 lw 1
set style fill solid 0.6 border -1
set ylabel "{ylabel}"
set yrange [{'' if logy else '0'}:*]
{'set logscale y' if logy else ''}
plot {", ".join(plots)}
""")


def paper_tables(d, data, meta):
    md = ""
    prims = [("spawn", "spawn (chain)", "us per process"),
             ("send", "send + receive to self", "us per message"),
             ("ring_k0", "ring, K = 0", "us per process"),
             (f"ring_k{meta.get('RING_K', '1000000')}",
              f"ring, K = {int(meta.get('RING_K', '1000000')):,}",
              "us per process")]
    rows, labels, ts, es, ios = [], [], [], [], []
    for key, label, unit in prims:
        pt = sorted({p for (t, s, p) in data if t == key and s == "termite"})
        pe = sorted({p for (t, s, p) in data if t == key and s == "erlang"})
        if not (pt or pe):
            continue
        pt, pe = (pt or [0])[-1], (pe or [0])[-1]
        t, e = stats(data, key, "termite", pt), stats(data, key, "erlang", pe)
        io = stats(data, key, "termite-ioctl", pt)
        pk = PAPER.get("ring_k1000000" if key.startswith("ring_k") and
                       key != "ring_k0" else key)
        nn = f"{pt:,}" if pt == pe else f"{pt:,} / {pe:,}"
        rows.append([label, nn, unit, t.cell(), io.cell(), e.cell(),
                     ratio(e, t), ratio(t, e),
                     f"{pk[0]:.2f} / {pk[1]:.2f}" if pk else "–"])
        labels.append(label)
        ts.append(t)
        es.append(e)
        ios.append(io)
    if rows:
        md += "### Concurrency primitives (paper, section 7.2, figures 2 and 3)\n\n"
        md += ("Median (min–max) over the repetitions, in microseconds; "
               "lower is better.  N is the number of processes (spawn, "
               "ring) or messages (send; termite / Erlang when they "
               "differ, Erlang being given more to last as long).  "
               "Chart: `paper_primitives.png`.\n\n")
        md += md_table(["test", "N", "unit", "termite (library)",
                        "termite (library, ioctl)",
                        "Erlang/OTP", "Erlang / termite", "termite / Erlang",
                        "paper 2006 native: Termite / Erlang"], rows) + "\n"
        bars(d, "paper_primitives", "Termite paper 7.2: concurrency "
             "primitives (us, lower is better)", "microseconds", labels,
             [("termite (library)", ts), ("termite (library, ioctl)", ios),
              ("Erlang/OTP", es)], logy=True)
    rows, labels, ts, es, ios = [], [], [], [], []
    for ln in LISTS:
        t = stats(data, "pingpong", "termite", ln)
        e = stats(data, "pingpong", "erlang", ln)
        io = stats(data, "pingpong", "termite-ioctl", ln)
        if not (t.n or e.n):
            continue
        pk = PAPER_PINGPONG[ln]
        rows.append([str(ln), t.cell(), io.cell(), e.cell(), ratio(e, t),
                     ratio(t, e), f"{pk[0]:.2f} / {pk[1]:.2f}"])
        labels.append(str(ln))
        ts.append(t)
        es.append(e)
        ios.append(io)
    if rows:
        md += "### Local ping-pong (paper, section 7.3.1, figure 4)\n\n"
        md += ("Time to send and receive one message (half a round trip) "
               "between two processes of one node, the message being a "
               "list of N small integers; microseconds, lower is better.  "
               "Each repetition is 1,000 to 10,000 round trips for termite "
               "and four times as many for Erlang.  "
               "Chart: `paper_pingpong.png`.\n\n")
        md += md_table(["list length", "termite (library)",
                        "termite (library, ioctl)", "Erlang/OTP",
                        "Erlang / termite", "termite / Erlang",
                        "paper 2006 native: Termite / Erlang"], rows) + "\n"
        bars(d, "paper_pingpong", "Termite paper 7.3.1: local ping-pong, "
             "us per message (lower is better)", "microseconds", labels,
             [("termite (library)", ts), ("termite (library, ioctl)", ios),
              ("Erlang/OTP", es)], logy=True)
    return md


def mem_table(d, data):
    def n_of(table, system):
        ps = sorted({p for (t, s, p) in data if t == table and s == system})
        return ps[-1] if ps else 0

    items = [("mem_user", "termite", "termite: user RSS"),
             ("mem_kernel", "termite", "termite: kernel Slab"),
             ("mem_total", "termite", "termite: total"),
             ("mem_erl_processes", "erlang", "Erlang: erlang:memory(processes)"),
             ("mem_user", "erlang", "Erlang: user RSS (whole VM)"),
             ("mem_spawn_us", "termite", "termite: us per spawn"),
             ("mem_spawn_us", "erlang", "Erlang: us per spawn")]
    rows, labels, vals = [], [], []
    for table, system, label in items:
        params = sorted({p for (t, s, p) in data if t == table and s == system})
        if not params:
            continue
        p = params[-1]
        x = stats(data, table, system, p)
        unit = "us" if table == "mem_spawn_us" else "bytes"
        rows.append([label, f"{p:,}", x.cell(), unit])
        if unit == "bytes":
            labels.append(label.replace("erlang:memory", "memory"))
            vals.append(x)
    if not rows:
        return ""
    md = "### Memory per live process (blocked in a receive)\n\n"
    md += ("Bytes per process: deltas before and after spawning N "
           "processes that wait in a receive.  termite: VmRSS of the OS "
           "process plus the Slab line of /proc/meminfo (the kernel's "
           "actors, mailboxes, ids); Erlang: erlang:memory(processes) and "
           "the VmRSS of the Erlang VM.  One run each.  Chart: "
           "`memory.png`.\n\n")
    md += md_table(["measure", "N", "per process", "unit"], rows) + "\n"
    user = {"termite": stats(data, "mem_user", "termite", n_of("mem_user", "termite")),
            "Erlang": stats(data, "mem_erl_processes", "erlang",
                            n_of("mem_erl_processes", "erlang"))}
    kern = stats(data, "mem_kernel", "termite", n_of("mem_kernel", "termite"))
    write_dat(os.path.join(d, "memory.dat"),
              [['"termite (library)"', user["termite"].med or 0, kern.med or 0],
               ['"Erlang/OTP"', user["Erlang"].med or 0, 0]])
    gnuplot(d, "memory", GP_HEAD.format(
        name="memory", title="Memory per live process (bytes, lower is better)",
        key="top left") + """set style data histogram
set style histogram rowstacked
set style fill solid 0.6 border -1
set boxwidth 0.5
set ylabel "bytes per process"
set yrange [0:*]
plot 'memory.dat' using 2:xtic(1) title 'user space (termite: RSS; Erlang: memory(processes))', \\
     '' using 3 title 'kernel (Slab)'
""")
    return md


def main():
    d = sys.argv[1] if len(sys.argv) > 1 else "."
    data, meta = load(d)
    md = ["# termite benchmarks\n"]
    md.append(f"""Produced by `make bench` (scripts/bench.sh) on {meta.get('DATE', '?')}.

- Test VM: QEMU TCG (`-accel tcg -cpu max`, no KVM), {meta.get('VCPUS', '2')} vCPUs, `-m 4G` (MemTotal {meta.get('MEM', '?')});
  guest kernel `{meta.get('KERNEL', '?')}` (Debian); `termite.ko` and libtermite-user
  of commit `{meta.get('TREE', '?')}` (`git describe --always --dirty`).
- Host CPU: {meta.get('HOST_CPU', '?')}.
- Erlang/OTP {meta.get('OTP', '?')} (erts {meta.get('ERTS', '?')}), run as `erl {meta.get('ERL_FLAGS', '')}`:
  one scheduler, like one `tm_run()` scheduler of the library (and like the
  paper's Erlang, which had SMP disabled).
- Every figure is the median of {meta.get('REPS', '5')} repetitions with the
  range (min–max) in parentheses, except the memory table (one run).
- Under TCG everything is several times slower than native (a system call
  is ~1 us instead of ~0.2 us) and cross-vCPU wake-ups are erratic, so
  absolute times are not native times; ratios between mechanisms measured in
  one run are the meaningful part.  Latency is measured both with both
  processes pinned to CPU 0 (path cost) and unpinned (wake-up cost).
{meta.get('NOTES', '')}
""")
    md.append("## 1. Messaging between two OS processes\n")
    md.append(f"""Two processes (client = parent, server = forked child), one endpoint each.
termite (ioctl): one actor per process on its own port, found by
TERMITE_IOC_REGISTER/WHEREIS, TERMITE_IOC_SEND (blocking when full) and
TERMITE_IOC_RECV blocking in the kernel (with a timeout), one ioctl per
message.  termite (io_uring): the same actors, every send and receive an
IORING_OP_URING_CMD (the ioctl's struct in a 128-byte SQE, liburing);
latency: each side submits its send and its next receive, which parks in
the kernel until the message comes, in one `io_uring_submit_and_wait()`
(one system call per message instead of two ioctls); throughput: 32
messages per TERMITE_IOC_SEND_BATCH command, one command in flight, and
the receiver keeps 8 receives parked, each with its own buffer, taking
the messages in mailbox order (checked by their seq).  termite
(library): `tm_run()` in each process, pids found by `tm_register()` /
`tm_whereis()`, each message a Preserves byte string.  Pipes: a pair;
unix seqpacket: a socketpair; POSIX mqueue: two queues (mq_maxmsg 10,
msgsize_max raised to 65536).  binder: `/dev/binder` of binder_linux.ko
through the bare uapi (no libbinder), the server being the context
manager: synchronous transactions (BC_TRANSACTION, echoed by BC_REPLY)
for latency; for throughput one-way transactions (retried while the
server's async space is full), then synchronous queries until the server
has taken them all.  Latency: {meta.get('LAT_ITERS', '2000')} round trips per
repetition (fewer when they take over 1 s), after 100 to warm up.
Throughput: a one-way stream sized to last about 0.5 s, ended by one
acknowledgement.
""")
    md.append(ipc_table(d, data, "lat_pinned",
                        "Round-trip latency, both processes pinned to CPU 0",
                        "microseconds per round trip", "lower is better"))
    md.append(ipc_table(d, data, "lat_unpinned",
                        "Round-trip latency, unpinned (2 vCPUs)",
                        "microseconds per round trip", "lower is better"))
    md.append(ipc_table(d, data, "thr_msgs",
                        "One-way throughput, messages (unpinned)",
                        "thousands of messages per second",
                        "higher is better"))
    md.append(ipc_table(d, data, "thr_mb",
                        "One-way throughput, bytes (unpinned)",
                        "MiB per second", "higher is better"))
    md.append("## 2. The Termite paper's benchmarks: termite vs Erlang\n")
    md.append("""The programs of the paper's sections 7.2 and 7.3.1, written the same way
with libtermite-user (`bench/paper_bench.c`) and in Erlang
(`bench/erl/paper_bench.erl`), each in one OS process.  termite processes
free their heap (`tm_collect()`) when it passes 256 KiB.  All of them run
on one scheduler, so their messages skip the kernel (one deep copy into
the receiver's local mailbox); spawns and exits are kernel operations
(actors made 32 at a time by `TERMITE_IOC_SPAWN_BATCH`, one
`TERMITE_IOC_EXIT` each).  "termite (library, ioctl)" is the same with
`TERMITE_URING=0`: the scheduler asks the kernel for news by ioctl and
poll() instead of io_uring.
""")
    md.append(paper_tables(d, data, meta))
    md.append("## 3. Memory\n")
    md.append(mem_table(d, data))
    with open(os.path.join(d, "RESULTS.md"), "w") as f:
        f.write("\n".join(x for x in md if x))


if __name__ == "__main__":
    main()
