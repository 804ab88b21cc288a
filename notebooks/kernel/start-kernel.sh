#!/usr/bin/env bash
# Starts the Tokenmill Java kernel (notebooks/src/main/java/dev/tokenmill/notebook/JShellKernel.java) for Jupyter:
# the kernelspec in kernel/tokenmill-java runs this with the connection file. Needs a build first:
#   ./mvnw -q -pl notebooks -am package -DskipTests
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
source "$root/scripts/find-jdk.sh"
JAVA_HOME="$(tokenmill_find_jdk)"
cp="$root/engine/target/classes:$root/spark-connector/target/classes:$root/jobs/target/classes:$root/notebooks/target/classes"
cp="$cp:$(cat "$root/notebooks/target/kernel-classpath.txt")"
opts=(-XX:+IgnoreUnrecognizedVMOptions --add-modules=jdk.incubator.vector --enable-native-access=ALL-UNNAMED
  --sun-misc-unsafe-memory-access=allow -Dio.netty.tryReflectionSetAccessible=true -Xss4m -Djava.awt.headless=true)
for p in java.lang java.lang.invoke java.lang.reflect java.io java.net java.nio java.util java.util.concurrent \
         java.util.concurrent.atomic jdk.internal.ref sun.nio.ch sun.nio.cs sun.util.calendar; do
  opts+=("--add-opens=java.base/$p=ALL-UNNAMED")
done
opts+=(--add-opens=java.security.jgss/sun.security.krb5=ALL-UNNAMED)
export SPARK_LOCAL_IP="${SPARK_LOCAL_IP:-127.0.0.1}" TOKENMILL_HOME="$root"
exec "$JAVA_HOME/bin/java" "${opts[@]}" -Dlog4j2.configurationFile="$root/jobs/conf/log4j2.properties" \
  -cp "$cp" dev.tokenmill.notebook.JShellKernel "$1"
