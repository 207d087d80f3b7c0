package rlhf.config;

import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The command line shared by every job and command.
 *
 * <p>Common options: {@code --config FILE}, {@code --set key=value} (repeatable),
 * {@code --resume}, {@code --master URL}, {@code --help}. Each command declares its own named
 * options ({@code --input}, {@code --output}, {@code --model}, {@code --tokenizer}, ...), each
 * required or optional with a help text, and flags. {@code --name value} and
 * {@code --name=value} are both accepted. Anything else is an error naming it.
 *
 * <pre>
 * Args.Spec spec = Args.command("sft", "supervised fine-tuning")
 *         .required("input", "dataset: file, directory or table:NAME")
 *         .optional("model", "checkpoint to start from");
 * Args args = spec.parse(argv);
 * if (args.help()) { System.out.print(spec.usage(JobConfig.defaults("sft"))); return; }
 * JobConfig cfg = JobConfig.load("sft", args);
 * </pre>
 */
public final class Args {

    private final Map<String, String> options;
    private final List<String> flags;
    private final String configFile;
    private final List<String> sets;
    private final String master;
    private final boolean resume;
    private final boolean help;

    private Args(Map<String, String> options, List<String> flags, String configFile, List<String> sets,
                 String master, boolean resume, boolean help) {
        this.options = options;
        this.flags = flags;
        this.configFile = configFile;
        this.sets = sets;
        this.master = master;
        this.resume = resume;
        this.help = help;
    }

    /** Starts the declaration of a command's options. */
    public static Spec command(String name, String description) {
        return new Spec(name, description);
    }

    /** The value of a declared option, or null when an optional one was not given. */
    public String get(String name) {
        return options.get(name);
    }

    /** The value of a declared option, or {@code fallback} when it was not given. */
    public String get(String name, String fallback) {
        return options.getOrDefault(name, fallback);
    }

    /** True when the declared flag was given. */
    public boolean flag(String name) {
        return flags.contains(name);
    }

    /** {@code --config FILE}, or null. */
    public String configFile() {
        return configFile;
    }

    /** Every {@code --set key=value}, in order. */
    public List<String> sets() {
        return sets;
    }

    /** {@code --master URL}, or null (then spark-submit's master, or local[*]). */
    public String master() {
        return master;
    }

    public boolean resume() {
        return resume;
    }

    /** When true, the caller prints {@link Spec#usage} and exits; required options were not checked. */
    public boolean help() {
        return help;
    }

    /** A command's declared options. */
    public static final class Spec {
        private record Opt(String name, String help, boolean required, boolean flag) {}

        private final String name;
        private final String description;
        private final LinkedHashMap<String, Opt> opts = new LinkedHashMap<>();

        private Spec(String name, String description) {
            this.name = name;
            this.description = description;
        }

        public Spec required(String option, String help) {
            return add(new Opt(option, help, true, false));
        }

        public Spec optional(String option, String help) {
            return add(new Opt(option, help, false, false));
        }

        /** An option without a value, e.g. {@code --overwrite}. */
        public Spec flag(String option, String help) {
            return add(new Opt(option, help, false, true));
        }

        private Spec add(Opt o) {
            if (COMMON.contains(o.name) || opts.containsKey(o.name)) {
                throw new IllegalArgumentException("option --" + o.name + " declared twice");
            }
            opts.put(o.name, o);
            return this;
        }

        private static final List<String> COMMON = List.of("config", "set", "resume", "master", "help", "debug");

