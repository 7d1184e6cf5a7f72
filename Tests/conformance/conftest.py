import os, socket, ssl, subprocess, tempfile, time, urllib.request, contextlib
import pytest

BIN = os.environ.get("SWIFTLET_BIN")
ROOT = os.environ.get("SWIFTLET_ROOT", os.path.abspath(os.path.join(os.path.dirname(__file__), "../..")))
STORIES = os.path.join(ROOT, "models/stories260K/stories260K.bin")
SMOL = os.path.join(ROOT, "models/SmolLM2-135M-Instruct.Q4_1.gguf")


def free_port():
    with contextlib.closing(socket.socket()) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """A `swiftlet serve` process. `ca`: the server speaks HTTPS with a certificate of that CA (reached as
    https://localhost). `h2c`: it speaks cleartext HTTP/2 only (prior knowledge)."""

    def __init__(self, *args, ca=None, h2c=False):
        self.port = free_port()
        self.ca = ca
        self.base = f"https://localhost:{self.port}" if ca else f"http://127.0.0.1:{self.port}"
        self.log = open(os.path.join("/tmp", f"swiftlet-conformance-{self.port}.log"), "w")
        self.proc = subprocess.Popen([BIN, "serve", "--port", str(self.port), *args],
                                     stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.time() + 120
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"swiftlet serve exited with {self.proc.returncode}; see {self.log.name}")
            try:
                if h2c:
                    import httpx
                    with httpx.Client(http1=False, http2=True, timeout=2) as c:
                        if c.get(self.base + "/health").status_code == 200:
                            return
                else:
                    ctx = ssl.create_default_context(cafile=ca) if ca else None
                    with urllib.request.urlopen(self.base + "/health", timeout=2, context=ctx) as r:
                        if r.status == 200:
                            return
            except Exception:
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError("swiftlet serve did not become healthy in 120 s")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        self.log.close()


@pytest.fixture(scope="session")
def stories_server():
    assert BIN, "set SWIFTLET_BIN"
    s = Server("--model", STORIES, "--served-model-name", "stories260K", "--kv-cache-memory", "64MiB")
    yield s
    s.stop()
    assert s.proc.returncode == 0, "graceful shutdown exits 0"


@pytest.fixture(scope="session")
def smol_server():
    s = Server("--model", SMOL, "--served-model-name", "smollm2", "--kv-cache-memory", "256MiB")
    yield s
    s.stop()
    assert s.proc.returncode == 0


@pytest.fixture(scope="session")
def keyed_server():
    s = Server("--model", STORIES, "--served-model-name", "stories260K", "--api-key", "sk-test-123",
               "--kv-cache-memory", "32MiB", "--max-queued-requests", "0")
    yield s
    s.stop()


@pytest.fixture(scope="session")
def certs():
    """A CA, a server certificate (localhost, 127.0.0.1) and a client certificate, made now with openssl."""
    d = tempfile.mkdtemp(prefix="swiftlet-certs-")
    subprocess.run([os.path.join(ROOT, "Tests/support/make-test-certs.sh"), d], check=True)
    return {name: os.path.join(d, name) for name in
            ["ca.pem", "server.pem", "server.key", "client.pem", "client.key"]}


@pytest.fixture(scope="session")
def chat_template():
    """A plain template: stories260K ships none."""
    path = os.path.join(tempfile.mkdtemp(prefix="swiftlet-template-"), "chat.jinja")
    with open(path, "w") as f:
        f.write("{% for message in messages %}{{ message['role'] }}: {{ message['content'] }}\n{% endfor %}"
                "{% if add_generation_prompt %}assistant:{% endif %}")
    return path


@pytest.fixture(scope="session")
def tls_server(certs, chat_template):
    s = Server("--model", STORIES, "--served-model-name", "stories260K", "--kv-cache-memory", "64MiB",
               "--chat-template", chat_template,
               "--ssl-certfile", certs["server.pem"], "--ssl-keyfile", certs["server.key"], "--http2",
               ca=certs["ca.pem"])
    yield s
    s.stop()
    assert s.proc.returncode == 0


@pytest.fixture(scope="session")
def h2c_server():
    s = Server("--model", STORIES, "--served-model-name", "stories260K", "--kv-cache-memory", "64MiB", "--http2",
               h2c=True)
    yield s
    s.stop()
    assert s.proc.returncode == 0


@pytest.fixture(scope="session")
def schema_server(chat_template):
    s = Server("--model", STORIES, "--served-model-name", "stories260K", "--chat-template", chat_template,
               "--kv-cache-memory", "64MiB")
    yield s
    s.stop()


@pytest.fixture(scope="session")
def schema_keyed_server(chat_template):
    s = Server("--model", STORIES, "--served-model-name", "stories260K", "--api-key", "sk-schema",
               "--chat-template", chat_template, "--kv-cache-memory", "64MiB")
    yield s
    s.stop()


GEMMA = os.path.join(ROOT, "models/gemma-3-270m-q4_k_m.gguf")


@pytest.fixture(scope="session")
def gemma_server():
    assert os.path.exists(GEMMA), f"{GEMMA} is missing: run models/fetch-gemma3.sh"
    s = Server("--model", GEMMA, "--served-model-name", "gemma3-270m", "--kv-cache-memory", "256MiB")
    yield s
    s.stop()
    assert s.proc.returncode == 0
