#!/usr/bin/env python3
"""Cluster chaos scenarios against real processes (see scripts/chaos.sh, which builds and runs this).

One throwaway PostgreSQL 15, two `swiftlet router`s (r1, r2) and two `swiftlet instance`s (i1, i2) on stories260K;
N greedy streams of max_tokens tokens; once they produce, a fault. Scenarios (--scenario, comma-separated or `all`):

  pg-restart         `pg_ctl restart -m fast`
  pg-stop            the database stopped for --stop-seconds (10), then started
  sigstop            i1 frozen (SIGSTOP) for two leases and more, then resumed (SIGCONT): its late appends are fenced,
                     its requests finished on i2
  kill-instance      kill -9 of i1 mid-stream (restarted under the same name afterwards)
  kill-router        kill -9 of r2 mid-stream, half the streams through each router: r2's clients see their stream
                     cut (connection closed without [DONE]; nothing else is possible: the process holding the socket
                     is gone); r1's streams stay exact, r2's queued backlog still runs to its end, r1 serves new
                     requests (r2 is restarted afterwards)
  terminate-backend  `pg_terminate_backend` of every database connection of i1 while it lives
  burst              2x the cluster's capacity at once through a router with --max-queued-requests: some 429s,
                     the accepted requests exact, no other failure

Invariants after every scenario: every accepted stream ended exactly once ([DONE], one finish reason) with output
equal to single-process `swiftlet serve`, except what the scenario allows (r2's cut streams, 429s); the first
request after the fault exact; no process died unexpectedly; once quiet, no queue row left queued or assigned and
every live instance's /metrics shows 0 requests running and 0 KV-cache usage. Prints one line per run and a
summary; exits 1 if any run was not clean.
"""
import argparse, functools, http.client, json, os, re, shutil, signal, socket, subprocess, sys, tempfile, threading, time

# No child may touch the terminal: a background job that does (runuser's PAM session, psql) is stopped by
# SIGTTIN/SIGTTOU, which looks exactly like a hang of the cluster.
subprocess.run = functools.partial(subprocess.run, stdin=subprocess.DEVNULL)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MODEL = os.path.join(ROOT, "models/stories260K/stories260K.bin")
TOK = os.path.join(ROOT, "models/stories260K/tok512.bin")
PROMPTS = ["Once upon a time", "The little dog", "Lily and Ben", "One day, a girl", "The sun was", "Tom had a red",
           "In the park", "A big bird", "Mom said", "The cat and the"]
SCENARIOS = ["pg-restart", "pg-stop", "sigstop", "kill-instance", "kill-router", "terminate-backend", "burst"]
LEASE = 2.5   # the commands' default --lease-seconds


def free_port():
    s = socket.socket(); s.bind(("127.0.0.1", 0)); p = s.getsockname()[1]; s.close(); return p


class Postgres:
    """A private PostgreSQL 15 (trust auth, loopback, no fsync) that this script can restart and stop."""

    def __init__(self, bin_dir):
        self.bin = bin_dir
        self.dir = tempfile.mkdtemp(prefix="swiftlet-chaos-pg.")
        os.chmod(self.dir, 0o755)
        self.as_pg = ["setsid", "runuser", "-u", "nobody", "--"] if os.geteuid() == 0 else ["setsid"]
        if self.as_pg: shutil.chown(self.dir, "nobody")
        self.data = os.path.join(self.dir, "data")
        self.log = os.path.join(self.dir, "postgres.log")
        self.port = free_port()
        subprocess.run(self.as_pg + [f"{self.bin}/initdb", "-D", self.data, "-U", "swiftlet", "--auth=trust",
                                     "--encoding=UTF8", "--no-locale"], check=True, capture_output=True)
        with open(os.path.join(self.data, "postgresql.conf"), "a") as f:
            f.write(f"listen_addresses = '127.0.0.1'\nunix_socket_directories = '{self.dir}'\nport = {self.port}\n"
                    "fsync = off\nsynchronous_commit = off\nfull_page_writes = off\nmax_connections = 200\n")
        self.ctl("start")
        subprocess.run([f"{self.bin}/createdb", "-h", "127.0.0.1", "-p", str(self.port), "-U", "swiftlet", "swiftlet"],
                       check=True)
        self.url = f"postgres://swiftlet@127.0.0.1:{self.port}/swiftlet"

    def ctl(self, *args):
        subprocess.run(self.as_pg + [f"{self.bin}/pg_ctl", "-D", self.data, "-l", self.log, "-w", "-t", "60", *args],
                       check=True, capture_output=True)

    def sql(self, query):
        """Rows (lists of strings) of one query, or None when the database does not answer."""
        r = subprocess.run(["setsid", "psql", "-h", "127.0.0.1", "-p", str(self.port), "-U", "swiftlet", "-d", "swiftlet", "-AtX",
                            "-F", "\t", "-c", query], capture_output=True, text=True, timeout=30)
        if r.returncode != 0: return None
        return [line.split("\t") for line in r.stdout.splitlines() if line]

    def close(self):
        subprocess.run(self.as_pg + [f"{self.bin}/pg_ctl", "-D", self.data, "-m", "immediate", "-w", "stop"],
                       capture_output=True)
        shutil.rmtree(self.dir, ignore_errors=True)


