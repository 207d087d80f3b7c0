# Sourced by bench/cluster.sh and bench/large-model.sh (ROOT set): bench_start NAME KEEP makes the
# work directory $WORK (removed on exit unless KEEP is non-empty, its cluster $CLUSTER_DIR stopped
# first), builds the jars and writes $WORK/data/sft_train.jsonl: 512 generated demonstrations of
# about 125 tokens, long enough that every sequence fills a context of 64 (truncated to it).

bench_start() {
  WORK="$(mktemp -d "${TMPDIR:-/tmp}/rlhf-$1.XXXXXX")"
  CLUSTER_DIR="$WORK/cluster"
  BENCH_KEEP="$2"
  trap 'bash "$ROOT/bin/cluster" stop --dir "$CLUSTER_DIR" >/dev/null 2>&1 || true; [ -n "$BENCH_KEEP" ] || rm -rf "$WORK"' EXIT
  echo "building the jars and the data..." >&2
  (cd "$ROOT" && mvn -q -B -ntp -Dstyle.color=never -DskipTests package) >&2
  export RLHF_PREBUILT=1
  mkdir -p "$WORK/data"
  python3 - "$WORK/data/sft_train.jsonl" <<'PYEOF'
import json, random, sys
words = ("river stone light market garden winter signal harbor engine paper silver forest window "
         "journey number planet letter summer bridge travel answer morning village machine story").split()
rng = random.Random(7)
with open(sys.argv[1], "w") as f:
    for i in range(512):
        prompt = "write about " + " and ".join(rng.sample(words, 2))
        response = " ".join(rng.choice(words) for _ in range(120))
        f.write(json.dumps({"prompt": prompt, "response": response}) + "\n")
PYEOF
}
