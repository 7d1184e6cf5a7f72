#!/usr/bin/env python3
"""End-to-end checks of the `swiftlet generate` command (single prompt and offline batch mode).

Usage: smoke.py PATH_TO_SWIFTLET_BINARY REPO_ROOT. Exits non-zero on the first failure; prints
'N passed, 0 failed' at the end.
"""
import json, subprocess, sys, tempfile, os

exe, root = sys.argv[1], sys.argv[2]
stories = os.path.join(root, 'models/stories260K/stories260K.bin')
golden = json.load(open(os.path.join(root, 'models/stories260K/golden_greedy.json')))
smol_golden = json.load(open(os.path.join(root, 'models/smollm2-135m-instruct/golden_greedy.json')))
passed = 0

def run(*args):
    r = subprocess.run([exe, *args], capture_output=True, text=True, timeout=600)
    return r.returncode, r.stdout, r.stderr

def check(cond, what):
    global passed
    if not cond:
        print(f'FAIL: {what}', file=sys.stderr)
        print(f'{passed} passed, 1 failed')
        sys.exit(1)
    passed += 1

# 1. stories260K greedy from BOS: the 256 golden ids.
code, out, err = run('generate', '--model', stories, '--prompt-ids', '1', '--max-tokens', '256', '--json')
check(code == 0, f'generate --json exit {code}: {err}')
res = json.loads(out)
check(res['generated_ids'] == golden['generated_ids'], 'stories260K golden ids via the CLI')
check(res['prefill_tokens_per_s'] > 0 and res['decode_tokens_per_s'] > 0, 'speeds reported')

# 1b. The same model as a Hugging Face directory (safetensors + config.json + tokenizer.json): same golden ids,
# and the same text for a text prompt (its tokenizer.json encodes like tok512.bin).
hf = os.path.join(root, 'Tests/ModelTests/Fixtures/stories260K-hf')
code, out, err = run('generate', '--model', hf, '--prompt-ids', '1', '--max-tokens', '256', '--json')
check(code == 0, f'generate --model <safetensors dir> exit {code}: {err}')
check(json.loads(out)['generated_ids'] == golden['generated_ids'], 'stories260K golden ids from safetensors')
a = run('generate', '--model', hf, '--prompt', 'Once upon a time', '--max-tokens', '40', '--json')
b = run('generate', '--model', stories, '--prompt', 'Once upon a time', '--max-tokens', '40', '--json')
check(a[0] == 0 and b[0] == 0, f'text prompt on both formats: {a[2]} {b[2]}')
ja, jb = json.loads(a[1]), json.loads(b[1])
check(ja['prompt_ids'] == jb['prompt_ids'] and ja['text'] == jb['text'], f'safetensors vs llama2.c: {ja["text"]!r} / {jb["text"]!r}')

# 2. The default model's chat answer (README's promise).
code, out, err = run('generate', '--chat', '--prompt', 'What is the capital of France?', '--json')
check(code == 0, f'default model chat exit {code}: {err}')
res = json.loads(out)
check(res['text'] == 'The capital of France is Paris.', f'chat answer: {res["text"]!r}')
check(res['generated_ids'][:-1] == smol_golden['cases'][0]['generated_ids'], 'chat golden ids')

# 3. Offline batch mode: order kept, n > 1, a bad request reported in its line, a summary at the end.
with tempfile.NamedTemporaryFile('w', suffix='.jsonl', delete=False) as f:
    f.write(json.dumps({'prompt': [1], 'max_tokens': 20, 'temperature': 0}) + '\n')
    f.write(json.dumps({'prompt': 'Once upon a time', 'max_tokens': 8, 'temperature': 0.8, 'seed': 3, 'n': 2}) + '\n')
    f.write('\n')
    f.write(json.dumps({'prompt': [1, 2, 3], 'max_tokens': 100000}) + '\n')
    f.write(json.dumps({'prompt': [1], 'max_tokens': 5, 'temperature': 0, 'stop_token_ids': [golden['generated_ids'][2]]}) + '\n')
    path = f.name
