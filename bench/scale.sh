#!/usr/bin/env bash
# The scale section of bin/bench: SFT and reward-model data preparation on 10 thousand and 2 million
# generated rows (about 1.1 GB of JSON lines at 2 million), on a standalone cluster (bin/cluster, 2
# Workers of one core) whose driver has a small heap: the rows are read, checked, tokenized and
# cached on the executors, and only counts come back, so a 1 GB heap must do for any number of
# rows. Each run then takes a few steps of a tiny model, to show that a step's cost does not grow
# with the dataset (a step selects its examples from the batch's positions: O(batch)).
#
#   bench/scale.sh          ~15-25 minutes on 2 cores, 2.3 GB of disk in the work directory
#
# Printed: per job and size, rows/s of the read-and-check pass and of the tokenize-and-cache pass
# (from the jobs' own log lines), the driver JVM's peak resident memory (VmHWM), and the median
# compute time of a step (slowest partition, steps 3 and later, from metrics.jsonl); then the
# selection micro-benchmark (rlhf.spark.SelectionBench): one step's selection at 10k vs 2M
# examples, from the batch's positions against a scan of every cached example.
#
# Environment:
#   SCALE_ROWS             row counts (default 10000,2000000)
#   SCALE_JOBS             jobs (default sft,reward)
#   SCALE_DRIVER_MEMORY    the driver's heap (default 1g)
#   SCALE_EXECUTOR_MEMORY  each executor's heap (default 6g)
#   SCALE_STEPS            steps per run (default 8)
#   SCALE_KEEP             set: keep the work directory (data, logs) after the run
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
ROWS="${SCALE_ROWS:-10000,2000000}"
DRIVER_MEM="${SCALE_DRIVER_MEMORY:-1g}"
EXEC_MEM="${SCALE_EXECUTOR_MEMORY:-6g}"
STEPS="${SCALE_STEPS:-8}"
JOBS="${SCALE_JOBS:-sft,reward}"
# shellcheck source=lib.sh
source "$ROOT/bench/lib.sh"
bench_start scale-bench "${SCALE_KEEP:-}"

echo "generating the data (python3)..." >&2
for n in ${ROWS//,/ }; do
  python3 - "$n" "$WORK/data" <<'PYEOF'
import json, random, sys
n, out = int(sys.argv[1]), sys.argv[2]
words = ("river stone light market garden winter signal harbor engine paper silver forest window "
         "journey number planet letter summer bridge travel answer morning village machine story "
         "copper lantern meadow orbit velvet thunder canyon pepper marble falcon").split()
rng = random.Random(11)
with open(f"{out}/sft-{n}.jsonl", "w") as sft, open(f"{out}/reward-{n}.jsonl", "w") as rm:
    for i in range(n):
        prompt = "write about " + " and ".join(rng.sample(words, 2)) + " number " + str(i)
        sft.write(json.dumps({"prompt": prompt, "response": " ".join(rng.choice(words) for _ in range(70))}) + "\n")
        rm.write(json.dumps({"prompt": prompt, "chosen": " ".join(rng.choice(words) for _ in range(35)),
                             "rejected": " ".join(rng.choice(words) for _ in range(35))}) + "\n")
PYEOF
done

bash "$ROOT/bin/cluster" start --workers 2 --cores-per-worker 1 --memory-per-worker "$EXEC_MEM" \
  --port 7178 --webui-port 8182 --dir "$CLUSTER_DIR" >/dev/null

# One job on the cluster; prints "seconds peak_rss_kb". The driver is the JVM bin/rlhf execs into.
run_job() {
  local job="$1" n="$2" out="$WORK/$1-$2"
  RLHF_DRIVER_MEMORY="$DRIVER_MEM" "$ROOT/bin/rlhf" "$job" --master spark://127.0.0.1:7178 \
    --set data.train="$WORK/data/$job-$n.jsonl" --set data.template=plain \
    --set tokenizer.path="$ROOT/common/src/test/resources/gpt2-tokenizer" \
    --set model.n_layer=1 --set model.n_embd=32 --set model.n_head=2 --set data.context_length=128 \
    --set train.steps="$STEPS" --set train.global_batch=32 --set train.micro_batch=8 --set data.partitions=2 \
    --set eval.every=0 --set checkpoint.every=0 --set spark.executor.memory="$EXEC_MEM" \
    --set output.dir="$out" > "$WORK/$job-$n.log" 2>&1 &
  local pid=$! peak=0 hwm t0=$SECONDS
  while kill -0 "$pid" 2>/dev/null; do
    hwm=$(awk '/^VmHWM/ {print $2}' "/proc/$pid/status" 2>/dev/null || true)
    [[ -n "$hwm" && "$hwm" -gt "$peak" ]] && peak=$hwm
    sleep 1
  done
  wait "$pid" || { tail -30 "$WORK/$job-$n.log" >&2; exit 1; }
  echo "$((SECONDS - t0)) $peak"
}

RESULTS=()
for job in ${JOBS//,/ }; do
  for n in ${ROWS//,/ }; do
    echo "$job, $n rows ..." >&2
    RESULTS+=("$job $n $(run_job "$job" "$n")")
  done
done
bash "$ROOT/bin/cluster" stop --dir "$CLUSTER_DIR" >/dev/null

echo
echo "## Data preparation at scale: standalone cluster of 2 Workers x 1 core, driver heap $DRIVER_MEM, $(date -u '+%Y-%m-%d %H:%M UTC') (load $(cut -d' ' -f1-3 /proc/loadavg))"
echo
python3 - "$WORK" "${RESULTS[@]}" <<'PYEOF'
import json, re, statistics, sys
work = sys.argv[1]
print("| job | rows | JSON size | read + check (rows/s) | tokenize + cache (rows/s) | driver peak RSS | step compute, median (s) | whole run (s) |")
print("|---|---:|---:|---:|---:|---:|---:|---:|")
import os
for r in sys.argv[2:]:
    job, n, secs, peak_kb = r.split()
    log = open(f"{work}/{job}-{n}.log").read()
    read = re.search(r"rows read and checked in [\d.]+ s \((\d+) rows/s\)", log)
    prep = re.search(r"tokenized and cached in [\d.]+ s \((\d+) rows/s\)", log)
    lines = [json.loads(l) for l in open(f"{work}/{job}-{n}/metrics.jsonl")]
    compute = [l["time_compute_s"] for l in lines if l.get("step", 0) >= 3 and "time_compute_s" in l]
    size = os.path.getsize(f"{work}/data/{job}-{n}.jsonl") / 1e6
    print(f"| {job} | {int(n):,} | {size:,.0f} MB | {int(read.group(1)):,} | {int(prep.group(1)):,} | "
          f"{int(peak_kb) / 1024:,.0f} MB | {statistics.median(compute):.3f} | {secs} |")
PYEOF

echo
echo "## Selecting one step's examples (one partition of 2, global batch 32), $(date -u '+%Y-%m-%d %H:%M UTC')"
echo
(cd "$ROOT" && mvn -q -B -ntp -Dstyle.color=never -pl common test-compile \
  && mvn -q -B -ntp -Dstyle.color=never -pl common dependency:build-classpath -Dmdep.outputFile="$WORK/cp.txt" -DincludeScope=test) >&2
java -cp "$ROOT/common/target/test-classes:$ROOT/common/target/classes:$(cat "$WORK/cp.txt")" rlhf.spark.SelectionBench 32 2
