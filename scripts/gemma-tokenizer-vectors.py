#!/usr/bin/env python3
"""Records llama.cpp's tokenization of Gemma 3 for the tokenizer tests (not run by the tests: the JSON is committed).

  llama-server -m models/gemma-3-270m-q4_k_m.gguf --port 18181 -c 512 -t 1 &
  python3 scripts/gemma-tokenizer-vectors.py http://127.0.0.1:18181 > Tests/TokenizerTests/Fixtures/gemma3-llamacpp.json
  # the GGUF has no tokenizer.chat_template, so llama-server's /apply-template uses its fallback (ChatML); for
  # llama.cpp's own Gemma format restart it with --chat-template gemma and add that rendering:
  llama-server -m models/gemma-3-270m-q4_k_m.gguf --port 18181 -c 512 -t 1 --no-jinja --chat-template gemma &
  python3 scripts/gemma-tokenizer-vectors.py http://127.0.0.1:18181 --add-chat FILE gemma_builtin > NEW_FILE

For every text: POST /tokenize with add_special true and false (parse_special true, llama-server's default), and for
texts with special-token markup also parse_special false (the markup as plain text). Also records /apply-template for
a 2-turn conversation (and the template itself from /props). Output: {"source", "model", "model_sha256", "vectors":
[{text, add_special, parse_special, ids}], "chat": {...}}.
"""
import hashlib
import json
import sys
import urllib.request

URL = sys.argv[1] if len(sys.argv) > 1 else "http://127.0.0.1:18181"
CONVERSATIONS = [
    [{"role": "user", "content": "What is the capital of France?"},
     {"role": "assistant", "content": "Paris."},
     {"role": "user", "content": "And of Italy?"}],
    [{"role": "system", "content": "Answer briefly."},
     {"role": "user", "content": "What is the capital of France?"},
     {"role": "assistant", "content": "Paris."},
     {"role": "user", "content": "And of Italy?"}],
]

TEXTS = [
    "", " ", "  ", "a", "Hello", "Hello world", "Hello, world!", " Hello world", "Hello world ", "  Hello   world  ",
    "hello\nworld", "line one\n\nline two\n\n\n", "\n", "\n\n", "\t", "tab\tseparated\tvalues", "mixed \t \n whitespace",
    "0", "42", "1234567890", "3.14159", "-273.15 °C", "1,000,000 and 1.000.000", "2026-02-01T12:34:56Z",
    "The quick brown fox jumps over the lazy dog.", "What's up? I'm fine, they're here, we'll see, you'd know.",
    "!!!???...;;;:::", "(parentheses) [brackets] {braces} <angles>", "email@example.com", "@user #hashtag $100 50% & more",
    "https://example.com/path?query=1&x=y#frag", "def f(x):\n    return x * 2\n", "for (int i = 0; i < n; ++i) { a[i] = 0; }",
    '{"key": "value", "n": [1, 2, 3]}', "<html><body><p>Hi</p></body></html>", "SELECT * FROM users WHERE id = 1;",
    "café naïve résumé façade", "Straße Größe Übermaß", "Ελληνικά και русский язык", "日本語のテキストです。",
    "中文分词测试，你好世界！", "한국어 문장입니다", "مرحبا بالعالم", "שלום עולם", "हिन्दी पाठ", "ภาษาไทย",
    "😀", "emoji 🎉🚀👍🏽 and family 👨‍👩‍👧", "🏳️‍🌈", "\u00a0non-breaking\u00a0space", "zero\u200bwidth",
    "\U0001f9ea\U0001fae0 \U00010348 \u2603", "\x01\x02 control chars \x7f", "Antidisestablishmentarianism",
    "supercalifragilisticexpialidocious" * 3, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
    "<start_of_turn>user\nWhat is the capital of France?<end_of_turn>\n<start_of_turn>model\n",
    "<bos>text after bos", "<eos>", "a<end_of_turn>b", "<start_of_image>", "<unused0> <pad> <mask>",
]


def post(path, body):
    req = urllib.request.Request(URL + path, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=60) as r:
        return json.loads(r.read())


def get(path):
    with urllib.request.urlopen(URL + path, timeout=60) as r:
        return json.loads(r.read())


def chat_cases(props):
    return dict(chat_template=props.get("chat_template"),
                cases=[dict(messages=m, prompt=post("/apply-template", {"messages": m})["prompt"]) for m in CONVERSATIONS])


def main():
    if len(sys.argv) > 2 and sys.argv[2] == "--add-chat":
        d = json.load(open(sys.argv[3]))
        d["chat"][sys.argv[4]] = chat_cases(get("/props"))
        json.dump(d, sys.stdout, ensure_ascii=False, indent=1)
        sys.stdout.write("\n")
        return
    vectors = []
    for t in TEXTS:
        specials = "<" in t and ">" in t
        for parse_special in ([True, False] if specials else [True]):
            for add_special in (True, False):
                ids = post("/tokenize", {"content": t, "add_special": add_special, "parse_special": parse_special})["tokens"]
                vectors.append(dict(text=t, add_special=add_special, parse_special=parse_special, ids=ids))
    props = get("/props")
    chat = {"gguf_default": chat_cases(props)}
    path = props.get("model_path", "")
    sha = hashlib.sha256(open(path, "rb").read()).hexdigest() if path else None
    out = dict(source="llama.cpp llama-server POST /tokenize and /apply-template (scripts/gemma-tokenizer-vectors.py)",
               server_build=props.get("build_info"), model=path.split("/")[-1], model_sha256=sha,
               note="parse_special false only for texts with <...> markup; chat.gguf_default is what llama-server renders "
                    "for this GGUF, which has no tokenizer.chat_template (its fallback, ChatML); chat.gemma_builtin, if "
                    "present, is llama.cpp's built-in 'gemma' template (llama-server --no-jinja --chat-template gemma)",
               vectors=vectors, chat=chat)
    json.dump(out, sys.stdout, ensure_ascii=False, indent=1)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
