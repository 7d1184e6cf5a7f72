#!/usr/bin/env bash
# Teacher-forced top-1 agreement of Swiftlet's two precisions with the independent numpy reference
# (../shared/tools/reference/oracle.py) over ~1,200 positions of varied text (prose, code, a licence, other
# languages), on every format: the shipped SmolLM2 Q4_1 file and its Q8_0/Q4_0/F16 variants
# (scripts/make-test-variants.sh). Prints one line per file and precision. Not part of the tests (minutes of numpy).
#
# Usage: scripts/precision-agreement.sh [MODEL.gguf ...]     (SWIFTLET_BIN=path skips the build)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
oracle_dir=${ORACLE_DIR:-$root/../shared/tools/reference}
if [ -n "${SWIFTLET_BIN:-}" ]; then bin=$SWIFTLET_BIN; else
  "$root/scripts/setup.sh" >&2
  "$root/scripts/make-test-variants.sh" >&2
  swift build -c release -Xswiftc -enable-testing --package-path "$root" --product swiftlet >&2
  bin="$root/.build/release/swiftlet"
fi
files=("$@")
if [ ${#files[@]} -eq 0 ]; then
  files=("$root/models/SmolLM2-135M-Instruct.Q4_1.gguf")
  for q in Q8_0 Q4_0 F16; do files+=("$root/models/variants/SmolLM2-135M-Instruct.$q.gguf"); done
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
for f in "${files[@]}"; do
  python3 - "$oracle_dir" "$f" "$root" "$work/ids.jsonl" "$work/oracle.jsonl" <<'EOF'
import json, sys
sys.path.insert(0, sys.argv[1])
import numpy as np
import oracle
path, root, ids_out, ref_out = sys.argv[2:6]
m = oracle.gguf_model(path)
texts = [
    open(f"{root}/README.md").read()[:1400],
    open(f"{root}/models/smollm2-135m-instruct/LICENSE.Apache-2.0").read()[2000:3400],
    open(f"{root}/Sources/Engine/Sampler.swift").read()[:1400],
    "Le petit prince regardait les étoiles. Die Katze schläft auf dem Sofa, während draußen der Regen fällt. "
    "El sol brilla sobre las montañas y el río corre hacia el mar. In the morning, the market opens early: "
    "farmers bring apples, bread, cheese and flowers, and children run between the stalls laughing. " * 3,
]
with open(ids_out, "w") as fi, open(ref_out, "w") as fr:
    for t in texts:
        ids = m["tok"].encode(t)[:300]
        step = oracle.llama_forward(m, len(ids) + 1)
        top = [int(np.argmax(step(tok, pos, True))) for pos, tok in enumerate(ids[:-1])]
        fi.write(json.dumps(ids) + "\n"); fr.write(json.dumps(top) + "\n")
EOF
  for p in exact fast; do
    "$bin" score --model "$f" --ids-file "$work/ids.jsonl" --precision "$p" > "$work/$p.jsonl" 2>/dev/null
    python3 - "$work/oracle.jsonl" "$work/$p.jsonl" "$(basename "$f")" "$p" <<'EOF'
import json, sys
ref = [json.loads(l) for l in open(sys.argv[1])]
got = [json.loads(l)["top1"] for l in open(sys.argv[2])]
n = sum(len(r) for r in ref); same = sum(a == b for r, g in zip(ref, got) for a, b in zip(r, g))
print(f"{sys.argv[3]:40s} --precision {sys.argv[4]:5s}: top-1 agreement with the oracle {same}/{n} = {100 * same / n:.2f}%")
EOF
  done
done
