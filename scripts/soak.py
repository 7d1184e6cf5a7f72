#!/usr/bin/env python3
"""Soak run (see scripts/soak.sh): a server under a multiple of its saturation for a while.

Starts `swiftlet serve` (or, with --cluster, a throwaway PostgreSQL, a router and one instance) with
--max-num-seqs N; N x --multiple client workers loop for --duration seconds, each sending a request with a random
prompt length and max_tokens (mixed lengths), streamed or not; some clients disconnect mid-stream, some cancel
before the first token. Reports served / refused (429) / failed counts, the server's resident memory at the start
(after a warm-up) and at the end, the KV blocks in use and requests running once idle (must be 0), and p50/p99
latencies (time to first token, end to end) of the served requests. Exits 1 when anything failed other than 429s
or a block is left in use.
"""
import argparse, http.client, json, os, random, re, signal, socket, subprocess, sys, tempfile, threading, time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
WORDS = ("the quick brown fox jumps over a lazy dog while seven small birds sing about rivers mountains and "
         "old stories of kings queens dragons ships stars and the sea").split()


def free_port():
    s = socket.socket(); s.bind(("127.0.0.1", 0)); p = s.getsockname()[1]; s.close(); return p


def rss_mb(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"): return int(line.split()[1]) / 1024
    except OSError: pass
    return float("nan")


def metrics(port):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=10); c.request("GET", "/metrics")
    text = c.getresponse().read().decode()
    return {k: float(v) for k, v in re.findall(r"^swiftlet:(\w+)(?:\{[^}]*\})? (\S+)$", text, re.M)}


def wait_healthy(port, proc, timeout=180):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None: raise SystemExit(f"soak: server exited with {proc.returncode}")
        try:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=2); c.request("GET", "/health")
            if c.getresponse().status == 200: return
        except OSError: pass
        time.sleep(0.3)
    raise SystemExit("soak: server not healthy")


class Stats:
    def __init__(self):
        self.lock = threading.Lock()
        self.served = self.refused = self.disconnected = self.cancelled = 0
        self.failed = []
        self.ttft, self.e2e = [], []

    def add(self, kind, detail=None, ttft=None, e2e=None):
        with self.lock:
            if kind == "served":
                self.served += 1
                if ttft is not None: self.ttft.append(ttft)
                self.e2e.append(e2e)
            elif kind == "refused": self.refused += 1
            elif kind == "disconnected": self.disconnected += 1
            elif kind == "cancelled": self.cancelled += 1
            else: self.failed.append(detail)


def one_request(port, rng, stats, timeout):
    n_words = rng.choice([4, 16, 64, 200])
    prompt = " ".join(rng.choice(WORDS) for _ in range(n_words))
    max_tokens = rng.choice([8, 32, 64, 128, 256])
    mode = rng.random()
    streamed = mode < 0.8
    disconnect = streamed and mode < 0.15      # vanish after a few chunks
    cancel = 0.15 <= mode < 0.2                # vanish before the first token
    body = {"prompt": prompt, "max_tokens": max_tokens, "temperature": rng.choice([0, 0.8]), "stream": streamed}
    t0 = time.monotonic()
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        c.request("POST", "/v1/completions", json.dumps(body), {"Content-Type": "application/json"})
        if cancel:
            time.sleep(rng.random() * 0.05)
            c.sock.shutdown(socket.SHUT_RDWR); c.close(); stats.add("cancelled"); return
        r = c.getresponse()
        if r.status == 429:
            # A well-behaved client backs off (Retry-After, jittered); one that hammers at once would measure
            # only how fast 429s go out.
            r.read(); stats.add("refused")
            time.sleep(min(float(r.getheader("Retry-After") or 1), 2) * (0.5 + rng.random()))
            return
        if r.status != 200: stats.add("failed", f"HTTP {r.status}: {r.read()[:200]!r}"); return
        if not streamed:
            data = json.loads(r.read()); assert data["choices"][0]["finish_reason"]
            stats.add("served", ttft=None, e2e=time.monotonic() - t0); return
        ttft, chunks, done, finish = None, 0, False, None
        stop_after = rng.randint(1, 5) if disconnect else None
        for raw in r:
            line = raw.decode().strip()
            if not line.startswith("data: "): continue
            if line == "data: [DONE]": done = True; break
            ev = json.loads(line[6:])
            if "error" in ev: stats.add("failed", f"error event: {ev['error']}"); return
            if ttft is None: ttft = time.monotonic() - t0
            chunks += 1
            finish = ev["choices"][0].get("finish_reason") or finish
            if stop_after and chunks >= stop_after:
                c.sock.shutdown(socket.SHUT_RDWR); c.close(); stats.add("disconnected"); return
        if not done or not finish: stats.add("failed", "stream ended without [DONE] or finish reason"); return
        stats.add("served", ttft=ttft, e2e=time.monotonic() - t0)
    except (OSError, http.client.HTTPException, ValueError, AssertionError, KeyError) as e:
        stats.add("failed", f"{type(e).__name__}: {e}")
    finally:
        c.close()


