#!/usr/bin/env python3
"""Cluster chaos scenario against real processes (see scripts/chaos.sh, which builds and runs this).

PostgreSQL fast restart under load: a throwaway PostgreSQL 15 of its own, one `swiftlet router` and two
`swiftlet instance` processes (stories260K), N streams of max_tokens greedy tokens through the router; once the
streams are producing, `pg_ctl restart -m fast` (or, with --stop-seconds S, a stop, S seconds, a start). Each stream
must end exactly once with output equal to single-process `swiftlet serve`, and the first request sent after the
restart must be exact too. Repeats the scenario --repeat times on the same cluster and prints one line per run and
a summary; exits 1 if any run was not clean.
"""
import argparse, http.client, json, os, shutil, signal, socket, subprocess, sys, tempfile, threading, time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MODEL = os.path.join(ROOT, "models/stories260K/stories260K.bin")
TOK = os.path.join(ROOT, "models/stories260K/tok512.bin")
PROMPTS = ["Once upon a time", "The little dog", "Lily and Ben", "One day, a girl", "The sun was", "Tom had a red",
           "In the park", "A big bird", "Mom said", "The cat and the"]


def free_port():
    s = socket.socket(); s.bind(("127.0.0.1", 0)); p = s.getsockname()[1]; s.close(); return p


class Postgres:
    """A private PostgreSQL 15 (trust auth, loopback, no fsync) that this script can restart and stop."""

    def __init__(self, bin_dir):
        self.bin = bin_dir
        self.dir = tempfile.mkdtemp(prefix="swiftlet-chaos-pg.")
        os.chmod(self.dir, 0o755)
        self.as_pg = ["runuser", "-u", "nobody", "--"] if os.geteuid() == 0 else []
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

    def close(self):
        subprocess.run(self.as_pg + [f"{self.bin}/pg_ctl", "-D", self.data, "-m", "immediate", "-w", "stop"],
                       capture_output=True)
        shutil.rmtree(self.dir, ignore_errors=True)


