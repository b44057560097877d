"""The table scripts/bench prints: every surface against its floor, or against what a user
would pick instead, from one run's raw output. Python's standard library only.

    report.py RAW_DIR CRITERION_DIR OUT_DIR    writes OUT_DIR/bench.json, bench.md, bench.svg
                                                and prints the table
    report.py --readme README.md BENCH_JSON     rewrites the README's section between
                                                <!-- bench:begin --> and <!-- bench:end -->
"""

import datetime
import json
import os
import platform
import re
import subprocess
import sys


def read(path):
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return f.read()
    except OSError:
        return None


def criterion_medians(root):
    """{"group/function": median ns} from criterion's output of this run."""
    found = {}
    for directory, _, files in os.walk(root):
        if os.path.basename(directory) != "new" or "benchmark.json" not in files:
            continue
        meta = json.loads(read(os.path.join(directory, "benchmark.json")))
        estimates = json.loads(read(os.path.join(directory, "estimates.json")))
        found[meta["full_id"]] = estimates["median"]["point_estimate"]
    return found


def number(pattern, text):
    match = re.search(pattern, text or "")
    return float(match.group(1).replace(",", "")) if match else None


def why_missing(raw, name):
    """Why a part has no figures: the tool it needs, or how it failed."""
    missing = read(os.path.join(raw, name + ".missing"))
    if missing:
        return missing.strip()
    rc = read(os.path.join(raw, name + ".rc"))
    if rc is None:
        return "not run"
    if rc.strip() != "0":
        err = (read(os.path.join(raw, name + ".err")) or "").strip().splitlines()
        last = next((l for l in reversed(err) if "panicked" in l or "rror" in l), err[-1] if err else "")
        return f"failed (status {rc.strip()}): {last[:160]}"
    return None


class Table:
    def __init__(self):
        self.rows = []

    def add(self, surface, measure, value, unit, against=None, reference=None, goal=None, note=None, missing=None,
            ratio=None, why=None):
        """A row; `goal` is (comparison, bound) on the ratio value / reference, or on `ratio` when the bench
        measured the ratio itself (the median of interleaved rounds, say). `why` explains a missed goal
        with this run's own figures (else the row's text in WHY)."""
        if ratio is None or value is None:
            ratio = value / reference if value is not None and reference else None
        met = None
        if goal and ratio is not None:
            op, bound = goal
            met = ratio <= bound if op == "<=" else ratio >= bound
        self.rows.append({
            "surface": surface, "measure": measure, "value": value, "unit": unit,
            "against": against, "reference": reference, "ratio": ratio,
            "goal": f"{goal[0]} {goal[1]}" if goal else None, "met": met, "note": note,
            "missing": missing if value is None else None, "why": why,
        })


def figure(value, unit):
    if value is None:
        return "-"
    if unit == "ns":
        return f"{value / 1000:.2f} µs" if value >= 1000 else f"{value:.0f} ns"
    if unit == "us":
        return f"{value / 1000:.2f} ms" if value >= 1000 else f"{value:.1f} µs"
    if unit in ("/s", "requests/s", "verifies/s", "emails/s"):
        return f"{value:,.0f} {unit}"
    if unit == "x":
        return f"{value:.2f}x"
    return f"{value:,.1f} {unit}" if value != int(value) else f"{value:,.0f} {unit}"


