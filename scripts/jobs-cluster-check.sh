#!/usr/bin/env bash
# BatchGenerateJob through spark-submit's code path (SparkSubmit) on a standalone cluster: a master and two workers
# started as JVMs from Spark's Maven jars (fake SPARK_HOME of symlinks, as in the connector's ClusterIT), the shaded
# jobs jar as the application, the demo model and prompts. Prints the job's output and a count of the written rows.
#   scripts/jobs-cluster-check.sh [ROWS_ARGS...]     e.g. --limit 100
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
source scripts/find-jdk.sh
JAVA_HOME="$(tokenmill_find_jdk)"; export JAVA_HOME
./mvnw -q -B -pl jobs -am -DskipTests package dependency:build-classpath@local-spark-classpath
jar="$(ls jobs/target/tokenmill-jobs-*.jar | grep -v original | head -1)"
work="$root/target/cluster-check"; rm -rf "$work"; mkdir -p "$work/sparkhome/jars"
for j in $(tr ':' ' ' < jobs/target/local-spark-classpath.txt); do ln -sf "$j" "$work/sparkhome/jars/"; done
export SPARK_HOME="$work/sparkhome" SPARK_SCALA_VERSION=2.13 SPARK_LOCAL_IP=127.0.0.1
OPTS=(-XX:+IgnoreUnrecognizedVMOptions --add-modules=jdk.incubator.vector --enable-native-access=ALL-UNNAMED
  --sun-misc-unsafe-memory-access=allow -Dio.netty.tryReflectionSetAccessible=true
  "-Dlog4j2.configurationFile=$root/jobs/conf/log4j2.properties")
for p in java.lang java.lang.invoke java.lang.reflect java.io java.net java.nio java.util java.util.concurrent \
         java.util.concurrent.atomic jdk.internal.ref sun.nio.ch sun.nio.cs sun.util.calendar; do
  OPTS+=("--add-opens=java.base/$p=ALL-UNNAMED")
done
CP="$SPARK_HOME/jars/*"; P=17177; W=18180
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT
"$JAVA_HOME/bin/java" "${OPTS[@]}" -cp "$CP" org.apache.spark.deploy.master.Master --host 127.0.0.1 --port $P \
  --webui-port $W > "$work/master.log" 2>&1 & pids+=($!)
until curl -sf http://127.0.0.1:$W/json/ >/dev/null; do sleep 0.3; done
for i in 1 2; do
  "$JAVA_HOME/bin/java" "${OPTS[@]}" -cp "$CP" org.apache.spark.deploy.worker.Worker spark://127.0.0.1:$P --host 127.0.0.1 \
    --cores 1 --memory 1g --webui-port $((W+i)) --work-dir "$work/work$i" > "$work/worker$i.log" 2>&1 & pids+=($!)
done
until [ "$(curl -sf http://127.0.0.1:$W/json/ | grep -c '"state" : "ALIVE"')" -ge 2 ]; do sleep 0.3; done
echo "cluster up: master spark://127.0.0.1:$P, 2 workers" >&2
t0=$(date +%s.%N)
"$JAVA_HOME/bin/java" "${OPTS[@]}" -cp "$CP" org.apache.spark.deploy.SparkSubmit --master spark://127.0.0.1:$P \
  --deploy-mode client --class dev.tokenmill.jobs.BatchGenerateJob \
  --conf spark.executor.memory=768m --conf spark.executor.cores=1 "$jar" \
  --input "$root/demo/prompts.jsonl" --model "$root/demo/stories260K-f32.gguf" --output "file://$work/out" \
  --maxTokens 32 --temperature 0 --progress-seconds 5 "$@"
rc=$?
echo "spark-submit exit status $rc, $(echo "$(date +%s.%N) - $t0" | bc) s" >&2
echo "executors that ran tasks: $(ls -d "$work"/work*/app-*/* 2>/dev/null | wc -l)" >&2
exit $rc