def get(port, path, timeout=5):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout); c.request("GET", path)
    r = c.getresponse(); return r.status, r.read().decode()


def wait_healthy(port, proc, what, timeout=120):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None: raise SystemExit(f"chaos: {what} exited with {proc.returncode}")
        try:
            if get(port, "/health", 2)[0] == 200: return
        except OSError: pass
        time.sleep(0.2)
    raise SystemExit(f"chaos: {what} not healthy after {timeout} s")


def complete(port, prompt, max_tokens, timeout):
    try:
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
        c.request("POST", "/v1/completions", json.dumps({"prompt": prompt, "max_tokens": max_tokens, "temperature": 0}),
                  {"Content-Type": "application/json"})
        r = c.getresponse(); body = r.read().decode()
    except (OSError, http.client.HTTPException) as e:
        return None, f"{type(e).__name__}: {e}"
    if r.status != 200: return None, f"HTTP {r.status}: {body[:200]}"
    return json.loads(body)["choices"][0]["text"], None


def stream(port, prompt, max_tokens, timeout, first_token):
    """Returns (text, finish_reason, error, chunks, status). Times out (socket) after `timeout` s without a byte."""
    text, finish, chunks = "", None, 0
    try:
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
        c.request("POST", "/v1/completions", json.dumps({"prompt": prompt, "max_tokens": max_tokens, "temperature": 0,
                                                         "stream": True}), {"Content-Type": "application/json"})
        r = c.getresponse()
        if r.status != 200: return text, finish, f"HTTP {r.status}: {r.read()[:200]!r}", chunks, r.status
        done = False
        for raw in r:
            line = raw.decode().strip()
            if not line.startswith("data: "): continue
            data = line[6:]
            if data == "[DONE]": done = True; break
            ev = json.loads(data)
            if "error" in ev: return text, finish, f"error event: {ev['error']}", chunks, 200
            ch = ev["choices"][0]
            text += ch.get("text", ""); chunks += 1
            first_token.set()
            if ch.get("finish_reason"):
                if finish is not None: return text, finish, "two finish reasons", chunks, 200
                finish = ch["finish_reason"]
        if not done: return text, finish, "stream ended without [DONE]", chunks, 200
        if finish is None: return text, finish, "no finish reason", chunks, 200
        return text, finish, None, chunks, 200
    except (OSError, http.client.HTTPException) as e:
        return text, finish, f"{type(e).__name__}: {e}", chunks, None


