#!/usr/bin/env bash
# The cluster section of bin/bench: SFT steps on a real Spark standalone cluster (bin/cluster)
# with 1, 2, 4 ... Workers, against the same steps in local[2], from each step's exchange metrics
# in metrics.jsonl (rlhf.spark.ExchangeStats): step time split into compute (slowest partition),
# exchange (broadcast, scheduling, gradients to the driver, in-order sum) and optimizer (driver),
# and the bytes into the driver and into / out of each executor. The 2-Worker run must write the
# same model file (SHA-256) as local[2] (same partitions), or the table is not printed.
#
#   bench/cluster.sh           ~10-30 minutes, depending on the shape
#
# Environment:
#   CLUSTER_WORKERS   Worker counts (default 1,2,4); one core per Worker, one partition per Worker
#   CLUSTER_SHAPE     LAYERSxWIDTHxHEADS (default 6x512x8; 12x768x12 is GPT-2 124M)
#   CLUSTER_BATCH     sequences per step x tokens per sequence (default 16x64)
#   CLUSTER_STEPS     steps per run (default 8; the first 2 are not counted: JIT and caches)
#   CLUSTER_MICRO_BATCH  sequences per forward + backward (default 8)
#   CLUSTER_EXECUTOR_MEMORY, CLUSTER_DRIVER_MEMORY   (default 3g, 6g)
# The vocabulary is GPT-2's (50,257 tokens, the test resources' vocab.json/merges.txt), the data
# the demo's demonstrations.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
WORKERS="${CLUSTER_WORKERS:-1,2,4}"
IFS=x read -r LAYERS WIDTH HEADS <<< "${CLUSTER_SHAPE:-6x512x8}"
IFS=x read -r BATCH TOKENS <<< "${CLUSTER_BATCH:-16x64}"
STEPS="${CLUSTER_STEPS:-8}"
MICRO="${CLUSTER_MICRO_BATCH:-8}"
EXEC_MEM="${CLUSTER_EXECUTOR_MEMORY:-3g}"
export RLHF_DRIVER_MEMORY="${CLUSTER_DRIVER_MEMORY:-6g}"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/rlhf-cluster-bench.XXXXXX")"
CLUSTER_DIR="$WORK/cluster"
trap 'bash "$ROOT/bin/cluster" stop --dir "$CLUSTER_DIR" >/dev/null 2>&1 || true; rm -rf "$WORK"' EXIT

echo "building the jars and the demo data..." >&2
(cd "$ROOT" && mvn -q -B -ntp -Dstyle.color=never -DskipTests package) >&2
export RLHF_PREBUILT=1
"$ROOT/bin/rlhf" demo-data --out "$WORK/data" >/dev/null 2>&1

# One SFT run; prints the path of its output directory.
run_sft() {
  local name="$1" master="$2" partitions="$3" out="$WORK/$1"
  "$ROOT/bin/rlhf" sft --master "$master" --set data.train="$WORK/data/sft_train.jsonl" --set data.template=plain \
    --set tokenizer.path="$ROOT/common/src/test/resources/gpt2-tokenizer" \
    --set model.n_layer="$LAYERS" --set model.n_embd="$WIDTH" --set model.n_head="$HEADS" \
    --set data.context_length="$TOKENS" --set data.partitions="$partitions" \
    --set train.steps="$STEPS" --set train.global_batch="$BATCH" --set train.micro_batch="$MICRO" \
    --set eval.every=0 --set checkpoint.every=0 --set spark.executor.memory="$EXEC_MEM" \
    --set output.dir="$out" > "$WORK/$name.log" 2>&1 || { tail -30 "$WORK/$name.log" >&2; exit 1; }
  echo "$out"
}

RUNS=()
echo "local[2] ..." >&2
RUNS+=("local[2] 2 $(run_sft local 'local[2]' 2)")
for w in ${WORKERS//,/ }; do
  echo "standalone cluster, $w Worker(s) ..." >&2
  bash "$ROOT/bin/cluster" start --workers "$w" --cores-per-worker 1 --memory-per-worker 4g \
    --port 7177 --webui-port 8181 --dir "$CLUSTER_DIR" >/dev/null
  RUNS+=("${w}-workers $w $(run_sft "cluster-$w" spark://127.0.0.1:7177 "$w")")
  bash "$ROOT/bin/cluster" stop --dir "$CLUSTER_DIR" >/dev/null
done

python3 - "$LAYERS" "$WIDTH" "$BATCH" "$TOKENS" "$(cut -d' ' -f1-3 /proc/loadavg)" "${RUNS[@]}" <<'PYEOF'
import hashlib, json, statistics, sys, datetime
layers, width, batch, tokens, load = sys.argv[1:6]
runs = [a.split(" ", 2) for a in sys.argv[6:]]
print(f"## SFT steps on a standalone cluster vs local[2], {datetime.datetime.utcnow():%Y-%m-%d %H:%M} UTC")
print()
print(f"{layers} layers x {width} wide, GPT-2 vocabulary, {batch} sequences x {tokens} tokens per step; one core")
print(f"and one partition per Worker; medians over the steps after the first two; load average at the end {load}.")
print("compute = the slowest partition's forward + backward; exchange = the rest of the step but the")
print("driver's optimizer (parameter broadcast, scheduling, gradients to the driver, in-order sum).")
print()
print("| run | partitions | step s | compute s | exchange s | optimizer s | exchange share | driver in MB | executor in MB | executor out MB | model SHA-256 |")
print("|---|---|---|---|---|---|---|---|---|---|---|")
shas = {}
for name, parts, out in runs:
    rows = [json.loads(l) for l in open(out + "/metrics.jsonl")]
    rows = [r for r in rows if "time_compute_s" in r][2:]
    med = lambda k: statistics.median(r[k] for r in rows)
    step = statistics.median(r["time_compute_s"] + r["time_exchange_s"] + r["time_optimizer_s"] for r in rows)
    sha = hashlib.sha256(open(out + "/final/model.safetensors", "rb").read()).hexdigest()
    shas[name] = sha
    print(f"| {name} | {parts} | {step:.3f} | {med('time_compute_s'):.3f} | {med('time_exchange_s'):.3f} | "
          f"{med('time_optimizer_s'):.3f} | {100 * med('time_exchange_s') / step:.0f}% | {med('driver_in_bytes') / 1e6:.1f} | "
          f"{med('executor_in_bytes') / 1e6:.1f} | {med('executor_out_bytes') / 1e6:.1f} | {sha[:12]} |")
print()
print("Runs with other partition counts than local[2] sum their gradients in another order: their models")
print("agree with it to float rounding only. The 2-Worker run has local[2]'s partitions and must match it.")
if "2-workers" in shas and shas["2-workers"] != shas["local[2]"]:
    sys.exit("the 2-Worker cluster's model differs from local[2]'s: not bit-identical")
PYEOF
