#!/usr/bin/env python3
"""Runs the reference oracle (shared/tools/reference/oracle.py) with --steps 0 for each prompt and records prompt_ids."""
import json, subprocess, sys
ORACLE = '/work/shared/tools/reference/oracle.py'
def run(model, prompts, tokenizer=None):
    out = []
    for p in prompts:
        cmd = ['python3', ORACLE, model, '--prompt', p, '--steps', '0']
        if tokenizer: cmd += ['--tokenizer', tokenizer]
        r = json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout)
        out.append({'prompt': p, 'ids': r['prompt_ids']})
        print(p[:40].encode('unicode_escape').decode(), r['prompt_ids'][:20], file=sys.stderr)
    return out
which = sys.argv[1]
if which == 'stories':
    prompts = ["Once upon a time", "Lily and Tom went to the park.", "Hello, world! 123 4567",
               "The cat sat on the mat.\nThe dog barked.", "  two  spaces   and three",
               "café naïve über", "emoji 😀 and 日本語", "x"]
    cases = run('/work/main/models/stories260K/stories260K.bin', prompts, '/work/main/models/stories260K/tok512.bin')
else:
    prompts = ["Once upon a time", "The year 2024 had 365 days, 12 months and pi is 3.14159.",
               "Unicode: café, naïve, Ærøskøbing, 日本語のテキスト, Привет мир, مرحبا",
               "Emoji: 😀🚀 👍🏽 family 👨‍👩‍👧 done",
               "multiple   spaces\n\n\nand\ttabs  \n end   ", "I'm sure they'll say we've done it, didn't we? 'Quoted'",
               "def f(x):\n    return x**2 + 10_000  # comment\n", "    leading and trailing    "]
    cases = run('/work/main/models/SmolLM2-135M-Instruct.Q4_1.gguf', prompts)
json.dump(cases, sys.stdout, ensure_ascii=False, indent=1)