def wait_healthy(port, proc, what, timeout=120):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None: raise SystemExit(f"chaos: {what} exited with {proc.returncode}")
        try:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=2); c.request("GET", "/health")
            if c.getresponse().status == 200: return
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
    """Returns (text, finish_reason, error, chunks); the caller adds the seconds it took (index 4). Times out
    (socket) after `timeout` s without a byte."""
    text, finish, chunks = "", None, 0
    try:
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
        c.request("POST", "/v1/completions", json.dumps({"prompt": prompt, "max_tokens": max_tokens, "temperature": 0,
                                                         "stream": True}), {"Content-Type": "application/json"})
        r = c.getresponse()
        if r.status != 200: return text, finish, f"HTTP {r.status}: {r.read()[:200]!r}", chunks
        done = False
        for raw in r:
            line = raw.decode().strip()
            if not line.startswith("data: "): continue
            data = line[6:]
            if data == "[DONE]": done = True; break
            ev = json.loads(data)
            if "error" in ev: return text, finish, f"error event: {ev['error']}", chunks
            ch = ev["choices"][0]
            text += ch.get("text", ""); chunks += 1
            first_token.set()
            if ch.get("finish_reason"):
                if finish is not None: return text, finish, "two finish reasons", chunks
                finish = ch["finish_reason"]
        if not done: return text, finish, "stream ended without [DONE]", chunks
        return text, finish, None, chunks
    except (OSError, http.client.HTTPException) as e:
        return text, finish, f"{type(e).__name__}: {e}", chunks


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("binary")
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--streams", type=int, default=40)
    ap.add_argument("--max-tokens", type=int, default=400)
    ap.add_argument("--stop-seconds", type=float, default=0, help="stop the database this long instead of a restart")
    ap.add_argument("--client-timeout", type=float, default=90)
    ap.add_argument("--pg-bin", default=os.environ.get("PG_BIN", "/usr/lib/postgresql/15/bin"))
    ap.add_argument("--logs", default=None, help="keep the processes' logs in this folder")
    a = ap.parse_args()
    prompts = [PROMPTS[i % len(PROMPTS)] for i in range(a.streams)]
    procs, logs = [], a.logs or tempfile.mkdtemp(prefix="swiftlet-chaos-logs.")
    os.makedirs(logs, exist_ok=True)

    def spawn(name, args):
        f = open(os.path.join(logs, name + ".log"), "w")
        p = subprocess.Popen([a.binary, *args], stdout=f, stderr=subprocess.STDOUT)
        procs.append(p); return p

    pg = Postgres(a.pg_bin)
    try:
        # The reference: single-process `serve`, greedy.
        sp = free_port()
        serve = spawn("serve", ["serve", "--model", MODEL, "--tokenizer", TOK, "--port", str(sp), "--max-num-seqs", "64"])
        wait_healthy(sp, serve, "serve")
        reference = {}
        for p in set(prompts):
            text, err = complete(sp, p, a.max_tokens, 120)
            if err: raise SystemExit(f"chaos: reference failed: {err}")
            reference[p] = text
        serve.send_signal(signal.SIGTERM); serve.wait(30)
        rp = free_port()
        router = spawn("router", ["router", "--model", MODEL, "--tokenizer", TOK, "--queue", pg.url, "--port", str(rp),
                                  "--name", "r1", "--log-level", "notice"])
        cluster = [("router", router)]
        for n in ("i1", "i2"):
            cluster.append((n, spawn(n, ["instance", "--model", MODEL, "--tokenizer", TOK, "--queue", pg.url, "--name", n,
                                         "--port", "0", "--max-num-seqs", "32", "--log-level", "notice"])))
        wait_healthy(rp, router, "router")
        # Both instances registered and serving: a warm-up round through the router.
        for p in prompts[:4]:
            text, err = complete(rp, p, 16, 120)
            if err: raise SystemExit(f"chaos: warm-up failed: {err}")
        clean = 0
        for run in range(1, a.repeat + 1):
            results = [None] * len(prompts)
            first = threading.Event()
            t0 = time.monotonic()

            def one(i):
                results[i] = stream(rp, prompts[i], a.max_tokens, a.client_timeout, first) + (time.monotonic() - t0,)

            threads = [threading.Thread(target=one, args=(i,)) for i in range(len(prompts))]
            for t in threads: t.start()
            first.wait(60)
            time.sleep(0.3)   # well inside the streams (400 tokens take seconds)
            fault_at = time.monotonic() - t0
            if a.stop_seconds > 0:
                pg.ctl("stop", "-m", "fast"); time.sleep(a.stop_seconds); pg.ctl("start")
            else:
                pg.ctl("restart", "-m", "fast")
            back_at = time.monotonic() - t0
            for t in threads: t.join()
            exact = sum(1 for i, r in enumerate(results) if r[2] is None and r[0] == reference[prompts[i]])
            errors = [r[2] for r in results if r[2] is not None]
            wrong = sum(1 for i, r in enumerate(results) if r[2] is None and r[0] != reference[prompts[i]])
            unfinished_before = sum(1 for r in results if r[4] <= fault_at)
            nxt, nerr = complete(rp, prompts[0], a.max_tokens, a.client_timeout)
            next_ok = nerr is None and nxt == reference[prompts[0]]
            dead = [f"{n} (exit {p.returncode})" for n, p in cluster if p.poll() is not None]
            ok = exact == len(prompts) and next_ok and not dead
            clean += ok
            slowest = max(r[4] for r in results)
            print(f"run {run}: {'clean' if ok else 'NOT CLEAN'}: {exact}/{len(prompts)} streams exact, {wrong} wrong, "
                  f"{len(errors)} errors; next request {'exact' if next_ok else 'WRONG: ' + str(nerr)}; fault at "
                  f"{fault_at:.1f} s, database back at {back_at:.1f} s, {unfinished_before} streams had ended before "
                  f"it, last stream ended at {slowest:.1f} s; processes exited: {', '.join(dead) or 'none'}", flush=True)
            for e in sorted(set(errors))[:5]: print(f"    error: {e}", flush=True)
        print(f"chaos: {clean}/{a.repeat} runs clean (logs in {logs})", flush=True)
        return 0 if clean == a.repeat else 1
    finally:
        for p in procs:
            if p.poll() is None: p.send_signal(signal.SIGTERM)
        for p in procs:
            try: p.wait(15)
            except subprocess.TimeoutExpired: p.kill()
        pg.close()


if __name__ == "__main__":
    sys.exit(main())
