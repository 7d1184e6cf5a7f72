"""Conformance of `swiftlet serve` with the official openai Python client."""
import json, os, urllib.request
import openai
import pytest

GOLDEN = json.load(open(os.path.join(os.environ.get("SWIFTLET_ROOT", "../.."), "models/stories260K/golden_greedy.json")))
GOLD_IDS = GOLDEN["generated_ids"]


def client(server, key="none"):
    return openai.OpenAI(base_url=server.base + "/v1", api_key=key, max_retries=0, timeout=120)


# ---------- completions ----------

def test_completion_greedy_matches_golden(stories_server):
    c = client(stories_server)
    r = c.completions.create(model="stories260K", prompt=[1], max_tokens=64, temperature=0)
    assert r.object == "text_completion" and r.id.startswith("cmpl-")
    assert r.model == "stories260K"
    assert r.choices[0].finish_reason == "length"
    assert r.usage.prompt_tokens == 1 and r.usage.completion_tokens == 64
    assert r.usage.total_tokens == 65
    body = json.dumps({"model": "stories260K", "tokens": [1] + GOLD_IDS[:64]}).encode()
    req = urllib.request.Request(stories_server.base + "/detokenize", data=body, method="POST",
                                 headers={"Content-Type": "application/json"})
    detok = json.loads(urllib.request.urlopen(req).read())
    assert detok["prompt"].endswith(r.choices[0].text)     # greedy = the reference's 64 golden ids


def test_streamed_completion_equals_unstreamed(stories_server):
    c = client(stories_server)
    full = c.completions.create(model="stories260K", prompt="Once upon a time", max_tokens=40, temperature=0)
    chunks = list(c.completions.create(model="stories260K", prompt="Once upon a time", max_tokens=40, temperature=0,
                                       stream=True, stream_options={"include_usage": True}))
    text = "".join(ch.choices[0].text for ch in chunks if ch.choices)
    assert text == full.choices[0].text
    assert [ch.choices[0].finish_reason for ch in chunks if ch.choices][-1] == "length"
    usage = [ch.usage for ch in chunks if ch.usage]
    assert usage and usage[-1].completion_tokens == 40
    assert len([ch for ch in chunks if ch.choices and ch.choices[0].text]) > 5   # streamed token by token


def test_completion_n_and_seed(stories_server):
    c = client(stories_server)
    a = c.completions.create(model="stories260K", prompt="Lily", max_tokens=30, temperature=1.0, n=3, seed=42)
    b = c.completions.create(model="stories260K", prompt="Lily", max_tokens=30, temperature=1.0, n=3, seed=42)
    assert len(a.choices) == 3 and sorted(ch.index for ch in a.choices) == [0, 1, 2]
    assert [ch.text for ch in a.choices] == [ch.text for ch in b.choices]
    assert len({ch.text for ch in a.choices}) > 1
    assert 3 <= a.usage.completion_tokens <= 90
    assert a.usage.prompt_tokens == b.usage.prompt_tokens


def test_completion_logprobs_and_echo(stories_server):
    c = client(stories_server)
    r = c.completions.create(model="stories260K", prompt="Once upon", max_tokens=5, temperature=0, logprobs=3)
    lp = r.choices[0].logprobs
    assert len(lp.tokens) == 5 and len(lp.token_logprobs) == 5 and len(lp.top_logprobs) == 5
    for tok, l, top in zip(lp.tokens, lp.token_logprobs, lp.top_logprobs):
        assert l <= 0 and len(top) == 3 and max(top.values()) == pytest.approx(l, abs=1e-4)
    e = c.completions.create(model="stories260K", prompt="Once upon", max_tokens=3, temperature=0, echo=True)
    assert e.choices[0].text.startswith("Once upon")


def test_completion_stop_string(stories_server):
    c = client(stories_server)
    full = c.completions.create(model="stories260K", prompt=[1], max_tokens=80, temperature=0).choices[0].text
    stop = full[25:29]
    r = c.completions.create(model="stories260K", prompt=[1], max_tokens=80, temperature=0, stop=[stop])
    assert r.choices[0].finish_reason == "stop"
    assert stop not in r.choices[0].text and full.startswith(r.choices[0].text)
    s = c.completions.create(model="stories260K", prompt=[1], max_tokens=80, temperature=0, stop=stop, stream=True)
    assert "".join(ch.choices[0].text for ch in s if ch.choices) == r.choices[0].text


def test_models_endpoint(stories_server):
    c = client(stories_server)
    ms = c.models.list()
    assert [m.id for m in ms.data] == ["stories260K"]
    assert c.models.retrieve("stories260K").id == "stories260K"
    with pytest.raises(openai.NotFoundError):
        c.models.retrieve("nope")