class Cluster:
    def __init__(self, a, pg, logs):
        self.a, self.pg, self.logs = a, pg, logs
        self.procs, self.ports, self.all = {}, {}, []

    def spawn(self, name, args):
        f = open(os.path.join(self.logs, name + ".log"), "a")
        p = subprocess.Popen([self.a.binary, *args], stdin=subprocess.DEVNULL, stdout=f, stderr=subprocess.STDOUT)
        self.all.append(p); self.procs[name] = p
        return p

    def router(self, name, extra=()):
        port = free_port()
        p = self.spawn(name, ["router", "--model", MODEL, "--tokenizer", TOK, "--queue", self.pg.url, "--port", str(port),
                              "--name", name, "--log-level", "notice", *extra])
        self.ports[name] = port
        wait_healthy(port, p, name)
        return port

    def instance(self, name):
        self.spawn(name, ["instance", "--model", MODEL, "--tokenizer", TOK, "--queue", self.pg.url, "--name", name,
                          "--port", "0", "--max-num-seqs", str(self.a.max_num_seqs), "--capacity",
                          str(self.a.max_num_seqs), "--log-level", "notice"])

    def instance_ports(self):
        """Live instances' HTTP ports from the queue (they register their address)."""
        rows = self.pg.sql("SELECT name, address FROM swiftlet_instances WHERE heartbeat > clock_timestamp() - "
                           f"make_interval(secs => {LEASE})") or []
        return {n: int(addr.rsplit(":", 1)[1]) for n, addr in rows if ":" in addr}

    def wait_instances(self, names, timeout=120):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            live = self.instance_ports()
            if all(n in live for n in names):
                for n in names: wait_healthy(live[n], self.procs[n], n)
                return
            for n in names:
                if self.procs[n].poll() is not None: raise SystemExit(f"chaos: {n} exited with {self.procs[n].returncode}")
            time.sleep(0.2)
        raise SystemExit(f"chaos: instances {names} did not register within {timeout} s")

    def dead(self, expected=()):
        return [f"{n} (exit {p.returncode})" for n, p in self.procs.items() if p.poll() is not None and n not in expected]

    def quiet(self, timeout):
        """Waits until no queue row is queued or assigned and every live instance runs nothing and holds no KV block;
        returns None, or what was still left."""
        deadline = time.monotonic() + timeout
        left = "?"
        while time.monotonic() < deadline:
            rows = self.pg.sql("SELECT state, count(*) FROM swiftlet_requests WHERE state IN ('queued', 'assigned') GROUP BY state")
            if rows is None: left = "database not answering"; time.sleep(0.5); continue
            busy = []
            # The agents' own view (published with each heartbeat): requests held and engine load.
            for n, active, running in self.pg.sql("SELECT name, load->>'active', load->>'numRunning' FROM swiftlet_instances "
                                                  f"WHERE heartbeat > clock_timestamp() - make_interval(secs => {LEASE})") or []:
                if active != "0" or running != "0": busy.append(f"{n}: agent holds {active}, engine runs {running}")
            for n, port in sorted(self.instance_ports().items()):
                try:
                    _, text = get(port, "/metrics")
                except OSError as e:
                    busy.append(f"{n}: /metrics {e}"); continue
                m = {k: float(v) for k, v in re.findall(r"^swiftlet:(num_requests_running|num_requests_waiting|kv_cache_usage_perc)(?:\{[^}]*\})? (\S+)$", text, re.M)}
                if m.get("num_requests_running", 0) or m.get("num_requests_waiting", 0) or m.get("kv_cache_usage_perc", 0):
                    busy.append(f"{n}: running {m.get('num_requests_running')} waiting {m.get('num_requests_waiting')} kv {m.get('kv_cache_usage_perc')}")
            if not rows and not busy: return None
            left = "; ".join([f"{c} rows {s}" for s, c in rows] + busy)
            time.sleep(0.5)
        return left


def run_streams(cl, ports, prompts, max_tokens, timeout, fault, stagger=0.0):
    """Streams prompts[i] through ports[i]; once the first token arrived (and 0.3 s), calls fault() (returns a note).
    Returns (results, note, fault_at, elapsed)."""
    results = [None] * len(prompts)
    first = threading.Event()
    t0 = time.monotonic()

    def one(i):
        results[i] = stream(ports[i], prompts[i], max_tokens, timeout, first) + (time.monotonic() - t0,)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(len(prompts))]
    for t in threads:
        t.start()
        if stagger: time.sleep(stagger)
    first.wait(60)
    time.sleep(0.3)
    fault_at = time.monotonic() - t0
    note = fault() if fault else ""
    # Streams still running long after the fault: show what the database sessions are doing (once), to diagnose.
    shown = False
    for t in threads:
        while t.is_alive():
            t.join(1)
            if not shown and time.monotonic() - t0 > fault_at + 30:
                shown = True
                rows = cl.pg.sql("SELECT pid, client_port, state, wait_event_type, wait_event, "
                                 "EXTRACT(EPOCH FROM clock_timestamp() - state_change)::int, left(query, 60) "
                                 "FROM pg_stat_activity WHERE datname = 'swiftlet'")
                print("    slow: database sessions (pid, port, state, wait, seconds, query):", flush=True)
                for r in rows or []: print("      " + " | ".join(r), flush=True)
                for n, p in cl.procs.items():
                    if p.poll() is None:
                        print(f"      {n} pid {p.pid} ports {pids_connections(p.pid, cl.pg.port)}", flush=True)
    return results, note, fault_at, time.monotonic() - t0