def build(raw, criterion):
    c = criterion_medians(criterion)
    t = Table()
    out = lambda name: read(os.path.join(raw, name + ".out"))

    core_missing = why_missing(raw, "core")
    fv, fi, v, i = (c.get(k) for k in ("floor/verify", "floor/issue", "engine/verify", "engine/issue"))
    t.add("core", "verify, memory store", v, "ns", "its floor: 2 HMACs + opening the token", fv, ("<=", 1.5), missing=core_missing)
    t.add("core", "issue, memory store, no delivery", i, "ns", "its floor: 2 HMACs + sealing + 1 CSPRNG call", fi, ("<=", 2.0),
          missing=core_missing)
    t.add("core", "issue by SMS (number parsed with libphonenumber)", c.get("engine/issue-sms"), "ns", "issue by email", i,
          missing=core_missing)
    t1, t2, h1, h2 = (c.get(f"threads/{k}") for k in ("1", "2", "hmac-1", "hmac-2"))
    speedup = t1 / t2 if t1 and t2 else None
    ceiling = h1 / h2 if h1 and h2 else None
    t.add("core", "issue+verify pairs, speed-up on 2 threads", speedup, "x",
          "the machine's own speed-up (HMACs sharing nothing)", ceiling, (">=", 0.9), missing=core_missing)

    memory = out("memory")
    memory_missing = why_missing(raw, "memory")
    t.add("core", "allocations per verify (warm engine)", number(r"verify:\s+([\d.]+) allocations", memory), "allocations",
          note="the answer's identifier, the store's copy and record", missing=memory_missing)
    t.add("core", "allocations per issue (warm engine)", number(r"issue:\s+([\d.]+) allocations", memory), "allocations",
          note="mostly the rendered message", missing=memory_missing)
    resident = number(r"resident set:\s+([\d.]+)", memory)
    t.add("core", "memory per live challenge, 1,000,000 subjects", number(r"heap asked for:\s+([\d.]+)", memory), "bytes",
          "209 bytes before issue 10's hardening", 209, ("<=", 1.0),
          note=f"resident set {resident or 0:.0f} bytes", missing=memory_missing)

    abi = out("abi")
    spread = re.search(r"\((lowest [\d.]+, highest [\d.]+)\)", abi or "")
    t.add("C ABI", "verify through libpasscode (CPU time)", number(r"through the C ABI:\s+([\d.]+) ns", abi), "ns",
          "verify through the Rust API", number(r"through the Rust API:\s+([\d.]+) ns", abi), ("<=", 1.05),
          ratio=number(r"median of \d+ interleaved rounds:\s+([\d.]+)", abi),
          note=f"ratio: the median of interleaved rounds' ratios, {spread.group(1)}" if spread else None,
          missing=why_missing(raw, "abi"))

    component_missing = why_missing(raw, "component")
    group = "verify (right code, fresh challenge each time)"
    t.add("component", "verify in wasmtime", c.get(f"{group}/component (wasmtime)"), "ns", "verify in native Rust",
          c.get(f"{group}/native Rust"), ("<=", 2.0), missing=component_missing)
    t.add("component", "instantiation", c.get("instance/instantiate"), "ns", missing=component_missing)
    t.add("component", "instantiation + opening the engine", c.get("instance/instantiate + open engine"), "ns",
          missing=component_missing)

    redis = out("redis")
    redis_missing = why_missing(raw, "redis")
    mean = number(r"verify \(right code\), 1 thread: mean ([\d.]+) us", redis)
    trip = number(r"=> ([\d.]+) us per GET round trip", redis)
    trips = number(r"round trips per verify: ([\d.]+)", redis)
    t.add("Redis", "verify, 1 connection", mean, "us", "2 GET round trips (redis-benchmark)", 2 * trip if trip else None,
          note=f"{trips:.2f} round trips per verify" if trips else None, missing=redis_missing)
    t.add("Redis", "verifies per second, 8 threads", number(r"verify, 8 threads, pool 8: ([\d.]+) verifies/s", redis),
          "verifies/s", missing=redis_missing)

    gateway = out("gateway")
    gateway_missing = why_missing(raw, "gateway")
    verify_rps = number(r"verify:\s+([\d.]+) requests/s", gateway) or number(r"Requests/sec:\s+([\d.]+)", gateway)
    trivial_rps = number(r"trivial route:\s+([\d.]+) requests/s", gateway)
    http_rps = number(r"verify, HTTP work alone:\s+([\d.]+) requests/s", gateway)
    # The bench's ratios are the medians of its rounds' ratios.
    http_ratio = number(r"verify, HTTP work alone / trivial: ([\d.]+)", gateway)
    cpu = {name: number(name + r":.*gateway CPU ([\d.]+) µs per request", gateway)
           for name in ("trivial route", "verify, HTTP work alone", "verify")}
    t.add("gateway", "verify's HTTP work alone (the same requests without the challenge cookie: 400 before the engine)",
          http_rps, "requests/s", "a trivial route of the same server", trivial_rps, missing=gateway_missing,
          ratio=http_ratio)
    t.add("gateway", "verify requests per second (wrk, 32 connections)", verify_rps, "requests/s",
          "a trivial route of the same server", trivial_rps, goal=(">=", 0.8),
          ratio=number(r"verify / trivial: ([\d.]+)", gateway),
          note=(("this gateway bench has no trivial route yet" if not trivial_rps else
                 f"issue 11 also asks for >= 48,000 per second: {'met' if verify_rps >= 48000 else 'not met'}")
                if verify_rps else None),
          missing=gateway_missing,
          why=gateway_why(trivial_rps, http_ratio, cpu))

    jna = out("jna")
    t.add("Java", "verify through JNA (Keycloak binding)", number(r"through JNA from Java:\s+([\d.]+) ns", jna), "ns",
          "verify through the C ABI from C", number(r"through the C ABI from C:\s+([\d.]+) ns", jna),
          missing=why_missing(raw, "jna"))

    delivery = out("delivery")
    delivery_missing = why_missing(raw, "delivery")
    pooled = number(r"pooled connection, 1 thread:\s+([\d.]+)", delivery)
    t.add("delivery", "emails per second, pooled SMTP connection", pooled, "emails/s",
          "a new connection per message", number(r"new connection per message:\s+([\d.]+)", delivery),
          missing=delivery_missing)

    python = out("python")
    python_missing = why_missing(raw, "python")
    peer = json.loads(python) if python and not python_missing else {}
    label = f"django-otp {peer.get('django_otp', '')} EmailDevice (Django {peer.get('django', '')}, SQLite in memory)"
    t.add("Python", "issue: django-otp generate_challenge", peer.get("django_otp_issue_us"), "us",
          "Passcode issue through ctypes", peer.get("passcode_ctypes_issue_us"), note=label, missing=python_missing)
    t.add("Python", "verify: django-otp verify_token", peer.get("django_otp_verify_us"), "us",
          "Passcode verify through ctypes", peer.get("passcode_ctypes_verify_us"), missing=python_missing)

    ciphers = []
    for target in ("native", "wasm"):
        for line in (out("ciphers-" + target) or "").splitlines():
            if line.startswith("{"):
                ciphers.append(json.loads(line))
    chosen = {(r["target"], r["op"]): r["ns"] for r in ciphers if r["candidate"] == "HMAC-SHA256/ChaCha20 SIV"}
    for target, name in (("native", "native"), ("wasm32-wasip2", "in wasmtime")):
        alternative = next((r["ns"] for r in ciphers if r["target"] == target and r["candidate"] == "XChaCha20-Poly1305"
                            and r["op"] == "open"), None)
        t.add("token cipher", f"opening a token {name} (HMAC-SHA256/ChaCha20 SIV)", chosen.get((target, "open")), "ns",
              "XChaCha20-Poly1305 (the cipher before)", alternative,
              missing=why_missing(raw, "ciphers-" + ("native" if target == "native" else "wasm")))
    return t.rows, ciphers


