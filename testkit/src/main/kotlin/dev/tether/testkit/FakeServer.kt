package dev.tether.testkit

/**
 * What every testkit fake shares: a real server, started by its companion's `start` on 127.0.0.1 with a port the
 * system picks (unless its config names one), reachable at [url], broken on purpose through [faults], and stopped by
 * [close]. The JUnit 5 extension ([dev.tether.testkit.junit.FakeServerExtension]) and the Kotest listeners
 * ([dev.tether.testkit.kotest.FakeServerListener]) run any fake through this interface.
 *
 * @param F the fake's fault controls: the [Faults] every fake has, plus its own.
 */
public interface FakeServer<out F : Faults> : AutoCloseable {
    /** The address the fake listens on: `127.0.0.1`. */
    public val host: String

    /** The port the fake listens on (its main one, for a fake with several listeners). */
    public val port: Int

    /** The URL a client of this fake dials. */
    public val url: String

    /** Fault controls: they take effect at once and may be flipped from any thread. */
    public val faults: F

    /** Stops the server and drops every connection; a second call does nothing. */
    override fun close()

    /** Constants every fake shares. */
    public companion object {
        /** Where every fake listens: the loopback address, never a public interface. */
        public const val LOOPBACK: String = "127.0.0.1"
    }
}
