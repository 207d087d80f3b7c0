#!/usr/bin/env bash
# The cluster section of bin/bench: SFT steps on a real Spark standalone cluster (bin/cluster)
# with 1, 2, 4 ... Workers and each exchange (train.exchange = driver, sharded), against the same
# steps in local[2], from each step's exchange metrics in metrics.jsonl (rlhf.spark.ExchangeStats):
# step time split into compute (slowest partition), exchange (broadcast, scheduling, moving and
# summing gradients, gathering the parameters) and optimizer (driver, or the slowest shard), and the bytes
# into the driver and into / out of each executor. Every 2-Worker run must write the same model
# file (SHA-256) as local[2] (same partitions), or the table is not printed.
#
#   bench/cluster.sh           ~10-30 minutes, depending on the shape
#
# Environment:
#   CLUSTER_WORKERS   Worker counts (default 1,2,4); one core per Worker, one partition per Worker
#   CLUSTER_EXCHANGES exchanges to run on each cluster (default driver,sharded); driver+spark is
#                     the driver exchange moving its arrays through Spark's broadcast and block
#                     manager (spark.rlhf.transfer=spark) instead of direct connections: the
#                     reference for the direct transfer, in the same run
#   CLUSTER_SHAPE     LAYERSxWIDTHxHEADS (default 12x768x12, GPT-2 124M; 6x512x8 is quicker)
#   CLUSTER_BATCH     sequences per step x tokens per sequence (default 32x64: the shape of
#                     `BENCH_SFT_SEQ_LEN=64 bin/bench sft`, the one-process reference)
#   CLUSTER_STEPS     steps per run (default 6; the first 2 are not counted: JIT and caches)
#   CLUSTER_MICRO_BATCH  sequences per forward + backward (default 8)
#   CLUSTER_EXECUTOR_MEMORY, CLUSTER_DRIVER_MEMORY   (default 4g, 6g; the cluster's driver)
#   CLUSTER_KEEP      set: keep the work directory (logs, metrics, executor stderr) after the run
#   CLUSTER_LOCAL_MEMORY  the local[2] run's heap (default 10g: parameters, gradient sums, moments
#                     and two partitions' results of GPT-2 124M in one JVM)
# The vocabulary is GPT-2's (50,257 tokens, the test resources' vocab.json/merges.txt); the data
# 512 generated demonstrations long enough that every sequence fills the context (bench/lib.sh).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
WORKERS="${CLUSTER_WORKERS:-1,2,4}"
EXCHANGES="${CLUSTER_EXCHANGES:-driver,sharded}"
IFS=x read -r LAYERS WIDTH HEADS <<< "${CLUSTER_SHAPE:-12x768x12}"
IFS=x read -r BATCH TOKENS <<< "${CLUSTER_BATCH:-32x64}"
STEPS="${CLUSTER_STEPS:-6}"
MICRO="${CLUSTER_MICRO_BATCH:-8}"
EXEC_MEM="${CLUSTER_EXECUTOR_MEMORY:-4g}"
DRIVER_MEM="${CLUSTER_DRIVER_MEMORY:-6g}"
LOCAL_MEM="${CLUSTER_LOCAL_MEMORY:-10g}"
# shellcheck source=lib.sh
source "$ROOT/bench/lib.sh"
bench_start cluster-bench "${CLUSTER_KEEP:-}"

# One SFT run; prints the path of its output directory.
run_sft() {
  local name="$1" master="$2" partitions="$3" exchange="$4" out="$WORK/$1" transfer=direct
  if [[ "$exchange" == driver+spark ]]; then
    exchange=driver transfer=spark
  fi
  "$ROOT/bin/rlhf" sft --master "$master" --set data.train="$WORK/data/sft_train.jsonl" --set data.template=plain \
    --set tokenizer.path="$ROOT/common/src/test/resources/gpt2-tokenizer" \
    --set model.n_layer="$LAYERS" --set model.n_embd="$WIDTH" --set model.n_head="$HEADS" \
    --set data.context_length="$TOKENS" --set data.partitions="$partitions" \
    --set train.steps="$STEPS" --set train.global_batch="$BATCH" --set train.micro_batch="$MICRO" \
    --set eval.every=0 --set checkpoint.every=0 --set spark.executor.memory="$EXEC_MEM" --set train.exchange="$exchange" \
    --set spark.rlhf.transfer="$transfer" \
    --set output.dir="$out" > "$WORK/$name.log" 2>&1 || { tail -30 "$WORK/$name.log" >&2; exit 1; }
  echo "$out"
}