def pids_connections(pid, pg_port):
    """Local ports of pid's TCP connections to the database."""
    out = subprocess.run(["ss", "-Htnp", "state", "established", f"( dport = :{pg_port} )"], capture_output=True,
                         text=True).stdout
    ports = []
    for line in out.splitlines():
        if f"pid={pid}," not in line: continue
        # With a state filter: Recv-Q Send-Q Local:Port Peer:Port Process
        local = line.split()[2]
        ports.append(int(local.rsplit(":", 1)[1]))
    return ports


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("binary")
    ap.add_argument("--scenario", default="pg-restart", help="comma-separated: " + ", ".join(SCENARIOS) + ", or all")
    ap.add_argument("--repeat", type=int, default=1, help="runs of each scenario")
    ap.add_argument("--quick", action="store_true", help="fewer, shorter streams and a shorter stop (CI)")
    ap.add_argument("--streams", type=int, default=None)
    ap.add_argument("--max-tokens", type=int, default=None)
    ap.add_argument("--max-num-seqs", type=int, default=16, help="per instance (also its --capacity)")
    ap.add_argument("--stop-seconds", type=float, default=None, help="pg-stop: how long the database stays down "
                    "(also: given alone, selects pg-stop like the old option)")
    ap.add_argument("--client-timeout", type=float, default=90)
    ap.add_argument("--pg-bin", default=os.environ.get("PG_BIN", "/usr/lib/postgresql/15/bin"))
    ap.add_argument("--logs", default=None, help="keep the processes' logs in this folder")
    a = ap.parse_args()
    if a.stop_seconds and a.scenario == "pg-restart": a.scenario = "pg-stop"
    a.streams = a.streams or (20 if a.quick else 40)
    a.max_tokens = a.max_tokens or (200 if a.quick else 400)
    a.stop_seconds = a.stop_seconds or (5 if a.quick else 10)
    scenarios = SCENARIOS if a.scenario == "all" else a.scenario.split(",")
    for s in scenarios:
        if s not in SCENARIOS: raise SystemExit(f"chaos: unknown scenario {s} (know: {', '.join(SCENARIOS)})")
    prompts = [PROMPTS[i % len(PROMPTS)] for i in range(a.streams)]
    burst_tokens = 48
    logs = a.logs or tempfile.mkdtemp(prefix="swiftlet-chaos-logs.")
    os.makedirs(logs, exist_ok=True)
    pg = Postgres(a.pg_bin)
    cl = Cluster(a, pg, logs)
    began = time.monotonic()
    try:
        # The reference: single-process `serve`, greedy.
        sp = free_port()
        serve = cl.spawn("serve", ["serve", "--model", MODEL, "--tokenizer", TOK, "--port", str(sp), "--max-num-seqs", "64"])
        wait_healthy(sp, serve, "serve")
        reference, short_ref = {}, {}
        for p in PROMPTS:
            for table, n in ((reference, a.max_tokens), (short_ref, burst_tokens)):
                text, err = complete(sp, p, n, 120)
                if err: raise SystemExit(f"chaos: reference failed: {err}")
                table[p] = text
        serve.send_signal(signal.SIGTERM); serve.wait(30); del cl.procs["serve"]
        cl.instance("i1"); cl.instance("i2")
        r1 = cl.router("r1"); r2 = cl.router("r2")
        cl.wait_instances(["i1", "i2"])
        # Both instances serving: a warm-up round through each router.
        for port in (r1, r2):
            for p in prompts[:4]:
                _, err = complete(port, p, 16, 120)
                if err: raise SystemExit(f"chaos: warm-up failed: {err}")
        print(f"chaos: cluster up in {time.monotonic() - began:.1f} s ({a.streams} streams x {a.max_tokens} tokens, "
              f"instances of {a.max_num_seqs} sequences)", flush=True)
        total = clean = 0
        for scenario in scenarios:
            for run in range(1, a.repeat + 1):
                t = time.monotonic()
                ok, line, errors = run_scenario(scenario, cl, a, prompts, reference, short_ref, burst_tokens)
                total += 1; clean += ok
                print(f"{scenario} run {run}: {'clean' if ok else 'NOT CLEAN'} ({time.monotonic() - t:.1f} s): {line}", flush=True)
                for e in sorted(set(errors))[:5]: print(f"    {e}", flush=True)
        print(f"chaos: {clean}/{total} runs clean in {time.monotonic() - began:.1f} s (logs in {logs})", flush=True)
        return 0 if clean == total else 1
    finally:
        for p in cl.all:
            if p.poll() is None:
                try: os.kill(p.pid, signal.SIGCONT)
                except OSError: pass
                p.send_signal(signal.SIGTERM)
        for p in cl.all:
            try: p.wait(15)
            except subprocess.TimeoutExpired: p.kill()
        pg.close()


