import os, socket, subprocess, time, urllib.request, contextlib
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
    def __init__(self, *args):
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log = open(os.path.join("/tmp", f"swiftlet-conformance-{self.port}.log"), "w")
        self.proc = subprocess.Popen([BIN, "serve", "--port", str(self.port), *args],
                                     stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.time() + 120
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"swiftlet serve exited with {self.proc.returncode}; see {self.log.name}")
            try:
                with urllib.request.urlopen(self.base + "/health", timeout=2) as r:
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
