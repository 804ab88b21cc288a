package dev.tokenmill.cli;

import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The classpath {@code ./tokenmill} runs with comes from the {@code runtime-classpath} execution of the root
 * pom (written before the tests): it must hold the CLI's libraries and none of the test-scoped jars, which an
 * ignored scope property once put there.
 */
class RuntimeClasspathTest {
    @Test
    void theLaunchersClasspathHasTheRuntimeLibrariesAndNoTestJars() throws Exception {
        Path file = Path.of(System.getProperty("basedir", "."), "target", "runtime-classpath.txt");
        assertThat(file).as("written by dependency:build-classpath@runtime-classpath").exists();
        List<String> jars = Arrays.stream(Files.readString(file).trim().split(java.io.File.pathSeparator))
                .map(p -> Path.of(p).getFileName().toString()).toList();
        assertThat(jars).anyMatch(j -> j.startsWith("picocli-")).anyMatch(j -> j.startsWith("jackson-databind-"))
                .anyMatch(j -> j.startsWith("slf4j-simple-"));
        assertThat(jars).noneMatch(j -> j.startsWith("junit-") || j.startsWith("assertj-") || j.startsWith("byte-buddy")
                || j.startsWith("opentest4j-") || j.startsWith("apiguardian-") || j.startsWith("tokenmill-"));
    }
}