def pct(xs, q):
    if not xs: return float("nan")
    xs = sorted(xs); return xs[min(len(xs) - 1, int(q * len(xs)))]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("binary")
    ap.add_argument("--duration", type=float, default=600, help="seconds of load")
    ap.add_argument("--multiple", type=float, default=2, help="client workers = multiple x --max-num-seqs")
    ap.add_argument("--max-num-seqs", type=int, default=16)
    ap.add_argument("--max-queued-requests", type=int, default=None, help="default: --max-num-seqs / 2")
    ap.add_argument("--model", default=os.path.join(ROOT, "models/SmolLM2-135M-Instruct.Q4_1.gguf"))
    ap.add_argument("--cluster", action="store_true", help="a router and one instance on a throwaway PostgreSQL")
    ap.add_argument("--client-timeout", type=float, default=120)
    ap.add_argument("--logs", default=None)
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    queued = a.max_queued_requests or max(1, a.max_num_seqs // 2)
    logs = a.logs or tempfile.mkdtemp(prefix="swiftlet-soak.")
    os.makedirs(logs, exist_ok=True)
    procs, pg = [], None

    def spawn(name, args):
        f = open(os.path.join(logs, name + ".log"), "w")
        p = subprocess.Popen([a.binary, *args], stdin=subprocess.DEVNULL, stdout=f, stderr=subprocess.STDOUT)
        procs.append(p); return p

    try:
        port = free_port()
        if a.cluster:
            sys.path.insert(0, os.path.join(ROOT, "scripts"))
            from chaos import Postgres
            pg = Postgres(os.environ.get("PG_BIN", "/usr/lib/postgresql/15/bin"))
            inst = spawn("instance", ["instance", "--model", a.model, "--queue", pg.url, "--name", "i1", "--port", "0",
                                      "--max-num-seqs", str(a.max_num_seqs), "--capacity", str(a.max_num_seqs),
                                      "--log-level", "warning"])
            server = spawn("router", ["router", "--model", a.model, "--queue", pg.url, "--port", str(port), "--name", "r1",
                                      "--max-queued-requests", str(queued), "--log-level", "warning"])
            watched = {"router": server, "instance": inst}
        else:
            server = spawn("serve", ["serve", "--model", a.model, "--port", str(port), "--max-num-seqs", str(a.max_num_seqs),
                                     "--max-queued-requests", str(queued), "--log-level", "warning"])
            watched = {"serve": server}
        wait_healthy(port, server)
        rng = random.Random(a.seed)
        warm = Stats()
        for _ in range(4): one_request(port, random.Random(rng.random()), warm, a.client_timeout)
        inst_port = port
        if a.cluster:   # the instance's own /metrics (the router's KV figures are the instances' sums)
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                rows = pg.sql("SELECT address FROM swiftlet_instances") or []
                if rows: inst_port = int(rows[0][0].rsplit(":", 1)[1]); break
                time.sleep(0.5)
        rss0 = {n: rss_mb(p.pid) for n, p in watched.items()}
        stats = Stats()
        workers = max(1, round(a.multiple * a.max_num_seqs))
        end = time.monotonic() + a.duration
        print(f"soak: {'cluster (router + 1 instance)' if a.cluster else 'serve'} {os.path.basename(a.model)}, "
              f"--max-num-seqs {a.max_num_seqs} --max-queued-requests {queued}, {workers} workers "
              f"({a.multiple:g}x saturation) for {a.duration:g} s", flush=True)

        def worker(seed):
            r = random.Random(seed)
            while time.monotonic() < end:
                one_request(port, r, stats, a.client_timeout)

        threads = [threading.Thread(target=worker, args=(rng.random(),)) for _ in range(workers)]
        for t in threads: t.start()
        last = time.monotonic()
        while any(t.is_alive() for t in threads):
            time.sleep(1)
            if time.monotonic() - last >= 60:
                last = time.monotonic()
                with stats.lock:
                    print(f"  {a.duration - (end - last):.0f} s: served {stats.served}, refused {stats.refused}, "
                          f"failed {len(stats.failed)}, rss " + ", ".join(f"{n} {rss_mb(p.pid):.0f} MB" for n, p in watched.items()),
                          flush=True)
        for t in threads: t.join()
        # Idle: every block back (disconnected and cancelled requests included).
        deadline = time.monotonic() + 60
        m = {}
        while time.monotonic() < deadline:
            m = metrics(inst_port)
            if not m.get("num_requests_running") and not m.get("num_requests_waiting") and not m.get("kv_cache_usage_perc"): break
            time.sleep(0.5)
        rss1 = {n: rss_mb(p.pid) for n, p in watched.items()}
        dead = [f"{n} exited {p.returncode}" for n, p in watched.items() if p.poll() is not None]
        kv, running = m.get("kv_cache_usage_perc", float("nan")), m.get("num_requests_running", float("nan"))
        print(f"served {stats.served}, refused (429) {stats.refused}, failed {len(stats.failed)}, "
              f"client disconnects {stats.disconnected}, cancellations {stats.cancelled}", flush=True)
        for e in sorted(set(stats.failed))[:8]: print(f"    failed: {e}", flush=True)
        print("rss start/end: " + ", ".join(f"{n} {rss0[n]:.0f} -> {rss1[n]:.0f} MB" for n in watched), flush=True)
        print(f"at the end: KV-cache usage {kv:g}, requests running {running:g}, waiting {m.get('num_requests_waiting', float('nan')):g}"
              + (f"; {', '.join(dead)}" if dead else ""), flush=True)
        print(f"latency (served): ttft p50 {pct(stats.ttft, 0.5):.3f} s p99 {pct(stats.ttft, 0.99):.3f} s; "
              f"e2e p50 {pct(stats.e2e, 0.5):.3f} s p99 {pct(stats.e2e, 0.99):.3f} s "
              f"({stats.served / a.duration:.1f} served/s)", flush=True)
        ok = not stats.failed and kv == 0 and running == 0 and not dead
        print(f"soak: {'PASS' if ok else 'FAIL'} (logs in {logs})", flush=True)
        return 0 if ok else 1
    finally:
        for p in procs:
            if p.poll() is None: p.send_signal(signal.SIGTERM)
        for p in procs:
            try: p.wait(20)
            except subprocess.TimeoutExpired: p.kill()
        if pg: pg.close()


if __name__ == "__main__":
    sys.exit(main())