        /** Parses {@code argv}; errors name the offending argument and suggest --help. */
        public Args parse(String... argv) {
            Map<String, String> values = new LinkedHashMap<>();
            List<String> flags = new ArrayList<>();
            List<String> sets = new ArrayList<>();
            String config = null;
            String master = null;
            boolean resume = false;
            boolean help = false;
            for (int i = 0; i < argv.length; i++) {
                String a = argv[i];
                if (!a.startsWith("--") || a.length() == 2) {
                    throw error("unexpected argument '" + a + "' (options start with --)");
                }
                String optName = a.substring(2);
                String inline = null;
                int eq = optName.indexOf('=');
                if (eq >= 0) {
                    inline = optName.substring(eq + 1);
                    optName = optName.substring(0, eq);
                }
                switch (optName) {
                    case "help" -> help = true;
                    case "debug" -> {
                        // read by the main's error path (rlhf.cli.Cli), from argv: it must work
                        // even when parsing fails
                    }
                    case "resume" -> resume = true;
                    case "config", "master", "set" -> {
                        String v = inline;
                        if (v == null) {
                            if (i + 1 >= argv.length) {
                                throw error("option --" + optName + " needs a value");
                            }
                            v = argv[++i];
                        }
                        if (optName.equals("set")) {
                            if (v.indexOf('=') <= 0) {
                                throw error("--set expects key=value, found '" + v + "'");
                            }
                            sets.add(v);
                        } else if (optName.equals("config")) {
                            if (config != null) {
                                throw error("option --config given twice ('" + config + "' and '" + v + "')");
                            }
                            config = v;
                        } else {
                            if (master != null) {
                                throw error("option --master given twice");
                            }
                            master = v;
                        }
                    }
                    default -> {
                        Opt o = opts.get(optName);
                        if (o == null) {
                            throw error("unknown option --" + optName);
                        }
                        if (o.flag) {
                            if (inline != null) {
                                throw error("option --" + optName + " takes no value");
                            }
                            flags.add(optName);
                        } else {
                            String v = inline;
                            if (v == null) {
                                if (i + 1 >= argv.length || argv[i + 1].startsWith("--")) {
                                    throw error("option --" + optName + " needs a value");
                                }
                                v = argv[++i];
                            }
                            if (values.containsKey(optName)) {
                                throw error("option --" + optName + " given twice");
                            }
                            values.put(optName, v);
                        }
                    }
                }
            }
            if (!help) {
                for (Opt o : opts.values()) {
                    if (o.required && !values.containsKey(o.name)) {
                        throw error("missing required option --" + o.name + " (" + o.help + ")");
                    }
                }
            }
            return new Args(Collections.unmodifiableMap(values), List.copyOf(flags), config,
                    List.copyOf(sets), master, resume, help);
        }

        /** A usage error; the error path (rlhf.cli.Cli) prefixes "rlhf COMMAND: ". */
        private ConfigException error(String message) {
            return new ConfigException(message + "; run with --help for usage");
        }

        /** Usage: the command's options, the common ones, and (if given) every config key with default and meaning. */
        public String usage(JobConfig defaults) {
            StringBuilder sb = new StringBuilder();
            sb.append("usage: ").append(name);
            for (Opt o : opts.values()) {
                String s = o.flag ? "--" + o.name : "--" + o.name + " " + o.name.toUpperCase(java.util.Locale.ROOT);
                sb.append(' ').append(o.required ? s : "[" + s + "]");
            }
            sb.append(" [--config FILE] [--set key=value]... [--resume] [--master URL] [--debug]\n");
            sb.append(description).append("\n\noptions:\n");
            for (Opt o : opts.values()) {
                line(sb, "--" + o.name + (o.flag ? "" : " VALUE"), (o.required ? "(required) " : "") + o.help);
            }
            line(sb, "--config FILE", "properties file overriding the defaults (local or any Hadoop path)");
            line(sb, "--set key=value", "override one config key; repeatable; wins over --config");
            line(sb, "--resume", "continue from the last checkpoint in the output directory");
            line(sb, "--master URL", "Spark master; default: spark-submit's, else local[*]");
            line(sb, "--debug", "print the stack trace of any failure, not only its one-line message");
            line(sb, "--help", "this text");
            if (defaults != null) {
                sb.append('\n').append(defaults.usage());
            }
            return sb.toString();
        }

        private static void line(StringBuilder sb, String left, String right) {
            sb.append("  ").append(String.format("%-20s", left)).append(' ').append(right).append('\n');
        }
    }
}