def machine(raw):
    cpu = next((l.split(":", 1)[1].strip() for l in (read("/proc/cpuinfo") or "").splitlines()
                if l.startswith("model name")), platform.processor())
    flags = next((l for l in (read("/proc/cpuinfo") or "").splitlines() if l.startswith("flags")), "")
    extensions = [f for f in ("aes", "avx2", "sha_ni") if f" {f}" in flags]
    memory = number(r"MemTotal:\s+(\d+) kB", read("/proc/meminfo"))
    try:
        rustc = subprocess.run(["rustc", "--version"], capture_output=True, text=True).stdout.strip()
    except OSError:
        rustc = None
    load = lambda name: number(r"load average: ([\d.]+)", read(os.path.join(raw, name)))
    return {
        "cpu": cpu, "extensions": extensions, "cores": os.cpu_count(),
        "memory_gib": round(memory / 1048576) if memory else None, "os": platform.platform(), "rustc": rustc,
        # When the run ended (its last measurement), not when this report was written.
        "date": datetime.datetime.fromtimestamp(os.path.getmtime(os.path.join(raw, "load-after.txt")),
                                                datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "load_before": load("load-before.txt"), "load_after": load("load-after.txt"),
    }


def gateway_why(trivial_rps, http_ratio, cpu):
    """The gateway's missed ratio explained with the run's own split of a verify's cost."""
    if not (trivial_rps and http_ratio and all(cpu.values())):
        return None
    # wrk and the gateway share the machine's two cores, which both runs keep busy: a request
    # costs the machine 2 / rate. For 0.8, a verify may cost 1 / 0.8 of a trivial request.
    allowed = 0.25 * 2e6 / trivial_rps
    http = cpu["verify, HTTP work alone"] - cpu["trivial route"]
    engine = cpu["verify"] - cpu["verify, HTTP work alone"]
    return (
        f"a ratio of 0.8 lets a verify cost the machine (the gateway and wrk, which share its two cores) "
        f"only {allowed:.1f} µs more than a trivial request; the same requests without their challenge cookie, "
        f"which do a verify's HTTP work (hyper, the body, the filters, the JSON answer, the metrics) and stop "
        f"before the engine, reach {http_ratio:.2f} of the trivial route's rate, with "
        f"{http:.1f} µs more gateway CPU than a trivial request; the engine adds {engine:.1f} µs of gateway CPU "
        f"per verify on top (the component's verify in wasm, the component row, with its calls out to the store "
        f"and the clock), which alone is more than the {allowed:.1f} µs"
    )


# Why a goal can be missed on this machine, for the rows that have one (shown when it is).
WHY = {
    "verify, memory store": (
        "the floor is only the cryptography (about 0.6 µs with prepared keys and the SIV); the rest is mostly "
        "memory latency: the bench verifies a fresh subject among hundreds of thousands, as a server does, so the "
        "map's bucket and the record are each a cache miss; then the token's base64, decoding and encoding the "
        "record, reading the typed code and the clock (ARCHITECTURE.md, \"What the hot path costs, and why\"). "
        "Making the floor cheaper (prepared HMAC keys, the SIV instead of XChaCha20-Poly1305) made that same "
        "overhead a larger ratio"
    ),
    "issue, memory store, no delivery": (
        "the floor has no message: issue renders an email's subject, text and HTML bodies (prepared at load, each "
        "written once into a buffer of its size) and hands back the token text and the recipient, which together "
        "cost more than the two HMACs, the seal and the CSPRNG call; reading the address takes IDNA only when "
        "its domain is not plain ASCII"
    ),
    "verify in wasmtime": (
        "in wasm, SHA-256 and ChaCha20 run in portable code (no SHA-NI, no AVX2): one HMAC costs about 4x its "
        "native time (the cipher bench's HMAC figures in bench.json), and verify computes three (the subject's, the code's, the token's "
        "tag); each call also crosses the canonical ABI to the host's store twice, and the host's 5 s call "
        "deadline (an epoch check) costs about 5%"
    ),
    "issue+verify pairs, speed-up on 2 threads": (
        "the two threads share the machine with other work in this run; the machine's own speed-up beside it "
        "shows how much room there was"
    ),
    "verify through libpasscode (CPU time)": (
        "the C layer's checks (NULLs, lengths, UTF-8), the panic boundary and the answer handed out in a box "
        "with a NUL-terminated copy of the identifier; the ratio's spread across rounds shows what load adds"
    ),
    "verify requests per second (wrk, 32 connections)": (
        "a verify costs the gateway a little over twice the CPU of the trivial route (the gateway bench prints "
        "both per request), and wrk runs on the same two cores: the component's verify (the component row), hyper, the JSON "
        "body, the cookies, the metrics and the answer's security headers; a perf profile puts 44% of a "
        "verify's time in the kernel's loopback writes and reads (one writev and one recvfrom per request, "
        "already the least), which both routes pay"
    ),
    "memory per live challenge, 1,000,000 subjects": "the record and the memory store's map entry per subject",
}


def markdown(report):
    lines = [
        "| surface | measure | figure | against | its figure | ratio | goal |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in report["rows"]:
        if r["value"] is None:
            lines.append(f"| {r['surface']} | {r['measure']} | not measured: {r['missing']} | | | | |")
            continue
        ratio = f"{r['ratio']:.2f}" if r["ratio"] is not None else ""
        goal = ""
        if r["goal"]:
            goal = f"{r['goal']}: " + ("met" if r["met"] else "**not met**")
        against = r["against"] or ""
        note = f" ({r['note']})" if r["note"] else ""
        lines.append(f"| {r['surface']} | {r['measure']}{note} | {figure(r['value'], r['unit'])} | {against} | "
                     f"{figure(r['reference'], r['unit']) if r['reference'] else ''} | {ratio} | {goal} |")
    missed = [r for r in report["rows"] if r["met"] is False]
    if missed:
        lines.append("")
        lines.append("Goals not met in this run, by how much, and why:")
        lines.append("")
        for r in missed:
            op, bound = r["goal"].split()
            by = r["ratio"] / float(bound) if op == "<=" else float(bound) / r["ratio"]
            lines.append(f"- {r['surface']}, {r['measure']}: {r['ratio']:.2f} against a goal of {op} {bound} "
                         f"({by:.1f}x off): {r.get('why') or WHY.get(r['measure'], 'see the raw output')}.")
    m = report["machine"]
    lines.append("")
    lines.append(
        f"Measured {m['date']} on {m['cpu']} ({m['cores']} cores, {m['memory_gib']} GiB; "
        f"{', '.join(m['extensions']) or 'no AES, AVX2 or SHA extensions'}), {m['os']}, {m['rustc']}; "
        f"load average {m['load_before']} before the run and {m['load_after']} after "
        f"(other work on the machine shows in the absolute figures more than in the ratios, which are taken within one run)."
    )
    return "\n".join(lines)


def svg(report):
    """Horizontal bars of each ratio on a log scale, with the goal as a tick when there is one."""
    import math

    rows = [r for r in report["rows"] if r["ratio"]]
    width, left, bar, gap, top = 980, 430, 16, 8, 40
    height = top + len(rows) * (bar + gap) + 50
    lo, hi = 0.1, max([10.0] + [r["ratio"] * 1.5 for r in rows])
    x = lambda v: left + (math.log10(max(v, lo)) - math.log10(lo)) / (math.log10(hi) - math.log10(lo)) * (width - left - 20)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-family="sans-serif" font-size="12">',
        '<rect width="100%" height="100%" fill="white"/>',
        f'<text x="10" y="20" font-size="14" font-weight="bold">Passcode: each surface against its floor or the alternative '
        f'(ratio, log scale; 1 = equal)</text>',
    ]
    for tick in (0.1, 0.2, 0.5, 1, 2, 5, 10, 20, 50, 100, 200, 500, 1000):
        if tick <= hi:
            parts.append(f'<line x1="{x(tick):.1f}" y1="{top - 6}" x2="{x(tick):.1f}" y2="{height - 40}" '
                         f'stroke="{"#444" if tick == 1 else "#ddd"}"/>')
            parts.append(f'<text x="{x(tick):.1f}" y="{height - 25}" text-anchor="middle">{tick:g}</text>')
    for n, r in enumerate(rows):
        y = top + n * (bar + gap)
        colour = "#888" if r["met"] is None else ("#2a7d2a" if r["met"] else "#c0392b")
        label = f"{r['surface']}: {r['measure']}"[:60] + (" (higher: better)" if r["unit"].endswith("/s") or "speed-up" in r["measure"] else "")
        parts.append(f'<text x="{left - 8}" y="{y + bar - 4}" text-anchor="end">{escape(label)}</text>')
        x0, x1 = sorted((x(1), x(r["ratio"])))
        parts.append(f'<rect x="{x0:.1f}" y="{y}" width="{max(x1 - x0, 1):.1f}" height="{bar}" fill="{colour}"/>')
        parts.append(f'<text x="{x1 + 4:.1f}" y="{y + bar - 4}">{r["ratio"]:.2f}</text>')
        if r["goal"]:
            g = float(r["goal"].split()[1])
            parts.append(f'<line x1="{x(g):.1f}" y1="{y - 2}" x2="{x(g):.1f}" y2="{y + bar + 2}" stroke="black" stroke-width="2"/>')
    parts.append(f'<text x="10" y="{height - 8}" fill="#555">green: goal met, red: not met, grey: no goal; '
                 f'black tick: the goal. {escape(report["machine"]["date"])}</text>')
    parts.append("</svg>")
    return "\n".join(parts)


def escape(text):
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def update_readme(readme, bench_json):
    report = json.loads(read(bench_json))
    text = read(readme)
    begin, end = "<!-- bench:begin -->", "<!-- bench:end -->"
    if begin not in text or end not in text:
        raise SystemExit(f"{readme} has no {begin} ... {end} section")
    section = (
        f"{begin}\n<!-- generated by scripts/bench --readme from bench/results/bench.json: do not edit -->\n\n"
        f"{markdown(report)}\n\n![each surface against its floor](bench/results/bench.svg)\n{end}"
    )
    head, rest = text.split(begin, 1)
    with open(readme, "w", encoding="utf-8") as f:
        f.write(head + section + rest.split(end, 1)[1])


def main():
    if sys.argv[1] == "--readme":
        update_readme(sys.argv[2], sys.argv[3])
        return
    raw, criterion, out = sys.argv[1:4]
    rows, ciphers = build(raw, criterion)
    report = {"machine": machine(raw), "rows": rows, "ciphers": ciphers}
    with open(os.path.join(out, "bench.json"), "w", encoding="utf-8") as f:
        json.dump(report, f, indent=1)
    table = markdown(report)
    with open(os.path.join(out, "bench.md"), "w", encoding="utf-8") as f:
        f.write(table + "\n")
    with open(os.path.join(out, "bench.svg"), "w", encoding="utf-8") as f:
        f.write(svg(report))
    print(table)
    print(f"\nwritten: {out}/bench.json, bench.md, bench.svg")


if __name__ == "__main__":
    main()
