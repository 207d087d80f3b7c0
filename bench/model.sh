#!/usr/bin/env bash
# The model section of bin/bench: one GPT-2 124M training step (forward + backward + AdamW) and
# KV-cache generation, ours (rlhf.bench.TrainStepBench, rlhf.bench.GenerationBench) against a plain
# PyTorch GPT-2 of the same shape (bench/torch_gpt2.py), back to back in one run, as a markdown table.
#
#   bench/model.sh                  ~15-40 minutes on a loaded 2-core machine
#
# Environment:
#   BENCH_THREADS   thread counts (default 1,2)
#   MODEL_CASES     training cases BxT (default 4x64,8x256)
#   MODEL_GEN       generation BxPROMPTxNEW (default 8x32x64; empty = skip)
#   MODEL_WARMUP, MODEL_ITERS   training steps before / while timing (default 2 / 5)
#   BENCH_PEAK      fp32 FMA peak in GFLOP/s per thread count, e.g. "1=250,2=485"; default: measured
#                   with bench/fma_peak.c (CPU-time figure) when that file and gcc are present
#   MODEL_PROFILE=1 also record a JFR profile of our training step and print the hottest methods
#   BENCH_JAVA_OPTS extra JVM options
# Installs Debian's PyTorch and OpenBLAS (apt-get install python3-torch libopenblas0-pthread) when
# missing, and refuses to run when torch does not compute with OpenBLAS (see below).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
THREADS="${BENCH_THREADS:-1,2}"
CASES="${MODEL_CASES:-4x64,8x256}"
GEN="${MODEL_GEN-8x32x64}"
WARMUP="${MODEL_WARMUP:-2}"
ITERS="${MODEL_ITERS:-5}"
PY=/usr/bin/python3
WORK="$(mktemp -d "${TMPDIR:-/tmp}/rlhf-model-bench.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT

