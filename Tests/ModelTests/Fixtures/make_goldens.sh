#!/usr/bin/env bash
# Regenerates the golden fixtures in this folder with the independent numpy reference
# (../shared/tools/reference/oracle.py). Slow on purpose (about 1 s per token on SmolLM2).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../.." && pwd)
oracle=${ORACLE:-$root/../shared/tools/reference/oracle.py}
s=$root/models/stories260K
smol=$root/models/SmolLM2-135M-Instruct.Q4_1.gguf
i=0
while IFS= read -r p; do
  python3 "$oracle" "$s/stories260K.bin" --tokenizer "$s/tok512.bin" --prompt "$p" --steps 40 --top 5 > "$here/stories_$i.json"
  i=$((i+1))
done <<'PROMPTS'
Once upon a time
Lily and Tom went to the park
The cat sat on the mat.
One day, a big dog
She was very happy because
Tim had a red ball
PROMPTS
i=0
while IFS= read -r p; do
  python3 "$oracle" "$smol" --prompt "$(printf '%b' "$p")" --steps 10 --top 5 > "$here/smollm2_$i.json"
  i=$((i+1))
done <<'PROMPTS'
The quick brown fox
def fibonacci(n):
In 1905, Albert Einstein
Les chats sont
Llamas 🦙 are 42
<|im_start|>user\nWhat is 2+2?<|im_end|>\n<|im_start|>assistant\n
PROMPTS

# Re-quantized variants of the SmolLM2 file (scripts/make-test-variants.sh makes them in models/variants/ with the
# gguf package): the oracle's greedy ids for the two golden cases of ../shared/models/smollm2-135m-instruct.
golden=$root/../shared/models/smollm2-135m-instruct/golden_greedy.json
for q in Q8_0 Q4_0 F16; do
  f=$root/models/variants/SmolLM2-135M-Instruct.$q.gguf
  for c in 0 1; do
    ids=$(python3 -c "import json,sys; print(','.join(map(str, json.load(open(sys.argv[1]))['cases'][int(sys.argv[2])]['prompt_ids'])))" "$golden" "$c")
    python3 "$oracle" "$f" --ids "$ids" --steps 24 --top 5 > "$here/variants/smollm2-$q-case$c.json"
  done
done
