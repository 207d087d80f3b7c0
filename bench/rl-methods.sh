#!/usr/bin/env bash
# PPO against the critic-free GRPO and RLOO at the same rollout count: the time of one iteration
# (rollout, scoring, update) of each, back to back in one run, with rlhf.bench.PpoBench (random
# weights; policy = reference, the reward model = PPO's critic start, each L layers x C wide).
#
#   bench/rl-methods.sh            ~5-10 minutes on a 2-core machine
#
# Environment: RL_BENCH_ARGS extra -D options for every run (e.g. "-DL=2 -DC=256 -Drollouts=64");
# BENCH_JAVA_OPTS extra JVM options. Prints one line per run and the ratios to PPO.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/rlhf-rl-bench.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT
echo "building test classes (mvn -pl common,pipeline-ppo test-compile)..." >&2
(cd "$ROOT" && mvn -q -B -ntp -Dstyle.color=never -pl common,pipeline-ppo test-compile dependency:build-classpath \
     -Dmdep.outputFile="$WORK/cp.txt" -DincludeScope=test) >&2
# both modules write the file, pipeline-ppo (whose test class path holds common's) last
CP="$ROOT/pipeline-ppo/target/test-classes:$ROOT/pipeline-ppo/target/classes:$(cat "$WORK/cp.txt")"
# shellcheck source=../bin/lib/spark-home.sh
source "$ROOT/bin/lib/spark-home.sh"

run() { # NAME -Dk=v...: one PpoBench run; its iteration_s line goes to $WORK/NAME
  local name=$1; shift
  # shellcheck disable=SC2086
  java -Xmx6g "${JVM_MODULE_ARGS[@]}" ${BENCH_JAVA_OPTS:-} -Dlog4j2.configurationFile="$ROOT/conf/log4j2.properties" \
    -Drepeats=1 -Diterations=3 ${RL_BENCH_ARGS:-} "$@" -cp "$CP" rlhf.bench.PpoBench 2> >(grep -v 'incubat' >&2) \
    | tee "$WORK/$name.out" | grep -v '^iteration_s=' >&2
  grep '^iteration_s=' "$WORK/$name.out" | sed "s/^/$name /"
}

# PPO, the reference, runs last: the first run after the build measured its rollout phase 70%
# slower (2.33 s against 1.35 s for the same work), a handicap the reference must not carry
{
  run grpo -Dmethod=grpo
  run grpo-4x4 -Dmethod=grpo -Depochs=4 -Dminibatches=4
  run rloo -Dmethod=rloo
  run ppo -Dmethod=ppo
} | tee "$WORK/lines.txt"
python3 - "$WORK/lines.txt" <<'PY'
import sys
rows = {}
for line in open(sys.argv[1]):
    name, rest = line.split(" ", 1)
    rows[name] = dict(kv.split("=") for kv in rest.split())
ppo = float(rows["ppo"]["iteration_s"])
print("\n| run | epochs x minibatches | iteration s | rollout | scoring | update | / PPO |")
print("|---|---|---|---|---|---|---|")
for name, r in rows.items():
    t = float(r["iteration_s"])
    print("| %s | %s x %s | %.2f | %.2f | %.2f | %.2f | %.2f |" % (name, r["epochs"], r["minibatches"], t,
          float(r["rollout_s"]), float(r["scoring_s"]), float(r["update_s"]), t / ppo))
PY