RUNS=()
echo "local[2] ..." >&2
RUNS+=("local[2] 2 $(RLHF_DRIVER_MEMORY="$LOCAL_MEM" run_sft local 'local[2]' 2 driver)")
for w in ${WORKERS//,/ }; do
  echo "standalone cluster, $w Worker(s) ..." >&2
  bash "$ROOT/bin/cluster" start --workers "$w" --cores-per-worker 1 --memory-per-worker "$EXEC_MEM" \
    --port 7177 --webui-port 8181 --dir "$CLUSTER_DIR" >/dev/null
  for x in ${EXCHANGES//,/ }; do
    echo "  $x exchange ..." >&2
    RUNS+=("${w}-workers-$x $w $(RLHF_DRIVER_MEMORY="$DRIVER_MEM" run_sft "cluster-$w-$x" spark://127.0.0.1:7177 "$w" "$x")")
  done
  bash "$ROOT/bin/cluster" stop --dir "$CLUSTER_DIR" >/dev/null
done

python3 - "$LAYERS" "$WIDTH" "$BATCH" "$TOKENS" "$(cut -d' ' -f1-3 /proc/loadavg)" "$WORK/runs.json" "${RUNS[@]}" <<'PYEOF'
import hashlib, json, statistics, sys, datetime
layers, width, batch, tokens, load, runs_json = sys.argv[1:7]
runs = [a.split(" ", 2) for a in sys.argv[7:]]
measured = []
print(f"## SFT steps on a standalone cluster vs local[2], {datetime.datetime.utcnow():%Y-%m-%d %H:%M} UTC")
print()
print(f"{layers} layers x {width} wide, GPT-2 vocabulary, {batch} sequences x {tokens} tokens per step; one core")
print(f"and one partition per Worker; medians over the steps after the first two; load average at the end {load}.")
print("compute = the slowest partition's forward + backward; optimizer = the driver's, or the slowest shard's")
print("(sharded); exchange = the rest of the step (parameter broadcast or gather, scheduling, moving and")
print("summing the gradients in partition order, keeping the new shards).")
print()
print("| run | partitions | tokens/step | step s | compute s | exchange s | optimizer s | exchange share | driver in MB | executor in MB | executor out MB | model SHA-256 |")
print("|---|---|---|---|---|---|---|---|---|---|---|---|")
shas = {}
for name, parts, out in runs:
    rows = [json.loads(l) for l in open(out + "/metrics.jsonl")]
    rows = [r for r in rows if "time_compute_s" in r][2:]
    med = lambda k: statistics.median(r[k] for r in rows)
    step = statistics.median(r["time_compute_s"] + r["time_exchange_s"] + r["time_optimizer_s"] for r in rows)
    sha = hashlib.sha256(open(out + "/final/model.safetensors", "rb").read()).hexdigest()
    if name != "local[2]":
        measured.append({"workers": int(parts), "exchange": name.split("-")[-1], "compute_s": med("time_compute_s"),
                         "exchange_s": med("time_exchange_s"), "optimizer_s": med("time_optimizer_s"),
                         "driver_in_bytes": med("driver_in_bytes"),
                         "param_bytes": med("driver_out_bytes_max") / max(1, med("executors"))})
    shas[name] = sha
    tok = (rows[-1]["tokens_seen"] - rows[0]["tokens_seen"]) / max(1, len(rows) - 1)
    print(f"| {name} | {parts} | {tok:.0f} | {step:.3f} | {med('time_compute_s'):.3f} | {med('time_exchange_s'):.3f} | "
          f"{med('time_optimizer_s'):.3f} | {100 * med('time_exchange_s') / step:.0f}% | {med('driver_in_bytes') / 1e6:.1f} | "
          f"{med('executor_in_bytes') / 1e6:.1f} | {med('executor_out_bytes') / 1e6:.1f} | {sha[:12]} |")
print()
print("Runs with other partition counts than local[2] sum their gradients in another order: their models")
print("agree with it to float rounding only. The 2-Worker run has local[2]'s partitions and must match it.")
json.dump(measured, open(runs_json, "w"))
for name, sha in shas.items():
    if name.startswith("2-workers") and sha != shas["local[2]"]:
        sys.exit(f"{name}: the model differs from local[2]'s: not bit-identical")
PYEOF
echo
echo "### The cost model fed by these runs (bench/cost_model.py)"
echo
python3 "$ROOT/bench/cost_model.py" "$WORK/runs.json"