code, out, err = run('generate', '--model', stories, '--prompts-file', path, '--concurrency', '2', '--json')
check(code == 0, f'batch exit {code}: {err}')
lines = [json.loads(l) for l in out.splitlines() if l.strip()]
check(len(lines) == 5, f'4 results + summary, got {len(lines)}')
check([l.get('index') for l in lines[:4]] == [0, 1, 2, 3], 'input order')
check(lines[0]['generated_ids'] == golden['generated_ids'][:20], 'batch greedy = golden')
check(len(lines[1]['choices']) == 2 and all(len(c['generated_ids']) <= 8 for c in lines[1]['choices']), 'n = 2')
check(lines[2]['finish_reason'] == 'error' and 'context' in lines[2]['error'].lower(), f'oversize request: {lines[2]}')
check(lines[3]['generated_ids'] == golden['generated_ids'][:3] and lines[3]['finish_reason'] == 'stop', 'stop_token_ids')
s = lines[4]['summary']
check(s['requests'] == 4 and s['output_tokens_per_s'] > 0, f'summary {s}')

# 4. Bad usage fails with a message, not a crash.
code, out, err = run('generate', '--model', '/nonexistent.gguf', '--prompt', 'x')
check(code != 0 and 'nonexistent' in err, f'missing model: {code} {err}')
code, out, err = run('generate', '--model', stories)
check(code != 0 and 'prompt' in err, 'no prompt')

# 5. Profile and simulate (issue 15): a quick profile of stories260K, then a simulated sweep from it.
with tempfile.TemporaryDirectory() as d:
    prof = os.path.join(d, 'p.json')
    code, out, err = run('bench', 'profile', '--model', stories, '--quick', '--passes', '3', '--min-seconds', '0.05',
                         '--max-model-len', '512', '--max-num-batched-tokens', '256', '--output', prof)
    check(code == 0, f'bench profile exit {code}: {err[-500:]}')
    p = json.load(open(prof))
    check(len(p['samples']) > 20 and any(x['heldOut'] for x in p['samples']), 'profile has training and held-out steps')
    check(all(x['seconds'] > 0 and x['predicted'] > 0 for x in p['samples']), 'measured and predicted times')
    check('held-out' in out and 'mean |error|' in out, 'profile prints the held-out error table')
    trace = os.path.join(d, 't.jsonl')
    with open(trace, 'w') as f:
        for i in range(200):
            f.write(json.dumps({'arrival': i * 0.01, 'prompt_tokens': 20 + i % 30, 'output_tokens': 10 + i % 20,
                                'prefix_hash': i % 5}) + '\n')
    sim = os.path.join(d, 'sim')
    code, out, err = run('cluster', 'simulate', '--profile', prof, '--trace', trace, '--policies',
                         'round-robin,least-requests', '--instances', '1,2', '--goodput', 'ttft:1000',
                         '--output-dir', sim)
    check(code == 0, f'cluster simulate exit {code}: {err[-500:]}')
    rows = [l.split()[0] + ' ' + l.split()[1] for l in out.splitlines() if l.startswith(('round-robin x', 'least-requests x'))]
    check(sorted(rows) == ['least-requests x1', 'least-requests x2', 'round-robin x1', 'round-robin x2'], f'four configurations: {out}')
    check('cheapest configuration' in out or 'no configuration reaches' in out, 'goodput verdict printed')
    r = json.load(open(os.path.join(sim, [f for f in os.listdir(sim) if f.startswith('round-robin_x2')][0])))
    check(r['completed'] == 200 and r['total_output_tokens'] == sum(10 + i % 20 for i in range(200)), 'all simulated requests done')
    check(os.path.getsize(os.path.join(sim, 'chart.svg')) > 1000, 'chart written')
    # The router's admission limit: a sweep over two limits, at a rate the one instance cannot keep up with.
    lim = os.path.join(d, 'lim')
    code, out, err = run('cluster', 'simulate', '--profile', prof, '--trace', trace, '--policies', 'round-robin',
                         '--instances', '1', '--request-rates', '2000', '--max-queued-requests', '4,none', '--output-dir', lim)
    check(code == 0, f'cluster simulate with limits exit {code}: {err[-500:]}')
    check('round-robin x1 q4' in out and 'round-robin x1 q-' in out, f'each limit is a point: {out}')
    got = {f.split('_rate')[0]: json.load(open(os.path.join(lim, f))) for f in os.listdir(lim) if f.endswith('.json')}
    check(0 < got['round-robin_x1_q4']['completed'] < 200 and got['round-robin_x1_q-']['completed'] == 200,
          f'a limit of 4 turns requests away, none does not: {sorted(got)}')
    code, out, err = run('cluster', 'simulate', '--profile', prof, '--trace', trace, '--max-queued-requests', '0')
    check(code != 0 and 'max-queued-requests' in err, f'a bad limit is a clear error: {err}')
    code, out, err = run('cluster', 'simulate', '--profile', trace, '--trace', trace)
    check(code != 0 and 'profile' in err, f'bad profile is a clear error: {err}')

print(f'{passed} passed, 0 failed')
