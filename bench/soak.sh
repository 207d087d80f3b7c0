#!/usr/bin/env bash
# Crash-resume soak of the pipeline (issue 15; a script, not part of the test suite): the driver
# is killed with SIGKILL at random moments of a pipeline run (SFT -> reward model -> PPO, the
# small configuration bench/soak.properties), the run is continued with --resume, and the final
# models must be bit-identical to those of an undisturbed run.
#
#   bench/soak.sh [N] [SEED]        N trials (default 10), kill moments drawn with SEED (default 1)
#
# What it proves: wherever the driver dies (JVM start, any stage, any step, while a checkpoint or a
# final model is being written, between two stages), `bin/rlhf pipeline --resume` finishes the run
# and sft/final, reward/final and ppo/final are byte for byte those of the undisturbed run.
#
# How: one undisturbed reference run records its duration D, when each checkpoint write began,
# and the SHA-256 of every file of <run>/{sft,reward,ppo}/final. Then each trial starts the same
# run afresh in its own directory and SIGKILLs its whole process group (the spark-submit driver
# JVM, which runs the local-mode executors, and any child it has) at a moment drawn uniformly in
# [0, D), checks that no process of the group survived, reports where the kill landed (stage, last
# step logged, newest complete checkpoint, and a write cut short: a checkpoint-<step>.tmp-* or
# final.tmp-* directory and how many of its files exist, a renamed checkpoint still without its
# completion marker, a replaced one not yet deleted), resumes once with --resume and compares the
# hashes. Trials 1, 4, 7, 10, ... target checkpoint writes: one of the reference run's writes
# (checkpoint or final model of any stage, PPO's critic's too) drawn uniformly, the script polls
# the run directory every millisecond for that write's temporary directory and kills 0-300 ms
# (uniform) after it appears: a write takes 0.1-0.5 s on a loaded 2-core machine (seven files of
# 30-50 ms each), so the kill lands before, inside or just after any file of it.
#
# What is compared, and why only that: every file of each stage's final/ (config.json,
# model.safetensors, vocab.json, merges.txt, checkpoint_complete.json and Hadoop's .crc sidecars):
# the models. Nothing in final/ depends on the clock or on the run directory. Left out, because they
# legitimately differ: metrics.jsonl (wall-clock "time" and throughput per step; a resumed run
# also logs again the steps after its checkpoint), samples/, conf/*.properties (they name the run
# directory), and checkpoints (trainer_state.json holds elapsed seconds; they are the means of
# resuming, not its result).
#
# The configuration keeps one checkpoint per stage (checkpoint.keep_last = 1): every checkpoint
# write is followed by the deletion of the previous one, so kills land in pruning too, and a run
# has but one checkpoint to resume from.
#
# How long: the reference run takes 1-2 minutes on 2 cores in local mode (bench/soak.properties:
# a 2-layer width-32 model, 120 SFT steps, 60 reward steps, 20 PPO iterations, a checkpoint every
# 10, 5 and 2 of them); a trial about as long as the reference run plus a JVM start: N = 10 takes
# about 20-40 minutes on a shared 2-core machine.
#
# A run faster than the reference may end before its kill moment: it is started again with a
# moment drawn over its own duration (at most 3 draws; "(draw 2)" in the table).
#
# Output: a table per trial (kill moment, where it landed, resume exit code and time, identical or
# not) and "K/N identical"; exit code 1 when a resume failed, a final model differs, a process
# survived a kill or a trial's run could not be killed. The runs' logs are under the work directory (kept with SOAK_KEEP=1).
#
# Environment:
#   SOAK_MASTER     Spark master (default local[2])
#   SOAK_KEEP=1     keep the work directory (data, every run directory and log)
#   SOAK_PREBUILT=1 use the jars as they are in */target (default: mvn -o package first)
#   TMPDIR          where the work directory goes (default /tmp)
set -euo pipefail
export LC_ALL=C

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
if [[ "${1:-}" == -h || "${1:-}" == --help ]]; then
  sed -n '2,55p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
  exit 0
fi
N="${1:-10}"
SEED="${2:-1}"
[[ "$N" =~ ^[0-9]+$ && "$SEED" =~ ^[0-9]+$ ]] || { echo "usage: bench/soak.sh [N] [SEED]" >&2; exit 2; }
MASTER="${SOAK_MASTER:-local[2]}"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/rlhf-soak.XXXXXX")"
STAGES=(sft reward ppo)
RUN_PGID=""   # the process group of the run being watched, killed on exit