# ---------- errors map to the openai exception classes ----------

def test_errors_raise_matching_exceptions(stories_server):
    c = client(stories_server)
    with pytest.raises(openai.NotFoundError):
        c.completions.create(model="no-such-model", prompt="x", max_tokens=1)
    with pytest.raises(openai.BadRequestError) as e:
        c.completions.create(model="stories260K", prompt="x", max_tokens=1, temperature=5)
    assert e.value.body["param"] == "temperature" if isinstance(e.value.body, dict) else True
    with pytest.raises(openai.BadRequestError) as e:
        c.completions.create(model="stories260K", prompt="x", max_tokens=100000)
    assert "maximum context length" in str(e.value)
    with pytest.raises(openai.BadRequestError):
        c.chat.completions.create(model="stories260K", messages=[{"role": "wizard", "content": "hi"}], max_tokens=1)
    with pytest.raises(openai.BadRequestError):
        c.completions.create(model="stories260K", prompt="x", max_tokens=1, extra_body={"top_k": "many"})
    # Malformed JSON straight over HTTP.
    req = urllib.request.Request(stories_server.base + "/v1/completions", data=b"{not json", method="POST",
                                 headers={"Content-Type": "application/json"})
    try:
        urllib.request.urlopen(req)
        assert False, "malformed JSON accepted"
    except urllib.error.HTTPError as err:
        assert err.code == 400 and json.loads(err.read())["error"]["type"] == "invalid_request_error"
    big = b'{"model": "stories260K", "prompt": "' + b"a" * (5 << 20) + b'"}'
    req = urllib.request.Request(stories_server.base + "/v1/completions", data=big, method="POST",
                                 headers={"Content-Type": "application/json"})
    try:
        urllib.request.urlopen(req)
        assert False, "oversize body accepted"
    except urllib.error.HTTPError as err:
        assert err.code == 413
    # The server still serves.
    assert c.completions.create(model="stories260K", prompt=[1], max_tokens=3, temperature=0).usage.completion_tokens == 3


def test_auth_and_rate_limit(keyed_server):
    with pytest.raises(openai.AuthenticationError):
        client(keyed_server, key="wrong").models.list()
    good = client(keyed_server, key="sk-test-123")
    assert good.models.list().data[0].id == "stories260K"
    with pytest.raises(openai.RateLimitError):   # --max-queued-requests 0: every generation is refused
        good.completions.create(model="stories260K", prompt="x", max_tokens=1)


# ---------- chat on the default model ----------

def test_chat_capital_of_france(smol_server):
    c = client(smol_server)
    r = c.chat.completions.create(model="smollm2", temperature=0, max_tokens=30,
                                  messages=[{"role": "user", "content": "What is the capital of France?"}])
    assert r.object == "chat.completion" and r.id.startswith("chatcmpl-")
    assert r.choices[0].message.role == "assistant"
    assert r.choices[0].message.content == "The capital of France is Paris."
    assert r.choices[0].finish_reason == "stop"
    assert r.usage.prompt_tokens == 37 and r.usage.completion_tokens >= 7


def test_chat_stream_logprobs_and_parts(smol_server):
    c = client(smol_server)
    msgs = [{"role": "system", "content": "You are a helpful AI assistant named SmolLM, trained by Hugging Face"},
            {"role": "user", "content": [{"type": "text", "text": "What is the capital of France?"}]}]
    chunks = list(c.chat.completions.create(model="smollm2", temperature=0, max_tokens=30, messages=msgs, stream=True,
                                            logprobs=True, top_logprobs=2))
    assert chunks[0].choices[0].delta.role == "assistant"
    text = "".join(ch.choices[0].delta.content or "" for ch in chunks if ch.choices)
    assert text == "The capital of France is Paris."
    lps = [t for ch in chunks if ch.choices and ch.choices[0].logprobs for t in ch.choices[0].logprobs.content]
    assert lps and all(len(t.top_logprobs) == 2 and t.logprob <= 0 for t in lps)
    assert chunks[-1].choices[0].finish_reason == "stop"


def test_chat_seeded_sampling_reproducible(smol_server):
    c = client(smol_server)
    kw = dict(model="smollm2", temperature=0.9, max_tokens=20, seed=7,
              messages=[{"role": "user", "content": "Tell me a story."}])
    a = c.chat.completions.create(**kw).choices[0].message.content
    b = c.chat.completions.create(**kw).choices[0].message.content
    assert a == b
    n = c.chat.completions.create(n=2, **kw)
    assert len(n.choices) == 2
