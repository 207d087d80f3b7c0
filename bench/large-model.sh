#!/usr/bin/env bash
# A model of more than 2 GB of fp32 parameters takes SFT steps on a 2-Worker standalone cluster
# (bin/cluster) within this machine's 24 GiB, through the sharded exchange: no message carries
# more than one 128 MB shard, the driver holds only the parameters (4 bytes each) and the
# executors hold the gathered parameters and the gradient buffer (8 bytes per parameter), their
# shards of the moments and parameters (with one replica each on the other executor) spilling to
# disk where the heap is short. Prints each step's metrics and the model file's size.
#
#   bench/large-model.sh      ~12 minutes (the first step cuts the model into shards); needs about
#                             40 GB of free disk in Spark's local directories (/tmp) for the spills
#
# Environment:
#   LARGE_SHAPE     LAYERSxWIDTHxHEADS (default 24x1344x16: 588,278,208 parameters, 2.35 GB)
#   LARGE_STEPS     SFT steps (default 3); 2 sequences of 64 tokens per step, one per Worker
#   LARGE_EXECUTOR_MEMORY, LARGE_DRIVER_MEMORY   (default 7500m, 3500m: two executors, the
#                   driver, the Master and the Workers in about 21 GB of RAM)
#   LARGE_KEEP      set: keep the work directory (logs, metrics, executor stderr)
#
# Executor settings, all for a heap that is mostly two model-sized arrays: the parallel collector
# (it compacts; G1 leaves 2 GB arrays stranded between regions) with a small young generation,
# spark.memory.fraction=0.15 (Spark's storage and execution pool stays small and spills the shards
# to disk instead of crowding out the arrays), remote blocks over 16 MB fetched to disk and heap
# network buffers (no off-heap pools beside the heap). The last step's checkpoint leaves out the
# AdamW moments (checkpoint.moments=false): the driver would have to hold them, 8 bytes per
# parameter, to write them.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
IFS=x read -r LAYERS WIDTH HEADS <<< "${LARGE_SHAPE:-24x1344x16}"
STEPS="${LARGE_STEPS:-3}"
EXEC_MEM="${LARGE_EXECUTOR_MEMORY:-7500m}"
DRIVER_MEM="${LARGE_DRIVER_MEMORY:-3500m}"
# shellcheck source=lib.sh
source "$ROOT/bench/lib.sh"
bench_start large-model "${LARGE_KEEP:-}"

bash "$ROOT/bin/cluster" start --workers 2 --cores-per-worker 1 --memory-per-worker "$EXEC_MEM" \
  --port 7377 --webui-port 8381 --dir "$CLUSTER_DIR" >/dev/null
echo "SFT, $LAYERS layers x $WIDTH wide, sharded exchange, 2 Workers ..." >&2
RLHF_DRIVER_MEMORY="$DRIVER_MEM" "$ROOT/bin/rlhf" sft --master spark://127.0.0.1:7377 \
  --set data.train="$WORK/data/sft_train.jsonl" --set data.template=plain \
  --set tokenizer.path="$ROOT/common/src/test/resources/gpt2-tokenizer" \
  --set model.n_layer="$LAYERS" --set model.n_embd="$WIDTH" --set model.n_head="$HEADS" \
  --set data.context_length=64 --set data.partitions=2 --set train.steps="$STEPS" \
  --set train.global_batch=2 --set train.micro_batch=1 --set eval.every=0 --set checkpoint.every=0 \
  --set checkpoint.moments=false \
  --set train.exchange=sharded --set spark.executor.memory="$EXEC_MEM" \
  --set "spark.executor.extraJavaOptions=-XX:+UseParallelGC -Xmn512m" --set spark.memory.fraction=0.15 \
  --set spark.network.maxRemoteBlockSizeFetchToMem=16m --set spark.shuffle.io.preferDirectBufs=false \
  --set spark.network.io.preferDirectBufs=false \
  --set output.dir="$WORK/out" > "$WORK/sft.log" 2>&1 || { tail -30 "$WORK/sft.log" >&2; exit 1; }

python3 - "$WORK/out" <<'PYEOF'
import json, os, sys
out = sys.argv[1]
rows = [json.loads(l) for l in open(out + "/metrics.jsonl")]
size = os.path.getsize(out + "/final/model.safetensors")
print(f"model file: {size / 1e9:.2f} GB (final/model.safetensors)")
print()
print("| step | loss | compute s | exchange s | optimizer s | driver in MB | driver out MB | executor in MB | executor out MB |")
print("|---|---|---|---|---|---|---|---|---|")
for r in rows:
    if "time_compute_s" in r:
        print(f"| {r['step']} | {r['loss']:.3f} | {r['time_compute_s']:.1f} | {r['time_exchange_s']:.1f} | "
              f"{r['time_optimizer_s']:.1f} | {r['driver_in_bytes'] / 1e6:.0f} | {r['driver_out_bytes_max'] / 1e6:.0f} | "
              f"{r['executor_in_bytes'] / 1e6:.0f} | {r['executor_out_bytes'] / 1e6:.0f} |")
PYEOF