# --- the reference: Debian's PyTorch on OpenBLAS -----------------------------------------------
# Debian's python3-torch calls the generic libblas.so.3. Without an optimised provider that is the
# netlib reference BLAS, ~30x slower (a GPT-2 step: minutes instead of seconds), and every ratio
# against it would flatter us. So OpenBLAS is installed with it, and the run stops unless torch
# really computes with OpenBLAS.
NEED=()
"$PY" -c 'import torch' 2>/dev/null || NEED+=(python3-torch)
dpkg -s libopenblas0-pthread >/dev/null 2>&1 || NEED+=(libopenblas0-pthread)
if ((${#NEED[@]})); then
  echo "installing ${NEED[*]} (apt-get)..." >&2
  SUDO=""; [[ $(id -u) -ne 0 ]] && SUDO=sudo
  $SUDO apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${NEED[@]}" >&2
fi
TORCH_BLAS="$(OPENBLAS_CORETYPE=SkylakeX "$PY" - <<'PYEOF'
import torch
torch.ones(256, 256) @ torch.ones(256, 256)   # loads the BLAS torch calls
with open("/proc/self/maps") as f:
    libs = sorted({l.split()[-1] for l in f if "blas" in l.split()[-1].lower()})
print(("OK " if any("openblas" in l.lower() for l in libs) else "NO ") + " ".join(libs))
PYEOF
)"
if [[ "$TORCH_BLAS" != OK* ]]; then
  echo "bench/model.sh: PyTorch does not compute with OpenBLAS here (BLAS libraries it loaded: ${TORCH_BLAS#NO }):" \
       "a ratio against the reference BLAS would be meaningless, so none is printed." \
       "Install libopenblas0-pthread (and check 'update-alternatives --display libblas.so.3-x86_64-linux-gnu')." >&2
  exit 1
fi
echo "PyTorch's BLAS: ${TORCH_BLAS#OK }" >&2

# --- our build --------------------------------------------------------------------------------
echo "building test classes (mvn -pl common test-compile)..." >&2
(cd "$ROOT" && mvn -q -B -ntp -Dstyle.color=never -pl common test-compile \
  && mvn -q -B -ntp -Dstyle.color=never -pl common dependency:build-classpath \
       -Dmdep.outputFile="$WORK/cp.txt" -DincludeScope=test) >&2
CP="$ROOT/common/target/test-classes:$ROOT/common/target/classes:$(cat "$WORK/cp.txt")"
# the launcher's JVM module options (Vector API, Spark's opens)
# shellcheck source=../bin/lib/spark-home.sh
source "$ROOT/bin/lib/spark-home.sh"
# heap: params + grads + 2 moments + decay mask = 5 x 0.5 GB, activations of B=8,T=256 ~ 1.3 GB
run_java() {
  # shellcheck disable=SC2086
  java -Xmx6g "${JVM_MODULE_ARGS[@]}" ${BENCH_JAVA_OPTS:-} -cp "$CP" "$@" 2> >(grep -v 'incubat' >&2)
}

# --- FMA peak ---------------------------------------------------------------------------------
declare -A PEAK=()
if [[ -n "${BENCH_PEAK:-}" ]]; then
  for kv in ${BENCH_PEAK//,/ }; do PEAK[${kv%%=*}]="${kv#*=}"; done
elif [[ -f "$ROOT/bench/fma_peak.c" ]] && command -v gcc >/dev/null; then
  gcc -O2 -mavx512f -mfma -pthread "$ROOT/bench/fma_peak.c" -o "$WORK/fma_peak"
  for t in ${THREADS//,/ }; do
    # PEAK threads gflopsWall gflopsCpu: the CPU-time figure is what a core delivers when it runs
    PEAK[$t]="$("$WORK/fma_peak" "$t" | awk '$1=="PEAK"{print $4}')"
  done
else
  # hosts of this kind differ by 2x: a figure without the peak of the same run says little
  echo "bench/model.sh: cannot measure the FMA peak (needs gcc and bench/fma_peak.c); give BENCH_PEAK" >&2
  exit 1
fi

# --- runs: ours and PyTorch back to back per thread count ---------------------------------------
RESULTS="$WORK/results.txt"
: > "$RESULTS"
LOAD_START="$(cut -d' ' -f1-3 /proc/loadavg)"
for t in ${THREADS//,/ }; do
  echo "threads=$t: ours (train)..." >&2
  PROF=()
  if [[ "${MODEL_PROFILE:-0}" == 1 ]]; then
    PROF=(-XX:StartFlightRecording=filename="$WORK/train-$t.jfr",settings=profile)
  fi
  run_java "${PROF[@]}" -Drlhf.threads="$t" rlhf.bench.TrainStepBench --threads "$t" --cases "$CASES" \
    --warmup "$WARMUP" --iters "$ITERS" | tee -a "$RESULTS" >&2
  echo "threads=$t: PyTorch (generation, train)..." >&2
  TORCH_ENV=(OPENBLAS_CORETYPE=SkylakeX OMP_NUM_THREADS="$t" OPENBLAS_NUM_THREADS="$t" MKL_NUM_THREADS="$t")
  [[ "$t" -gt 1 ]] && TORCH_ENV+=(OMP_WAIT_POLICY=PASSIVE)
  env "${TORCH_ENV[@]}" "$PY" "$ROOT/bench/torch_gpt2.py" --threads "$t" --cases "$CASES" --gen "$GEN" \
    --warmup "$WARMUP" --iters "$ITERS" | sed 's/^/TORCH /' | tee -a "$RESULTS" >&2
  if [[ -n "$GEN" ]]; then
    echo "threads=$t: ours (generation)..." >&2
    IFS=x read -r GB GP GN <<< "$GEN"
    run_java -Drlhf.threads="$t" rlhf.bench.GenerationBench --threads "$t" --batch "$GB" --prompt "$GP" \
      --new "$GN" | tee -a "$RESULTS" >&2
  fi
  if [[ "${MODEL_PROFILE:-0}" == 1 ]]; then
    echo "threads=$t: hottest methods of our training step (JFR execution samples, top frame):" >&2
    jfr print --events jdk.ExecutionSample "$WORK/train-$t.jfr" \
      | awk '/stackTrace = \[/{getline; sub(/^[ \t]+/, ""); sub(/line:.*/, ""); n[$0]++; tot++}
             END {for (m in n) printf "%6.1f%%  %s\n", 100*n[m]/tot, m}' | sort -rn | sed -n 1,25p >&2 || true
  fi
done
LOAD_END="$(cut -d' ' -f1-3 /proc/loadavg)"

# --- the table --------------------------------------------------------------------------------
PEAKS=""
for t in "${!PEAK[@]}"; do PEAKS="$PEAKS $t=${PEAK[$t]}"; done
"$PY" - "$RESULTS" "$PEAKS" "$LOAD_START" "$LOAD_END" "${TORCH_BLAS#OK }" <<'PYEOF'
import json, sys, datetime
results, peaks, load0, load1, blas = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5]
peak = {int(k): float(v) for k, v in (kv.split("=") for kv in peaks.split()) if v}
ours, torch, settings = {}, {}, {}
for line in open(results):
    f = line.split()
    if f[:2] == ["RESULT", "train"]:
        B, T, t, ms, cpu, tps, gf, rss = f[2:]
        ours[("train", f"B={B},T={T}", int(t))] = dict(ms=float(ms), cpu=float(cpu), tps=float(tps), gf=float(gf),
                                                      rss=int(rss), tokens=int(B) * int(T), gflop=float(gf) * float(ms) / 1e3)
    elif f[:2] == ["RESULT", "gen"]:
        B, P, N, t, ms, cpu, tps, _, rss = f[2:]
        ours[("gen", f"B={B},prompt={P},new={N}", int(t))] = dict(ms=float(ms), cpu=float(cpu), tps=float(tps),
                                                                   gf=None, rss=int(rss), tokens=int(B) * int(N))
    elif f and f[0] == "TORCH":
        d = json.loads(line[len("TORCH "):])
        if d["kind"] == "settings":
            settings[d["threads"]] = d
        elif d["kind"] == "train":
            torch[("train", f"B={d['B']},T={d['T']}", d["threads"])] = d
        else:
            torch[("gen", f"B={d['B']},prompt={d['prompt']},new={d['new']}", d["threads"])] = d
print(f"## GPT-2 124M: ours vs PyTorch {next(iter(settings.values()), {}).get('torch', '?')}, "
      f"{datetime.datetime.utcnow():%Y-%m-%d %H:%M} UTC")
print()
print(f"load average at start {load0}, at end {load1} (2 cores). ms = median wall time per training step")
print("or per generate call (prefill + all new tokens); cpu ms = median process CPU time per step / threads,")
print("i.e. the time on otherwise idle cores. ratio = ours/PyTorch tokens/s (higher is better for us).")
print("GFLOP/s = (6·params + 12·L·C·T)·tokens / time; share of peak uses the cpu-time GFLOP/s and the")
print("CPU-time FMA peak " + (", ".join(f"{k} thr {v:.0f}" for k, v in sorted(peak.items())) or "(not given)") + " GFLOP/s.")
print("PyTorch computes with " + blas + ".")
for t, s in sorted(settings.items()):
    print(f"PyTorch settings, {t} thread(s): torch.get_num_threads()={s['threads']}, OMP_NUM_THREADS={s['OMP_NUM_THREADS']}, "
          f"OPENBLAS_NUM_THREADS={s['OPENBLAS_NUM_THREADS']}, OMP_WAIT_POLICY={s['OMP_WAIT_POLICY']}, "
          f"OPENBLAS_CORETYPE={s['OPENBLAS_CORETYPE']}, core used: {s['openblas_core']}")
print()
print("| case | thr | ours ms | ours tok/s | ours GFLOP/s | PyTorch ms | PyTorch tok/s | ratio | ours cpu ms | PyTorch cpu ms | ratio (cpu) | ours share of peak (cpu) | FMA peak, this run | RSS MiB ours / PyTorch |")
print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
for key in sorted(ours, key=lambda k: (k[0] != "train", k[1] != "B=4,T=64", k[1], k[2])):
    o, p = ours[key], torch.get(key)
    kind, case, t = key
    row = [f"{kind} {case}", str(t), f"{o['ms']:.0f}", f"{o['tps']:.1f}", f"{o['gf']:.1f}" if o["gf"] else "-"]
    if p:
        row += [f"{p['ms']:.0f}", f"{p['tokens_per_s']:.1f}", f"{o['tps'] / p['tokens_per_s']:.2f}",
                f"{o['cpu']:.0f}", f"{p['ms_cpu']:.0f}", f"{p['ms_cpu'] / o['cpu']:.2f}"]
    else:
        row += ["-"] * 3 + [f"{o['cpu']:.0f}", "-", "-"]
    if o["gf"] and t in peak:
        row.append(f"{100 * o['gflop'] / (o['cpu'] / 1e3) / peak[t]:.0f}%")
    else:
        row.append("-")
    row.append(f"{peak[t]:.0f} GFLOP/s" if t in peak else "-")
    row.append(f"{o['rss']} / {p['rss_mib'] if p else '-'}")
    print("| " + " | ".join(row) + " |")
PYEOF
