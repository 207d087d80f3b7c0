# Sourced by bin/rlhf and bin/cluster (not run): what both need to start Spark JVMs by hand.
#
#   rlhf_spark_home     prints a directory usable as SPARK_HOME (one with jars/ holding Spark's
#                       jars): the user's own $SPARK_HOME if it is a Spark distribution, else
#                       target/spark-home, a tree of links to the Spark jars Maven resolves for
#                       this project, so that nothing has to be installed.
#   JVM_MODULE_ARGS     the JVM options Spark needs on JDK 17 (its own --add-opens list) plus the
#                       Vector API module; one list for every JVM the scripts start.
#
# Spark's standalone Worker starts executors with the class path $SPARK_HOME/jars/* (and
# $SPARK_HOME/conf), which is why a Spark home is a directory of jars and not a class path string.

JVM_MODULE_ARGS=(-XX:+IgnoreUnrecognizedVMOptions --add-modules=jdk.incubator.vector
  --add-opens=java.base/java.lang=ALL-UNNAMED --add-opens=java.base/java.lang.invoke=ALL-UNNAMED
  --add-opens=java.base/java.lang.reflect=ALL-UNNAMED --add-opens=java.base/java.io=ALL-UNNAMED
  --add-opens=java.base/java.net=ALL-UNNAMED --add-opens=java.base/java.nio=ALL-UNNAMED
  --add-opens=java.base/java.util=ALL-UNNAMED --add-opens=java.base/java.util.concurrent=ALL-UNNAMED
  --add-opens=java.base/java.util.concurrent.atomic=ALL-UNNAMED --add-opens=java.base/jdk.internal.ref=ALL-UNNAMED
  --add-opens=java.base/sun.nio.ch=ALL-UNNAMED --add-opens=java.base/sun.nio.cs=ALL-UNNAMED
  --add-opens=java.base/sun.security.action=ALL-UNNAMED --add-opens=java.base/sun.util.calendar=ALL-UNNAMED
  --add-opens=java.security.jgss/sun.security.krb5=ALL-UNNAMED -Djdk.reflect.useDirectMethodHandle=false
  -Dio.netty.tryReflectionSetAccessible=true)

# True when $1/jars holds a readable spark-core jar (a dangling link, e.g. after ~/.m2 was
# cleaned, does not count).
_rlhf_has_spark_jars() {
  local jar
  for jar in "$1"/jars/spark-core_*.jar; do
    [[ -f "$jar" ]] && return 0
  done
  return 1
}

rlhf_spark_home() {
  if [[ -n "${SPARK_HOME:-}" ]] && _rlhf_has_spark_jars "$SPARK_HOME"; then
    echo "$SPARK_HOME"
    return 0
  fi
  # The repository root from this file's place (bin/lib/..), not the caller's ROOT: the
  # function works whoever sources it.
  local root home
  root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)" || return 1
  home="$root/target/spark-home"
  if ! _rlhf_has_spark_jars "$home" || [[ ! -f "$home/classpath.txt" ]] \
      || [[ -n "$(find "$root" -path "$root/target" -prune -o -name pom.xml -newer "$home/classpath.txt" -print -quit)" ]]; then
    _rlhf_build_spark_home "$root" "$home" || return 1
  fi
  echo "$home"
}

# Resolves Spark's jars with Maven (scope provided: exactly Spark and its dependencies, none of
# ours and no test jars) and links them into $2/jars.
_rlhf_build_spark_home() {
  local root="$1" home="$2" cp old jar tmp
  command -v mvn >/dev/null || {
    echo "rlhf: Maven (mvn) is needed to resolve the Spark jars (or set SPARK_HOME to a Spark distribution)" >&2
    return 1
  }
  echo "rlhf: preparing a Spark home from the jars Maven resolves ($home) ..." >&2
  mkdir -p "$home/conf" || return 1
  # No stamp while resolving: a failed run must not look up to date next time.
  old="$(cat "$home/classpath.txt" 2>/dev/null || true)"
  rm -f "$home/classpath.txt"
  mvn -q -B -ntp -f "$root/pom.xml" -pl common dependency:build-classpath -DincludeScope=provided \
      -Dmdep.outputFile="$home/classpath.txt" >&2 || {
    rm -f "$home/classpath.txt"
    echo "rlhf: Maven could not resolve the Spark jars (see its output above)" >&2
    return 1
  }
  cp="$(cat "$home/classpath.txt")" || return 1
  # The same jars as before (a pom changed, not Spark): jars/ stays as it is, under the feet of
  # a cluster that may be running from it.
  [[ "$cp" == "$old" ]] && _rlhf_has_spark_jars "$home" && return 0
  # Links are made in a fresh directory and swapped in, so that a concurrent reader sees the old
  # or the new jars/, never half of one.
  tmp="$(mktemp -d "$home/jars.XXXXXX")" && chmod 755 "$tmp" || return 1
  local IFS=:
  for jar in $cp; do
    [[ "$jar" == *.jar ]] && ln -s "$jar" "$tmp/" || true
  done
  rm -rf "$home/jars" && mv "$tmp" "$home/jars" || return 1
  _rlhf_has_spark_jars "$home" || {
    echo "rlhf: no spark-core jar among the jars Maven resolved ($home/classpath.txt)" >&2
    return 1
  }
}