def busiest(cl):
    """The instance holding the most requests now, and how many (the fault's victim: one holding nothing would
    test nothing)."""
    rows = cl.pg.sql("SELECT instance, count(*) FROM swiftlet_requests WHERE state = 'assigned' GROUP BY instance") or []
    held = {n: int(c) for n, c in rows}
    name = max(("i1", "i2"), key=lambda n: held.get(n, 0))
    return name, held.get(name, 0)


def run_scenario(scenario, cl, a, prompts, reference, short_ref, burst_tokens):
    """Returns (clean, summary, notable errors)."""
    pg = cl.pg
    victim = ["i1"]
    r1, r2 = cl.ports["r1"], cl.ports["r2"]
    ports = [r1] * len(prompts)
    allowed_cut = set()   # stream indexes whose cut is the expected outcome
    expected_dead = ()
    problems = []

    if scenario == "pg-restart":
        fault = lambda: (pg.ctl("restart", "-m", "fast"), "database restarted")[1]
    elif scenario == "pg-stop":
        def fault():
            pg.ctl("stop", "-m", "fast"); time.sleep(a.stop_seconds); pg.ctl("start")
            return f"database stopped {a.stop_seconds:g} s"
    elif scenario == "sigstop":
        frozen = 2 * LEASE + 1.5
        def fault():
            victim[0], held = busiest(cl)
            p = cl.procs[victim[0]]
            os.kill(p.pid, signal.SIGSTOP); time.sleep(frozen); os.kill(p.pid, signal.SIGCONT)
            if held == 0: problems.append("the frozen instance held no request")
            return f"{victim[0]} frozen {frozen:g} s holding {held} requests"
    elif scenario == "kill-instance":
        def fault():
            victim[0], held = busiest(cl)
            cl.procs[victim[0]].kill(); cl.procs[victim[0]].wait()
            if held == 0: problems.append("the killed instance held no request")
            return f"{victim[0]} killed holding {held} requests"
        expected_dead = victim
    elif scenario == "kill-router":
        ports = [r1 if i % 2 == 0 else r2 for i in range(len(prompts))]
        allowed_cut = {i for i in range(len(prompts)) if i % 2 == 1}
        def fault():
            cl.procs["r2"].kill(); cl.procs["r2"].wait()
            return "r2 killed"
        expected_dead = ("r2",)
    elif scenario == "terminate-backend":
        def fault():
            victim[0], held = busiest(cl)
            local = pids_connections(cl.procs[victim[0]].pid, pg.port)
            rows = pg.sql("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE client_port = ANY("
                          f"ARRAY[{','.join(map(str, local)) or 'NULL'}]::int[])")
            if held == 0: problems.append("the cut instance held no request")
            return f"terminated {rows[0][0] if rows else '?'} of {victim[0]}'s {len(local)} connections (it held {held} requests)"
    elif scenario == "burst":
        return burst(cl, a, short_ref, burst_tokens)
    else:
        raise SystemExit(f"chaos: no scenario {scenario}")

    results, note, fault_at, elapsed = run_streams(cl, ports, prompts, a.max_tokens, a.client_timeout, fault)
    exact = cut = wrong = 0
    errors = []
    for i, r in enumerate(results):
        if r[2] is None and r[0] == reference[prompts[i]]: exact += 1
        elif i in allowed_cut and r[2] is not None and r[4] == 200 and r[2] != "two finish reasons": cut += 1; errors.append(f"cut (expected): {r[2]}")
        elif r[2] is None: wrong += 1; problems.append(f"stream {i} wrong text")
        else: errors.append(f"stream {i}: {r[2]}"); problems.append(f"stream {i}: {r[2]}")
    exact_needed = len(prompts) - len(allowed_cut)
    # Recovery: restart what the scenario killed, then the next request through r1 (and r2 if it is back) is exact.
    if scenario == "kill-instance":
        # Its name is free once its last heartbeat is a lease old (a new process refuses a live name).
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and (pg.sql("SELECT 1 FROM swiftlet_instances WHERE name = '" + victim[0] +
                                                      f"' AND heartbeat > clock_timestamp() - make_interval(secs => {LEASE + 0.5})") != []):
            time.sleep(0.3)
        cl.instance(victim[0]); cl.wait_instances([victim[0]])
    nxt, nerr = complete(r1, prompts[0], a.max_tokens, a.client_timeout)
    next_ok = nerr is None and nxt == reference[prompts[0]]
    if not next_ok: problems.append(f"next request: {nerr or 'wrong text'}")
    dead = cl.dead(expected_dead)
    if dead: problems.append(f"exited: {', '.join(dead)}")
    left = cl.quiet(60 + a.max_tokens / 10)
    if left: problems.append(f"left behind: {left}")
    if scenario == "kill-router":
        cl.router("r2")
    ok = not problems and exact >= exact_needed
    line = (f"{note}; {exact}/{len(prompts)} streams exact" + (f", {cut} cut as expected" if allowed_cut else "")
            + f", {wrong} wrong; next request {'exact' if next_ok else 'NOT exact'}; fault at {fault_at:.1f} s, "
            f"streams done at {elapsed:.1f} s; {'quiet, no leak' if not left else 'LEAK: ' + left}"
            + (f"; exited: {', '.join(dead)}" if dead else ""))
    return ok, line, errors + problems


