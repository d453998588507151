package dev.tether.benchmarks;

import java.io.BufferedInputStream;
import java.io.DataInputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.util.Locale;
import java.util.concurrent.atomic.AtomicLong;

/**
 * One-way throughput of plain blocking TCP on 127.0.0.1 under a credit window, with no WebSocket and no coroutines:
 * how fast this machine moves bytes when every credit costs only a socket round trip between two parked threads.
 * It sets the wsmux figures of {@code docs/performance.md} apart from the machine: the same window over a leaner
 * transport than Ktor's pipeline.
 *
 * <p>The sender writes {@code chunk}-byte blocks while it holds credit; the receiver reads each block whole and
 * answers with a 4-byte little-endian credit of its size, which a reader thread on the sender adds back. A window
 * of 0 streams without credit. Three seconds of warm-up, then one measured stretch.
 *
 * <p>{@code java -cp benchmarks/target/benchmarks.jar dev.tether.benchmarks.TcpWindowProbe WINDOW CHUNK SECONDS}
 */
public final class TcpWindowProbe {
    private TcpWindowProbe() {}

    public static void main(String[] args) throws Exception {
        if (args.length != 3) {
            System.err.println(
                    "usage: TcpWindowProbe WINDOW CHUNK SECONDS   (bytes, bytes, seconds; WINDOW 0 streams)");
            System.exit(2);
        }
        int window = Integer.parseInt(args[0]);
        int chunk = Integer.parseInt(args[1]);
        double seconds = Double.parseDouble(args[2]);
        if (chunk <= 0 || window < 0 || (window > 0 && window < chunk) || seconds <= 0) {
            System.err.println("need CHUNK > 0, WINDOW 0 or >= CHUNK, SECONDS > 0");
            System.exit(2);
        }
        double mbPerSecond = run(window, chunk, 3.0, seconds) / 1e6;
        System.out.printf(Locale.US, "window %d B, chunk %d B: %.1f MB/s%n", window, chunk, mbPerSecond);
    }

    /** Bytes per second received over the measured stretch. */
    static double run(int window, int chunk, double warmupSeconds, double seconds) throws Exception {
        AtomicLong received = new AtomicLong();
        try (ServerSocket server = new ServerSocket(0, 1, InetAddress.getLoopbackAddress());
             Socket client = new Socket(InetAddress.getLoopbackAddress(), server.getLocalPort())) {
            client.setTcpNoDelay(true);
            Thread receiver = daemon("probe-receiver", () -> receive(server, window, chunk, received));
            Credit credit = new Credit(window);
            if (window > 0) {
                DataInputStream in = new DataInputStream(client.getInputStream());
                daemon("probe-credit", () -> {
                    byte[] c = new byte[4];
                    try {
                        while (true) {
                            in.readFully(c);
                            credit.add((c[0] & 0xFF) | (c[1] & 0xFF) << 8 | (c[2] & 0xFF) << 16 | (c[3] & 0xFF) << 24);
                        }
                    } catch (IOException end) {
                        // the probe is over
                    }
                });
            }
            OutputStream out = client.getOutputStream();
            byte[] block = new byte[chunk];
            send(out, block, credit, warmupSeconds);
            long before = received.get();
            long start = System.nanoTime();
            send(out, block, credit, seconds);
            double rate = (received.get() - before) / ((System.nanoTime() - start) / 1e9);
            receiver.interrupt();
            return rate;
        }
    }

    private static void send(OutputStream out, byte[] block, Credit credit, double seconds) throws Exception {
        long end = System.nanoTime() + (long) (seconds * 1e9);
        while (System.nanoTime() < end) {
            credit.take(block.length);
            out.write(block);
        }
    }

    private static void receive(ServerSocket server, int window, int chunk, AtomicLong received) {
        try (Socket s = server.accept()) {
            s.setTcpNoDelay(true);
            DataInputStream in = new DataInputStream(new BufferedInputStream(s.getInputStream(), 1 << 16));
            OutputStream out = s.getOutputStream();
            byte[] block = new byte[chunk];
            byte[] c = {(byte) chunk, (byte) (chunk >>> 8), (byte) (chunk >>> 16), (byte) (chunk >>> 24)};
            while (true) {
                in.readFully(block);
                received.addAndGet(chunk);
                if (window > 0) out.write(c);
            }
        } catch (IOException end) {
            // the sender closed: the probe is over
        }
    }

    private static Thread daemon(String name, Runnable body) {
        Thread t = new Thread(body, name);
        t.setDaemon(true);
        t.start();
        return t;
    }

    /** Bytes the sender may still send; unbounded when the window is 0. */
    private static final class Credit {
        private final boolean bounded;
        private long bytes;

        Credit(int window) {
            bounded = window > 0;
            bytes = window;
        }

        /** Takes n bytes of credit; a receiver silent for 10 s ends the probe instead of hanging it. */
        synchronized void take(int n) throws InterruptedException {
            if (!bounded) return;
            long giveUp = System.nanoTime() + 10_000_000_000L;
            while (bytes < n) {
                long left = (giveUp - System.nanoTime()) / 1_000_000L;
                if (left <= 0) throw new IllegalStateException("no credit for 10 s: the receiver stopped");
                wait(left);
            }
            bytes -= n;
        }

        synchronized void add(int n) {
            bytes += n;
            notifyAll();
        }
    }
}
