package rlhf.spark;

import java.io.BufferedInputStream;
import java.io.BufferedOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.Serializable;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.util.HashMap;
import java.util.Iterator;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.IntFunction;

import org.apache.spark.SparkConf;
import org.apache.spark.SparkEnv;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Moves the driver exchange's large arrays between JVMs over plain TCP connections: the
 * parameters from the driver to each executor, and each partition's gradients from its executor
 * to the driver, as raw little-endian floats read straight into their destination arrays.
 *
 * <p>Why: on a 2-Worker standalone cluster a GPT-2 124M step spent 1-2 s per executor reading the
 * parameters' broadcast (torrent pieces, block manager, deserialization into a new 500 MB array)
 * and about 1.1 s per partition for the driver to take a gradient from its executor's block
 * manager, where a loopback socket moves 500 MB in about 0.15 s (bench/RESULTS.md). Spark still
 * schedules the tasks, carries their small results (statistics, and the address of the gradient)
 * and retries them; only the payload takes the direct path.
 *
 * <p>Each JVM that offers arrays runs one {@link Server} (started on first use, on the host its
 * block manager announces, an ephemeral port). An offer is found by a random 128-bit key that
 * only the tasks and the driver of the job learn, through Spark. A taker connects, names the key
 * and reads the arrays. A gradient offer is taken once and then freed; one that nobody takes
 * (its step failed) expires after {@link #UNTAKEN_EXPIRY_MS}. Parameters stay offered until the
 * driver withdraws them, and an executor keeps the last two versions of each model's parameters
 * in arrays it reuses ({@link #params}), so no step allocates a model-sized array.
 *
 * <p>On (the default) unless {@code spark.rlhf.transfer=spark}, or Spark's authentication or
 * network encryption is on, which these connections do not provide: then the exchange moves its
 * arrays through Spark's broadcast and block manager, as before. A firewall that lets Spark's own
 * ports through but not ephemeral ones between the driver and the executors needs
 * {@code spark.rlhf.transfer=spark} too.
 */
final class DirectTransfer {

    private static final Logger LOG = LoggerFactory.getLogger(DirectTransfer.class);

    /** The Spark setting that chooses the transfer: {@code direct} (default) or {@code spark}. */
    static final String SETTING = "spark.rlhf.transfer";
    /** A gradient offer nobody took (its step failed or was cancelled) is dropped after this long. */
    static final long UNTAKEN_EXPIRY_MS = 60 * 60 * 1000L;
    private static final int MAGIC = 0x524c4846;
    private static final byte FOUND = 1;
    private static final byte MISSING = 0;
    private static final int BLOCK_FLOATS = 1 << 18;
    private static final int CONNECT_TIMEOUT_MS = 30_000;
    /** A peer that stops sending for this long is taken as gone. */
    private static final int READ_TIMEOUT_MS = 300_000;

    private static Server server;
    /** This JVM's copies of offered parameters: stream → the last two versions. */
    private static final Map<String, Versions> PARAMS = new HashMap<>();

    private DirectTransfer() {
    }

    /** Where a taker finds an offer. */
    record Address(String host, int port, String key) implements Serializable {
        @Override
        public String toString() {
            return host + ":" + port;
        }
    }

    /**
     * Whether the exchange moves its arrays directly under {@code conf} (the driver's, or an
     * executor's copy of it): {@link #SETTING} is {@code direct} or unset, and neither
     * {@code spark.authenticate} nor {@code spark.network.crypto.enabled} is on.
     */
    static boolean enabled(SparkConf conf) {
        String mode = conf.get(SETTING, "direct").trim().toLowerCase(java.util.Locale.ROOT);
        if (!mode.equals("direct") && !mode.equals("spark")) {
            throw new IllegalArgumentException(SETTING + " must be 'direct' or 'spark', found '" + conf.get(SETTING) + "'");
        }
        return mode.equals("direct") && !conf.getBoolean("spark.authenticate", false)
                && !conf.getBoolean("spark.network.crypto.enabled", false);
    }

    /** Whether this JVM (driver or executor) should move the exchange's arrays directly. */
    static boolean enabled() {
        SparkEnv env = SparkEnv.get();
        return env != null && enabled(env.conf());
    }

    /** This JVM's server, started on first use. */
    static synchronized Server server() {
        if (server == null) {
            server = Server.start(SparkEnv.get().blockManager().blockManagerId().host());
        }
        return server;
    }

    /**
     * Version {@code version} of the parameters of {@code stream} (an exchange's model), offered
     * at {@code at}: this JVM's copy, fetched once per version. A JVM keeps the last two versions
     * of a stream in arrays it reuses: version v overwrites the copy of version v - 2, which no task
     * reads any more, since a step's tasks end before the driver offers the next version. A stream
     * of another exchange (the next stage of a pipeline) drops the copies of the others.
     */
    static float[] params(String exchange, int model, long version, int length, Address at) {
        Versions v;
        synchronized (PARAMS) {
            String stream = exchange + "/" + model;
            Iterator<String> it = PARAMS.keySet().iterator();
            while (it.hasNext()) {
                if (!it.next().startsWith(exchange + "/")) {
                    it.remove();
                }
            }
            v = PARAMS.computeIfAbsent(stream, k -> new Versions());
        }
        synchronized (v) {
            int slot = (int) (version & 1);
            if (v.versions[slot] == version && v.arrays[slot] != null) {
                return v.arrays[slot];
            }
            float[] into = v.arrays[slot] != null && v.arrays[slot].length == length ? v.arrays[slot] : new float[length];
            v.versions[slot] = -1;
            v.arrays[slot] = into;
            float[][] got;
            try {
                got = take(at, n -> {
                    if (n != length) {
                        throw new IllegalStateException("parameters of " + length + " floats expected, the driver offers " + n);
                    }
                    return into;
                }, "the parameters");
            } catch (IOException e) {
                throw new IllegalStateException("could not fetch the parameters from the driver at " + at + " ("
                        + e.getMessage() + "); if a firewall blocks ports between the executors and the driver, "
                        + "set " + SETTING + "=spark", e);
            }
            if (got == null) {
                // a task of a step that is over (the driver withdrew its parameters): nothing to compute
                throw new IllegalStateException("the driver at " + at + " no longer offers version " + version
                        + " of the parameters of model " + model + ": its step is over");
            }
            v.versions[slot] = version;
            return into;
        }
    }

    private static final class Versions {
        final long[] versions = {-1, -1};
        final float[][] arrays = new float[2][];
    }

    /**
     * Reads the arrays offered at {@code at} into arrays from {@code into} (given each length; null
     * entries of the offer stay null). Returns null if nothing is offered under the key any more
     * (taken, expired, or its JVM restarted).
     *
     * @throws IOException if the offer's JVM cannot be reached or the connection breaks
     */
    static float[][] take(Address at, IntFunction<float[]> into, String what) throws IOException {
        try (Socket s = new Socket()) {
            s.setReceiveBufferSize(1 << 22);
            s.connect(new InetSocketAddress(at.host(), at.port()), CONNECT_TIMEOUT_MS);
            s.setSoTimeout(READ_TIMEOUT_MS);
            DataOutputStream out = new DataOutputStream(new BufferedOutputStream(s.getOutputStream()));
            out.writeInt(MAGIC);
            out.writeUTF(at.key());
            out.flush();
            InputStream raw = new BufferedInputStream(s.getInputStream(), 1 << 16);
            DataInputStream in = new DataInputStream(raw);
            if (in.readByte() != FOUND) {
                return null;
            }
            int count = in.readInt();
            int[] lengths = new int[count];
            for (int i = 0; i < count; i++) {
                lengths[i] = in.readInt();
            }
            float[][] arrays = new float[count][];
            byte[] block = new byte[4 * BLOCK_FLOATS];
            for (int i = 0; i < count; i++) {
                if (lengths[i] >= 0) {
                    arrays[i] = into.apply(lengths[i]);
                    Floats.read(in, arrays[i], block);
                }
            }
            return arrays;
        } catch (IOException e) {
            throw new IOException(what + " from " + at + ": " + e.getMessage(), e);
        }
    }

    /** One JVM's offers, served to whoever names their key. */
    static final class Server {
        private final ServerSocket socket;
        private final String host;
        private final Map<String, Offer> offers = new ConcurrentHashMap<>();

        private record Offer(float[][] arrays, boolean once, Runnable onGone, long since) {
        }

        private Server(ServerSocket socket, String host) {
            this.socket = socket;
            this.host = host;
        }

        /** Listens on every interface, on an ephemeral port; announced under {@code host}. */
        static Server start(String host) {
            try {
                ServerSocket ss = new ServerSocket();
                ss.setReceiveBufferSize(1 << 22);
                ss.bind(new InetSocketAddress(0), 64);
                Server srv = new Server(ss, host);
                Thread t = new Thread(srv::acceptLoop, "direct-transfer accept " + ss.getLocalPort());
                t.setDaemon(true);
                t.start();
                LOG.info("direct transfer: serving on {}:{}", host, ss.getLocalPort());
                return srv;
            } catch (IOException e) {
                throw new IllegalStateException("could not open a port for the direct transfer (" + e.getMessage()
                        + "); set " + SETTING + "=spark to move the arrays through Spark", e);
            }
        }

        /**
         * Offers {@code arrays} (not copied: unchanged until gone; null entries allowed) under a new
         * key. {@code once}: dropped after the first taker has read it, or after
         * {@link #UNTAKEN_EXPIRY_MS}; then {@code onGone} runs. Otherwise until {@link #withdraw}.
         */
        Address offer(float[][] arrays, boolean once, Runnable onGone) {
            long now = System.currentTimeMillis();
            offers.entrySet().removeIf(e -> {
                Offer o = e.getValue();
                boolean expired = o.once && now - o.since > UNTAKEN_EXPIRY_MS;
                if (expired) {
                    gone(o);
                }
                return expired;
            });
            String key = UUID.randomUUID().toString();
            offers.put(key, new Offer(arrays, once, onGone, now));
            return new Address(host, socket.getLocalPort(), key);
        }

        /** Stops offering what {@code at} names (its onGone runs); nothing if already gone. */
        void withdraw(Address at) {
            Offer o = offers.remove(at.key());
            if (o != null) {
                gone(o);
            }
        }

        /** Offers still held (tests). */
        int held() {
            return offers.size();
        }

        private static void gone(Offer o) {
            if (o.onGone != null) {
                o.onGone.run();
            }
        }

        private void acceptLoop() {
            while (!socket.isClosed()) {
                try {
                    Socket s = socket.accept();
                    Thread t = new Thread(() -> serve(s), "direct-transfer send");
                    t.setDaemon(true);
                    t.start();
                } catch (IOException e) {
                    if (!socket.isClosed()) {
                        LOG.warn("direct transfer: accept failed: {}", e.toString());
                    }
                }
            }
        }

        private void serve(Socket s) {
            Offer o = null;
            try (s) {
                s.setSoTimeout(READ_TIMEOUT_MS);
                s.setSendBufferSize(1 << 22);
                DataInputStream in = new DataInputStream(new BufferedInputStream(s.getInputStream()));
                if (in.readInt() != MAGIC) {
                    return;                     // not one of ours: say nothing
                }
                String key = in.readUTF();
                o = offers.get(key);
                if (o != null && o.once && !offers.remove(key, o)) {
                    o = null;                   // another taker won it
                }
                OutputStream raw = new BufferedOutputStream(s.getOutputStream(), 1 << 16);
                DataOutputStream out = new DataOutputStream(raw);
                if (o == null) {
                    out.writeByte(MISSING);
                    out.flush();
                    return;
                }
                out.writeByte(FOUND);
                out.writeInt(o.arrays.length);
                for (float[] a : o.arrays) {
                    out.writeInt(a == null ? -1 : a.length);
                }
                out.flush();
                OutputStream direct = s.getOutputStream();
                byte[] block = new byte[4 * BLOCK_FLOATS];
                for (float[] a : o.arrays) {
                    if (a != null) {
                        Floats.write(direct, a, block);
                    }
                }
                direct.flush();
            } catch (IOException e) {
                LOG.warn("direct transfer: sending to {} failed: {}", s.getRemoteSocketAddress(), e.toString());
            } finally {
                if (o != null && o.once) {
                    gone(o);
                }
            }
        }
    }
}