cleanup() {
  if [[ -n "$RUN_PGID" ]]; then
    kill -9 -- "-$RUN_PGID" 2>/dev/null || true
  fi
  if [[ -n "${SOAK_KEEP:-}" ]]; then
    echo "work directory kept: $WORK" >&2
  else
    rm -rf "$WORK"
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

# --- time and sleep without forking (the watch loop polls every few milliseconds) --------------

shopt -s nullglob
now_ms() { NOW_MS=$((${EPOCHREALTIME/./} / 1000)); }
mkfifo "$WORK/.tick"
exec {TICK}<>"$WORK/.tick"
nap() { read -r -t "$1" -u "$TICK" _ || true; }
alive() { # whether process $1 runs (not gone, not a zombie waiting for `wait`)
  local state=""
  { read -r _ _ state _ <"/proc/$1/stat"; } 2>/dev/null || return 1
  [[ "$state" != Z ]]
}

# --- the pipeline ------------------------------------------------------------------------------

pipeline_args() { # OUT: the arguments of `bin/rlhf pipeline` for a run into OUT
  local d="$WORK/data"
  ARGS=(--config "$ROOT/bench/soak.properties" --out "$1" --master "$MASTER"
    --set "sft.data.train=$d/sft_train.jsonl" --set "sft.data.eval=$d/sft_eval.jsonl"
    --set "reward.data.train=$d/prefs_train.jsonl" --set "reward.data.eval=$d/prefs_eval.jsonl"
    --set "ppo.data.prompts=$d/ppo_prompts.jsonl")
}

# WRITES: the temporary directories of checkpoints and final models being written under run
# directory $1 (checkpoint-<step>.tmp-*, final.tmp-*, and the PPO critic's).
writes_in() {
  WRITES=("$1"/*/*.tmp-* "$1"/ppo/critic/*.tmp-*)
}

# run_watched OUT LOG MODE ARG [--resume]: runs the pipeline into OUT in a process group of its
# own, writing its output to LOG. MODE: observe (run to the end, recording in $WORK/writes.txt when
# each checkpoint write was first seen, in ms from the start), none (run to the end), time (SIGKILL
# at ARG ms), write (SIGKILL WRITE_DELAY_US microseconds after the temporary directory of the write
# ARG appeared, ARG e.g. reward/checkpoint-35 or ppo/final). Sets RC (exit code, 137 when killed),
# KILLED (1 when it was), KILL_AT_MS and ELAPSED_MS.
run_watched() {
  local out="$1" log="$2" mode="$3" arg="$4" t0 pid wrapper now seen=" " w seen_at=""
  pipeline_args "$out"
  now_ms; t0=$NOW_MS
  rm -f "$WORK/.pid"
  # setsid execs in the background child (not a group leader): its pid is the process group's id
  # and, bin/rlhf exec-ing java, the driver JVM's pid. The subshell around it keeps bash's "Killed"
  # notice out of the output.
  (
    setsid "$ROOT/bin/rlhf" pipeline "${ARGS[@]}" ${5:+"$5"} >"$log" 2>&1 &
    echo $! >"$WORK/.pid"
    wait $!
  ) 2>/dev/null &
  wrapper=$!
  until [[ -s "$WORK/.pid" ]]; do nap 0.001; done
  read -r pid <"$WORK/.pid"
  RUN_PGID=$pid
  KILLED=0
  KILL_AT_MS=0
  while alive "$pid"; do
    now_ms; now=$((NOW_MS - t0))
    case "$mode" in
      observe)
        writes_in "$out"
        for w in "${WRITES[@]}"; do
          if [[ "$seen" != *" $w "* ]]; then
            seen+="$w "
            echo "$now ${w#"$out"/}" >>"$WORK/writes.txt"
          fi
        done
        nap 0.003 ;;
      none)
        nap 0.2 ;;
      time)
        if ((now >= arg)); then kill_group "$pid" "$now" "$out"; break; fi
        nap 0.002 ;;
      write) # the write's temporary directory, then WRITE_DELAY_US more microseconds
        if [[ -z "$seen_at" ]]; then
          w=("$out/$arg".tmp-*)
          if ((${#w[@]})); then seen_at=${EPOCHREALTIME/./}; fi
        fi
        if [[ -n "$seen_at" ]] && ((${EPOCHREALTIME/./} - seen_at >= WRITE_DELAY_US)); then
          kill_group "$pid" "$now" "$out"; break
        fi
        [[ -n "$seen_at" ]] || nap 0.001 ;;
    esac
  done
  RC=0
  wait "$wrapper" || RC=$?
  RUN_PGID=""
  now_ms; ELAPSED_MS=$((NOW_MS - t0))
}

# SIGKILL to the whole process group of the driver; fails the soak when a process of it survives.
# A process survives when it is still in the group or session, or still names the run directory.
kill_group() { # PGID MS_SINCE_START OUT
  kill -9 -- "-$1" 2>/dev/null || true
  KILLED=1
  KILL_AT_MS=$2
  local i
  for i in $(seq 100); do
    if ! pgrep -g "$1" >/dev/null && ! pgrep -s "$1" >/dev/null && ! pgrep -f -- "--out $3( |$)" >/dev/null; then
      return 0
    fi
    nap 0.1
  done
  echo "soak: processes of the killed run survived: $(pgrep -g "$1"; pgrep -s "$1"; pgrep -f -- "--out $3( |$)")" >&2
  exit 1
}

# Where a kill landed, from what the run directory $1 holds: the stage (the first without a
# complete final model), the last step it logged, its newest complete checkpoint, and any write
# cut short.
landing() {
  local out="$1" st d last c n ckpt="" cut=""
  if [[ ! -d "$out/conf" ]]; then
    echo "startup (no run directory yet)"
    return
  fi
  for st in "${STAGES[@]}"; do
    d="$out/$st"
    if [[ -f "$d/final/checkpoint_complete.json" ]]; then
      continue
    elif [[ ! -d "$d" ]]; then
      echo "$st: no output yet"
      return
    fi
    last=$(tail -n 1 "$d/metrics.jsonl" 2>/dev/null | sed -n 's/^{"step":\([0-9]*\).*/\1/p' || true)
    for c in "$d"/checkpoint-*/checkpoint_complete.json; do
      c="${c%/*}"
      if [[ "${c##*/}" =~ ^checkpoint-([0-9]+)$ ]] && ((BASH_REMATCH[1] > ${ckpt:-0})); then
        ckpt=${BASH_REMATCH[1]}
      fi
    done
    for c in "$d"/*.tmp-* "$d"/critic/*.tmp-*; do
      n=${c#"$d"/}
      cut+=" WRITE ${n%%.tmp-*}.tmp-* ($(find "$c" -type f ! -name '.*' | wc -l) files)"
    done
    for c in "$d"/checkpoint-* "$d"/critic/checkpoint-* "$d"/final; do
      if [[ -d "$c" && "$c" != *.tmp-* && "$c" != *.old-* && ! -f "$c/checkpoint_complete.json" ]]; then
        cut+=" WRITE ${c#"$d"/} renamed, no marker"
      fi
    done
    for c in "$d"/*.old-* "$d"/critic/*.old-*; do
      cut+=" REPLACING ${c#"$d"/}"
    done
    echo "$st step ${last:-none}, ckpt ${ckpt:-none}${cut}"
    return
  done
  echo "after ppo/final (run complete)"
}

# SHA-256 of every file of each stage's final model, as "stage/path hash" lines.
manifest() {
  local st
  for st in "${STAGES[@]}"; do
    [[ -d "$1/$st/final" ]] || { echo "$st/final MISSING"; continue; }
    (cd "$1/$st/final" && find . -type f | LC_ALL=C sort | while read -r f; do
      echo "$st/final/${f#./} $(sha256sum <"$f" | cut -d' ' -f1)"
    done)
  done
}

# --- setup -------------------------------------------------------------------------------------

if [[ -z "${SOAK_PREBUILT:-}" ]]; then
  echo "building the jars (mvn -o package)..." >&2
  (cd "$ROOT" && mvn -o -q -B -ntp -Dstyle.color=never -DskipTests package) >&2
fi
export RLHF_PREBUILT=1
echo "writing the data (bin/rlhf demo-data)..." >&2
"$ROOT/bin/rlhf" demo-data --out "$WORK/data" --master "$MASTER" --sft-train 1000 --sft-eval 50 \
  --prefs-train 400 --prefs-eval 50 --rankings-train 0 --ppo-prompts 200 --heldout-prompts 10 \
  >"$WORK/demo-data.log" 2>&1 || { cat "$WORK/demo-data.log" >&2; exit 1; }

now_ms; SOAK_T0=$NOW_MS
SOAK_START=$(date -u +%FT%TZ)
echo "$SOAK_START reference run (undisturbed)..." >&2
: >"$WORK/writes.txt"
run_watched "$WORK/reference" "$WORK/reference.log" observe 0
if ((RC != 0)); then
  tail -n 30 "$WORK/reference.log" >&2
  echo "soak: the reference run failed (exit code $RC)" >&2
  exit 1
fi
REF_MS=$ELAPSED_MS
manifest "$WORK/reference" >"$WORK/reference.sha256"
LAST_WRITE_MS=$(tail -n 1 "$WORK/writes.txt" | cut -d' ' -f1)
if [[ -z "$LAST_WRITE_MS" ]]; then
  echo "soak: no checkpoint write was seen during the reference run" >&2
  exit 1
fi
echo "reference: $((REF_MS / 1000)) s, $(wc -l <"$WORK/writes.txt") checkpoint writes seen (the last from" \
  "$((LAST_WRITE_MS / 1000)) s), $(wc -l <"$WORK/reference.sha256") files in the final models" >&2

# --- trials ------------------------------------------------------------------------------------

RANDOM=$SEED
uniform_ms() { # AT: a draw in [0, $1) ms (not in a subshell: RANDOM must advance here)
  AT=$(((((RANDOM << 15) | RANDOM) * $1) >> 30))
}
printf '\n%-5s %-34s %-8s %-62s %-9s %-8s %s\n' trial target kill_s landed resume_rc resume_s identical
SAME=0
FAILED=0
for i in $(seq "$N"); do
  dir="$WORK/trial-$i"
  span=$REF_MS
  for attempt in 1 2 3; do # a run that ends before its kill moment starts again, with a new draw
    if (((i - 1) % 3 == 0)); then # one of the reference's writes, and 0-300 ms into it
      mode=write
      uniform_ms "$(wc -l <"$WORK/writes.txt")"
      target=$(sed -n "$((AT + 1))p" "$WORK/writes.txt" | cut -d' ' -f2)
      target=${target%%.tmp-*}
      uniform_ms 300
      WRITE_DELAY_US=$((AT * 1000))
      what="write $target +${AT}ms"
    else
      mode=time
      uniform_ms "$span"
      target=$AT
      what="time"
    fi
    ((attempt == 1)) || what+=" (draw $attempt)"
    rm -rf "$dir"
    run_watched "$dir" "$dir.kill.log" "$mode" "$target"
    ((KILLED)) && break
    span=$ELAPSED_MS # uniform over this run's duration: it was faster than the reference
  done
  if ((KILLED)); then
    where=$(landing "$dir")
    kill_s=$(printf '%d.%03d' $((KILL_AT_MS / 1000)) $((KILL_AT_MS % 1000)))
  else
    where="not killed: the run ended first (exit code $RC)"
    kill_s=-
    FAILED=1
  fi
  run_watched "$dir" "$dir.resume.log" none 0 --resume
  resume_rc=$RC
  if ((resume_rc == 0)) && cmp -s <(manifest "$dir") "$WORK/reference.sha256"; then
    same=yes; SAME=$((SAME + 1))
  else
    same=NO; FAILED=1
    diff <(manifest "$dir") "$WORK/reference.sha256" >"$dir.diff" || true
  fi
  printf '%-5s %-34s %-8s %-62s %-9s %-8s %s\n' "$i" "$what" "$kill_s" "$where" "$resume_rc" \
    "$((ELAPSED_MS / 1000))" "$same"
done
now_ms
echo
echo "$SAME/$N identical (seed $SEED, reference run $((REF_MS / 1000)) s, soak $(((NOW_MS - SOAK_T0) / 1000)) s," \
  "$SOAK_START to $(date -u +%FT%TZ))"
exit "$FAILED"