def burst(cl, a, short_ref, tokens):
    """2x the cluster's capacity at once through a router admitting few waiting requests: 429s, the rest exact."""
    cap = 2 * a.max_num_seqs
    n = 2 * cap
    name = "rb"
    port = cl.ports.get(name) or cl.router(name, ["--max-queued-requests", str(a.max_num_seqs)])
    prompts = [PROMPTS[i % len(PROMPTS)] for i in range(n)]
    results, _, _, elapsed = run_streams(cl, [port] * n, prompts, tokens, a.client_timeout, None)
    exact = sum(1 for i, r in enumerate(results) if r[2] is None and r[0] == short_ref[prompts[i]])
    refused = sum(1 for r in results if r[4] == 429)
    other = [f"request {i}: {r[2]}" for i, r in enumerate(results) if not (r[2] is None and r[0] == short_ref[prompts[i]]) and r[4] != 429]
    problems = list(other)
    if refused == 0: problems.append("no 429 at twice the capacity")
    nxt, nerr = complete(port, prompts[0], tokens, a.client_timeout)
    if nerr or nxt != short_ref[prompts[0]]: problems.append(f"next request: {nerr or 'wrong text'}")
    dead = cl.dead()
    if dead: problems.append(f"exited: {', '.join(dead)}")
    left = cl.quiet(60)
    if left: problems.append(f"left behind: {left}")
    line = (f"{n} requests (capacity {cap}): {exact} exact, {refused} refused with 429, {len(other)} other failures; "
            f"done at {elapsed:.1f} s; {'quiet, no leak' if not left else 'LEAK: ' + left}")
    return not problems, line, problems


if __name__ == "__main__":
    sys.exit(main())
