package rlhf.pipeline;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.File;
import java.io.PrintStream;
import java.lang.reflect.Method;
import java.net.URL;
import java.net.URLClassLoader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.spi.ToolProvider;
import java.util.stream.Stream;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import rlhf.cli.Launcher;

/**
 * Every jar spark-submit runs holds what its main class needs besides Spark: with only the jar and
 * Spark's jars on the class path, no class it references is missing (jdeps), and the main class
 * loads and prints its help. A jar that left out rlhf-common (the PPO jar once did) fails here,
 * not on a user's cluster with NoClassDefFoundError.
 */
class JobJarsIT {

    static List<Path> sparkJars;

    @BeforeAll
    static void spark() throws Exception {
        try (Stream<Path> s = Files.list(Launcher.sparkHome().resolve("jars"))) {
            sparkJars = s.filter(p -> p.toString().endsWith(".jar")).sorted().toList();
        }
    }

    @ParameterizedTest(name = "{0}")
    @CsvSource({
        // the model commands end in System.exit (Cli.main): loaded, not run, here; ModelCommandsIT runs them
        "common, rlhf.cli.TokenizeCommand, false",
        "pipeline-sft, rlhf.sft.SftJob, true",
        "pipeline-reward, rlhf.reward.RewardJob, true",
        "pipeline-ppo, rlhf.ppo.PpoJob, true",
        "pipeline-ppo, rlhf.ppo.GrpoJob, true",
        "pipeline-ppo, rlhf.ppo.RlooJob, true",
        "pipeline-best-of-n, rlhf.bestofn.BestOfNJob, true",
        "pipeline-dpo, rlhf.dpo.DpoJob, true",
        "pipeline, rlhf.pipeline.PipelineJob, true"})
    void theJarAndSparkAloneRunTheMainClass(String module, String mainClass, boolean runHelp) throws Exception {
        Path jar = Launcher.ROOT.resolve(module).resolve("target/rlhf-" + module + "-0.1.0.jar");
        assertTrue(Files.isRegularFile(jar), jar + " is built by mvn package");

        String cp = String.join(File.pathSeparator, sparkJars.stream().map(Path::toString).toList());
        StringBuilder report = new StringBuilder();
        int code = jdeps(report, "--missing-deps", "--multi-release", "17", "--class-path", cp, jar.toString());
        List<String> missing = report.toString().lines().filter(l -> l.contains("not found")).toList();
        assertEquals(List.of(), missing, "classes " + jar.getFileName() + " references but neither it nor Spark has"
                + " (jdeps exit " + code + ")");

        List<URL> urls = new ArrayList<>();
        urls.add(jar.toUri().toURL());
        for (Path p : sparkJars) {
            urls.add(p.toUri().toURL());
        }
        PrintStream stdout = System.out;
        ByteArrayOutputStream help = new ByteArrayOutputStream();
        // the platform loader as parent: nothing of this test's class path is visible
        try (URLClassLoader loader = new URLClassLoader(urls.toArray(URL[]::new), ClassLoader.getPlatformClassLoader())) {
            Class<?> main = Class.forName(mainClass, true, loader);
            assertTrue(main.getClassLoader() == loader, mainClass + " came from the jar");
            Method m = main.getMethod("main", String[].class);
            if (!runHelp) {
                return;
            }
            Thread.currentThread().setContextClassLoader(loader);
            System.setOut(new PrintStream(help, true, StandardCharsets.UTF_8));
            m.invoke(null, (Object) new String[] {"--help"});
        } finally {
            System.setOut(stdout);
            Thread.currentThread().setContextClassLoader(JobJarsIT.class.getClassLoader());
        }
        String text = help.toString(StandardCharsets.UTF_8);
        assertTrue(text.contains("usage"), mainClass + " --help printed:\n" + text);
    }

    private static int jdeps(StringBuilder out, String... args) {
        ToolProvider jdeps = ToolProvider.findFirst("jdeps").orElseThrow(() -> new IllegalStateException(
                "the JDK's jdeps tool is missing (a JRE instead of a JDK?)"));
        java.io.StringWriter w = new java.io.StringWriter();
        int code = jdeps.run(new java.io.PrintWriter(w, true), new java.io.PrintWriter(w, true), args);
        out.append(w);
        return code;
    }
}
