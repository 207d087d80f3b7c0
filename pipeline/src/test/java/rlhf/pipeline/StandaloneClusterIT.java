package rlhf.pipeline;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Optional;
import java.util.Random;
import java.util.function.Predicate;
import java.util.stream.Stream;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.io.TempDir;

import rlhf.cli.Launcher;

/**
 * The jobs on a real Spark standalone cluster: {@code bin/cluster start --workers 2} (a Master and
 * two Worker JVMs; every executor its own JVM that fetches the job jar from the driver), jobs
 * submitted with {@code bin/rlhf ... --master spark://...} (spark-submit of the job's jar), as in
 * the README. Small models; every run is compared with the pipeline run in {@code local[2]} with
 * the same two partitions, by the SHA-256 of the final model files:
 *
 * <ul>
 *   <li>the pipeline jar (one application: SFT -> reward -> DPO -> best-of-n -> PPO -> GRPO -> RLOO) on the cluster
 *       (the driver's exchange, as local mode; best-of-n's files byte for byte, its score a
 *       weighted sum of the reward model and built-in rules that read each prompt's answer);</li>
 *   <li>the SFT, reward and PPO jars submitted one by one, SFT and PPO with the sharded exchange
 *       (AdamW shards on the executors), with an executor JVM killed (SIGKILL, by its process id)
 *       in the middle of an SFT step and in the middle of a PPO update: Spark reruns the lost tasks
 *       on the other executor and on the one the Worker starts instead, and the lost optimizer
 *       shards are read from their replicas;</li>
 *   <li>the SFT driver (sharded exchange) killed after its first checkpoint and the job resubmitted
 *       with --resume.</li>
 * </ul>
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class StandaloneClusterIT {

    static final ObjectMapper JSON = new ObjectMapper();
    static final int SFT_STEPS = 30;
    static final int PPO_ITERATIONS = 3;

    @TempDir
    static Path tmp;
    static Launcher launcher;
    static Path clusterDir;
    static String master;
    /** The reference: the pipeline in local[2]. */
    static Path ref;

    @BeforeAll
    static void startClusterAndRunTheReference() throws Exception {
        launcher = new Launcher(tmp);
        writeData(tmp);
        Files.writeString(tmp.resolve("pipeline.properties"), pipelineConfig(tmp));

        ref = tmp.resolve("local");
        Launcher.Result local = launcher.rlhf(600, "pipeline", "--config", "pipeline.properties",
                "--set", "output.dir=" + ref, "--master", "local[2]");
        assertTrue(local.ok(), "the pipeline in local[2]:\n" + Launcher.tail(local.stderr()));

        clusterDir = tmp.resolve("cluster");
        int port = freePort();
        int ui = freePort();
        Launcher.Result started = launcher.cluster(120, "start", "--workers", "2", "--cores-per-worker", "1",
                "--memory-per-worker", "2g", "--port", "" + port, "--webui-port", "" + ui, "--dir", clusterDir.toString());
        assertTrue(started.ok(), "bin/cluster start:\n" + started.stdout() + started.stderr());
        assertTrue(started.stdout().contains("master spark://127.0.0.1:" + port), started.stdout());
        master = "spark://127.0.0.1:" + port;
    }

    @AfterAll
    static void stopCluster() throws Exception {
        if (clusterDir != null) {
            Launcher.Result stopped = launcher.cluster(60, "stop", "--dir", clusterDir.toString());
            assertTrue(stopped.ok(), stopped.stderr());
        }
    }

    @Test
    @Order(1)
    void thePipelineOnTheClusterEqualsLocalMode() throws Exception {
        Path out = tmp.resolve("cluster-pipeline");
        Launcher.Result r = launcher.rlhf(600, "pipeline", "--config", "pipeline.properties",
                "--set", "output.dir=" + out, "--master", master);
        assertTrue(r.ok(), "the pipeline on the cluster:\n" + Launcher.tail(r.stderr()));
        for (String stage : List.of("sft", "reward", PipelinePlan.DPO, "ppo", "grpo", "rloo")) {
            assertSameModel(ref.resolve(stage), out.resolve(stage));
        }
        for (String f : List.of("samples.jsonl", "chosen.jsonl", "report.json")) {
            Path expected = ref.resolve("best-of-n").resolve(f);
            Path actual = out.resolve("best-of-n").resolve(f);
            if (f.equals("report.json")) { // the same but for the seconds it took and the models' directories
                JsonNode e = JSON.readTree(expected.toFile()), a = JSON.readTree(actual.toFile());
                for (String k : List.of("seconds", "policy", "reward")) {
                    ((com.fasterxml.jackson.databind.node.ObjectNode) e).remove(k);
                    ((com.fasterxml.jackson.databind.node.ObjectNode) a).remove(k);
                }
                assertEquals(e, a, actual + " equals " + expected);
            } else {
                assertEquals(sha256(expected), sha256(actual), actual + " is byte-identical to " + expected);
            }
        }
        // the first application on this cluster: each Worker started an executor JVM for it
        assertEquals(List.of("worker-1", "worker-2"), workersThatRanAnExecutor(), "executor logs under " + clusterDir);
        // and the driver's exchange moved parameters and gradients over direct connections (the default)
        assertEquals(List.of("worker-1", "worker-2"), workersWhoseExecutorLogSays("direct transfer: serving on"),
                "executor logs under " + clusterDir);
    }

    @Test
    @Order(2)
    void sftJarOnTheClusterWithTheShardedExchangeSurvivesAKilledExecutorAndEqualsLocalMode() throws Exception {
        Path out = tmp.resolve("jobs/sft");
        runKillingAnExecutor(d -> d.startsWith("sft step ") && stepOf(d) >= 5, "sft",
                "--config", ref.resolve("conf/sft.properties").toString(), "--set", "output.dir=" + out,
                "--set", "train.exchange=sharded");
        assertSameModel(ref.resolve("sft"), out);
        // The same bits through two exchanges: local mode sent the driver a gradient per partition,
        // the cluster (sharded; its optimizer and parameter shards survived the killed executor in
        // their replicas) sent the driver nothing: the executors gathered the parameters.
        double paramBytes = firstStep(ref.resolve("sft/metrics.jsonl"), "executor_in_bytes");
        assertEquals(2 * paramBytes, firstStep(ref.resolve("sft/metrics.jsonl"), "driver_in_bytes"), "local[2]");
        assertEquals(0, firstStep(out.resolve("metrics.jsonl"), "driver_in_bytes"), "cluster");
        assertEquals(0, firstStep(out.resolve("metrics.jsonl"), "driver_out_bytes_max"), "cluster");
    }

    /** A metric of the first step's line of a metrics.jsonl. */
    static double firstStep(Path metrics, String key) throws IOException {
        for (String line : Files.readAllLines(metrics)) {
            com.fasterxml.jackson.databind.JsonNode n = new com.fasterxml.jackson.databind.ObjectMapper().readTree(line);
            if (n.has(key)) {
                return n.get(key).asDouble();
            }
        }
        throw new AssertionError(metrics + " has no step with " + key);
    }

    @Test
    @Order(3)
    void rewardJarOnTheClusterEqualsLocalMode() throws Exception {
        Path out = tmp.resolve("jobs/reward");
        Launcher.Result r = launcher.rlhf(600, "reward", "--config", ref.resolve("conf/reward.properties").toString(),
                "--set", "output.dir=" + out, "--set", "model.init=" + tmp.resolve("jobs/sft/final"), "--master", master);
        assertTrue(r.ok(), "reward on the cluster:\n" + Launcher.tail(r.stderr()));
        assertSameModel(ref.resolve("reward"), out);
    }

    @Test
    @Order(4)
    void ppoJarOnTheClusterWithTheShardedExchangeSurvivesAnExecutorKilledMidUpdateAndEqualsLocalMode()
            throws Exception {
        Path out = tmp.resolve("jobs/ppo");
        // the update's jobs are "ppo iteration 2, epoch 1, minibatch 1" ...
        runKillingAnExecutor(d -> d.startsWith("ppo iteration 2, epoch"), "ppo",
                "--config", ref.resolve("conf/ppo.properties").toString(), "--set", "output.dir=" + out,
                "--set", "model.policy=" + tmp.resolve("jobs/sft/final"),
                "--set", "model.reward=" + tmp.resolve("jobs/reward/final"), "--set", "ppo.exchange=sharded");
        // local mode updated both models on the driver; here their AdamW shards lived on the executors
        assertSameModel(ref.resolve("ppo"), out);
    }

    @Test
    @Order(5)
    void aKilledDriverResubmittedWithResumeEqualsLocalMode() throws Exception {
        Path out = tmp.resolve("jobs/sft-resumed");
        Path log = tmp.resolve("sft-driver-kill.log");
        // the sharded exchange: its optimizer shards go to the checkpoint one by one and are cut
        // from it again into the executors' shards on resume
        String[] args = {"sft", "--config", ref.resolve("conf/sft.properties").toString(), "--set", "output.dir=" + out,
            "--set", "train.exchange=sharded", "--master", master};
        Process p = launcher.start(log, args);
        // killed right after the first checkpoint (checkpoint.every = 10) is complete: the job
        // logs it once its marker is written
        long deadline = System.nanoTime() + Duration.ofSeconds(300).toNanos();
        while (!Files.readString(log).contains("saved file:" + out.resolve("checkpoint-10")) && p.isAlive()
                && System.nanoTime() < deadline) {
            Thread.sleep(20);
        }
        assertTrue(p.isAlive(), "the driver was to be killed mid-run but it ended:\n" + Launcher.tail(Files.readString(log)));
        p.descendants().forEach(ProcessHandle::destroyForcibly);
        p.destroyForcibly();
        p.waitFor();
        assertFalse(Files.exists(out.resolve("final")), "killed before the end");

        List<String> resume = new ArrayList<>(List.of(args));
        resume.add("--resume");
        Launcher.Result r = launcher.rlhf(600, resume.toArray(String[]::new));
        assertTrue(r.ok(), "sft --resume on the cluster:\n" + Launcher.tail(r.stderr()));
        assertSameModel(ref.resolve("sft"), out);
    }

    // ------------------------------------------------------------------ the cluster's processes

    /**
     * Runs {@code bin/rlhf command args} on the cluster with the driver's UI on, kills an executor
     * JVM while a job whose description matches {@code job} runs, and checks that the run ended
     * well and the driver saw the loss: a task lost and rerun, or cached blocks that Spark
     * recomputes from their lineage.
     */
    static void runKillingAnExecutor(Predicate<String> job, String command, String... args) throws Exception {
        Path log = tmp.resolve(command + "-executor-kill.log");
        int ui = freePort();
        List<String> cmd = new ArrayList<>(List.of(command));
        cmd.addAll(List.of(args));
        cmd.addAll(List.of("--set", "spark.ui.enabled=true", "--set", "spark.ui.port=" + ui, "--master", master));
        Process p = launcher.start(log, cmd.toArray(String[]::new));
        String killedDuring = killAnExecutorDuring(p, log, ui, job);
        System.out.println(command + ": killed an executor during " + killedDuring);
        assertEquals(0, p.waitFor(), command + " with a killed executor:\n" + Launcher.tail(Files.readString(log)));
        String driverLog = Files.readString(log);
        assertTrue(driverLog.contains("Lost executor") && (driverLog.contains("ExecutorLostFailure")
                || driverLog.contains("No more replicas")), "the driver saw the executor go and recovered what it"
                + " held (killed during '" + killedDuring + "'):\n" + Launcher.tail(driverLog));
    }

    /**
     * Polls the driver's REST API (the Spark UI, enabled for this run) until a running job's
     * description matches, then kills one executor JVM of this cluster with SIGKILL; returns that
     * description.
     */
    static String killAnExecutorDuring(Process driver, Path log, int uiPort, Predicate<String> job) throws Exception {
        HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();
        String api = "http://127.0.0.1:" + uiPort + "/api/v1/applications";
        long deadline = System.nanoTime() + Duration.ofSeconds(300).toNanos();
        while (driver.isAlive() && System.nanoTime() < deadline) {
            try {
                for (JsonNode app : get(http, api)) {
                    String base = api + "/" + app.path("id").asText();
                    for (JsonNode j : get(http, base + "/jobs?status=running")) {
                        String description = j.path("description").asText("");
                        if (!job.test(description)) {
                            continue;
                        }
                        // the executor running one of the job's tasks right now, else any executor
                        String executorId = null;
                        for (JsonNode stage : j.path("stageIds")) {
                            for (JsonNode t : get(http, base + "/stages/" + stage.asInt() + "/0/taskList?status=RUNNING")) {
                                executorId = t.path("executorId").asText();
                            }
                        }
                        ProcessHandle victim = executor(executorId);
                        assertTrue(victim.destroyForcibly(), "SIGKILL to executor " + victim.pid());
                        return description + (executorId != null ? " (executor " + executorId + " running a task)" : "");
                    }
                }
            } catch (IOException e) {
                // the UI is not up yet, or the stage ended between two requests
            }
            Thread.sleep(5);
        }
        throw new AssertionError("no running job matched before the driver ended:\n"
                + Launcher.tail(Files.readString(log)));
    }

    /** The executor JVM with Spark executor id {@code id} (any of the two when null). */
    static ProcessHandle executor(String id) throws IOException {
        List<ProcessHandle> executors = executors();
        assertEquals(2, executors.size(), "two executor JVMs are running: " + executors);
        for (ProcessHandle e : executors) {
            if (id != null && e.info().commandLine().orElse("").contains("--executor-id " + id + " ")) {
                return e;
            }
        }
        return executors.get(0);
    }

    static JsonNode get(HttpClient http, String url) throws IOException, InterruptedException {
        HttpResponse<String> r = http.send(HttpRequest.newBuilder(URI.create(url)).timeout(Duration.ofSeconds(2)).build(),
                HttpResponse.BodyHandlers.ofString());
        if (r.statusCode() != 200) {
            throw new IOException(url + ": HTTP " + r.statusCode());
        }
        return JSON.readTree(r.body());
    }

    /** The executor JVMs of this cluster: children of its Worker JVMs (pids in worker-*.pid). */
    static List<ProcessHandle> executors() throws IOException {
        List<ProcessHandle> out = new ArrayList<>();
        try (Stream<Path> files = Files.list(clusterDir)) {
            for (Path pidFile : files.filter(f -> f.getFileName().toString().matches("worker-\\d+\\.pid")).sorted().toList()) {
                long pid = Long.parseLong(Files.readString(pidFile).trim());
                Optional<ProcessHandle> worker = ProcessHandle.of(pid);
                worker.ifPresent(w -> w.descendants()
                        .filter(c -> c.info().commandLine().orElse("").contains("CoarseGrainedExecutorBackend"))
                        .forEach(out::add));
            }
        }
        return out;
    }

    /** The Workers whose work dir holds an executor's stderr (D/worker-I/app-ID/EXECUTOR/stderr). */
    static List<String> workersThatRanAnExecutor() throws IOException {
        try (Stream<Path> s = Files.walk(clusterDir, 4)) {
            return s.filter(f -> f.getFileName().toString().equals("stderr"))
                    .map(f -> clusterDir.relativize(f).getName(0).toString())
                    .distinct().sorted().toList();
        }
    }

    /** The Workers with an executor whose log has a line containing {@code text}. */
    static List<String> workersWhoseExecutorLogSays(String text) throws IOException {
        try (Stream<Path> s = Files.walk(clusterDir, 4)) {
            return s.filter(f -> f.getFileName().toString().equals("stderr") && logSays(f, text))
                    .map(f -> clusterDir.relativize(f).getName(0).toString())
                    .distinct().sorted().toList();
        }
    }

    private static boolean logSays(Path log, String text) {
        try {
            return Files.readString(log).contains(text);
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0)) {
            return s.getLocalPort();
        }
    }

    static int stepOf(String description) {
        // "sft step 12/30"
        String s = description.substring("sft step ".length());
        return Integer.parseInt(s.substring(0, s.indexOf('/')));
    }

    // ------------------------------------------------------------------ models and data

    static void assertSameModel(Path expectedStage, Path actualStage) throws Exception {
        Path expected = expectedStage.resolve("final/model.safetensors");
        Path actual = actualStage.resolve("final/model.safetensors");
        assertTrue(Files.isRegularFile(actual), actual + " was written");
        assertEquals(sha256(expected), sha256(actual), actual + " is bit-identical to " + expected);
    }

    static String sha256(Path f) throws Exception {
        return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(Files.readAllBytes(f)));
    }

    /**
     * Additions written out ("add 3 and 4" -> "7"): demonstrations, preferences (the right sum over
     * one off by one), and prompts with their answers. Made here, seeded, independent of the
     * project's demo.
     */
    static void writeData(Path dir) throws IOException {
        Random rnd = new Random(7);
        StringBuilder sft = new StringBuilder();
        StringBuilder prefs = new StringBuilder();
        StringBuilder prompts = new StringBuilder();
        for (int i = 0; i < 200; i++) {
            int a = rnd.nextInt(10);
            int b = rnd.nextInt(10);
            String prompt = "add " + a + " and " + b;
            String right = Integer.toString(a + b);
            String wrong = Integer.toString(a + b + (rnd.nextBoolean() ? 1 : -1));
            sft.append(row("prompt", prompt, "response", right));
            prefs.append(row("prompt", prompt, "chosen", right, "rejected", wrong));
            prompts.append(row("prompt", prompt, "answer", right));
        }
        Files.writeString(dir.resolve("sft.jsonl"), sft, StandardCharsets.UTF_8);
        Files.writeString(dir.resolve("prefs.jsonl"), prefs, StandardCharsets.UTF_8);
        Files.writeString(dir.resolve("prompts.jsonl"), prompts, StandardCharsets.UTF_8);
    }

    static String row(String... kv) {
        com.fasterxml.jackson.databind.node.ObjectNode o = JSON.createObjectNode();
        for (int i = 0; i < kv.length; i += 2) {
            o.put(kv[i], kv[i + 1]);
        }
        return o + "\n";
    }

    /** A small chain: a 1-layer model and a BPE trained on the data; two partitions in every stage. */
    static String pipelineConfig(Path dir) {
        return String.join("\n",
                "sft.data.train = " + dir.resolve("sft.jsonl"),
                "reward.data.train = " + dir.resolve("prefs.jsonl"),
                "ppo.data.prompts = " + dir.resolve("prompts.jsonl"),
                "stages = sft,reward,dpo,best-of-n,ppo,grpo,rloo",
                "data.template = plain",
                "data.context_length = 32",
                "data.partitions = 2",
                "model.n_layer = 1",
                "model.n_head = 2",
                "model.n_embd = 32",
                "tokenizer.vocab_size = 300",
                "sft.train.steps = " + SFT_STEPS,
                "sft.train.global_batch = 8",
                "sft.train.micro_batch = 4",
                "sft.eval.every = 0",
                "sft.checkpoint.every = 10",
                "sft.optim.lr = 1e-3",
                "reward.train.steps = 6",
                "reward.train.global_batch = 8",
                "reward.train.micro_batch = 4",
                "reward.eval.every = 0",
                "reward.checkpoint.every = 0",
                "reward.optim.lr = 1e-3",
                // best-of-n scores with the reward model plus built-in rules, one reading each prompt's answer
                "best-of-n.data.columns.reference = answer",
                "best-of-n.reward.kind = sum",
                "best-of-n.reward.sum = model:1, number:0.5, length:0.1",
                "best-of-n.reward.length_target = 4",
                "dpo.train.steps = 6",
                "dpo.train.global_batch = 8",
                "dpo.train.micro_batch = 4",
                "dpo.checkpoint.every = 0",
                "dpo.optim.lr = 1e-3",
                "ppo.ppo.iterations = " + PPO_ITERATIONS,
                "ppo.ppo.rollouts = 64",
                "ppo.ppo.minibatches = 2",
                "ppo.ppo.epochs = 2",
                "ppo.ppo.micro_batch = 4",
                "ppo.gen.batch = 8",
                "ppo.gen.max_new_tokens = 8",
                "ppo.data.max_prompt_tokens = 16",
                "ppo.checkpoint.every = 0",
                "ppo.samples.every = 0",
                "ppo.optim.policy_lr = 1e-4",
                // GRPO against the exact rule reading each prompt's answer, RLOO against the reward
                // model; both sample PPO's prompts with its generation keys
                "grpo.reward.kind = rule",
                "grpo.reward.rule = exact",
                "grpo.data.columns.reference = answer",
                "grpo.grpo.iterations = 2",
                "grpo.grpo.rollouts = 32",
                "grpo.grpo.minibatches = 2",
                "grpo.grpo.epochs = 1",
                "grpo.grpo.micro_batch = 4",
                "grpo.checkpoint.every = 0",
                "grpo.samples.every = 0",
                "grpo.optim.policy_lr = 1e-4",
                "rloo.rloo.iterations = 2",
                "rloo.rloo.rollouts = 32",
                "rloo.rloo.minibatches = 2",
                "rloo.rloo.epochs = 1",
                "rloo.rloo.micro_batch = 4",
                "rloo.checkpoint.every = 0",
                "rloo.samples.every = 0",
                "rloo.optim.policy_lr = 1e-4",
                "") + "\n";
    }
}
