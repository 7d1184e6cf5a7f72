"""Gemma 3 270M Q4_K_M (a second architecture, K-quants, a 262k SentencePiece vocabulary) through `swiftlet serve`
with the official openai client: the oracle's golden continuation, streaming, tokenization and the chat endpoint."""
import json, os, urllib.request
import openai

ROOT = os.environ.get("SWIFTLET_ROOT", os.path.abspath(os.path.join(os.path.dirname(__file__), "../..")))
GOLDEN = json.load(open(os.path.join(ROOT, "../shared/models/gemma3-270m/golden_greedy.json")))


def client(server):
    return openai.OpenAI(base_url=server.base + "/v1", api_key="none", max_retries=0, timeout=300)


def post(server, path, body):
    req = urllib.request.Request(server.base + path, data=json.dumps(body).encode(), method="POST",
                                 headers={"Content-Type": "application/json"})
    return json.loads(urllib.request.urlopen(req, timeout=120).read())


def test_models_lists_gemma(gemma_server):
    ids = [m.id for m in client(gemma_server).models.list().data]
    assert ids == ["gemma3-270m"]


def test_completion_equals_the_oracle(gemma_server):
    c = client(gemma_server)
    for case in GOLDEN["cases"]:
        n = len(case["generated_ids"])
        r = c.completions.create(model="gemma3-270m", prompt=case["prompt_ids"], max_tokens=n, temperature=0)
        assert r.usage.prompt_tokens == len(case["prompt_ids"])
        want = post(gemma_server, "/detokenize", {"model": "gemma3-270m", "tokens": case["generated_ids"]})["prompt"]
        assert r.choices[0].text == want, case["name"]


def test_text_prompt_tokenizes_like_the_oracle(gemma_server):
    case = GOLDEN["cases"][0]
    text = post(gemma_server, "/detokenize", {"model": "gemma3-270m", "tokens": case["prompt_ids"][1:]})["prompt"]
    ids = post(gemma_server, "/tokenize", {"model": "gemma3-270m", "prompt": text})["tokens"]
    assert ids == case["prompt_ids"]      # BOS 2 added, then the same SentencePiece pieces


def test_streamed_completion_equals_unstreamed(gemma_server):
    c = client(gemma_server)
    args = dict(model="gemma3-270m", prompt="The quick brown fox jumps over", max_tokens=16, temperature=0)
    whole = c.completions.create(**args).choices[0].text
    parts = "".join(ch.choices[0].text for ch in c.completions.create(stream=True, **args) if ch.choices)
    assert parts == whole and len(whole) > 0


def test_chat_uses_gemma_turns(gemma_server):
    c = client(gemma_server)
    r = c.chat.completions.create(model="gemma3-270m", messages=[{"role": "user", "content": "What is the capital of France?"}],
                                  max_tokens=12, temperature=0)
    assert r.choices[0].message.role == "assistant"
    assert r.choices[0].finish_reason in ("stop", "length")
    assert "<start_of_turn>" not in r.choices[0].message.content and "<end_of_turn>" not in r.choices[0].message.content
    # the prompt is Gemma's turn format: BOS, <start_of_turn>user\n ... <end_of_turn>\n<start_of_turn>model\n
    tok = post(gemma_server, "/tokenize", {"model": "gemma3-270m", "messages": [{"role": "user", "content": "Hi"}]})["tokens"]
    assert tok[0] == 2 and tok[1] == 105 and tok[-3:] == [105, 4368, 107]
    assert r.usage.prompt_tokens == len(post(gemma_server, "/tokenize", {
        "model": "gemma3-270m", "messages": [{"role": "user", "content": "What is the capital of France?"}]})["tokens"])
