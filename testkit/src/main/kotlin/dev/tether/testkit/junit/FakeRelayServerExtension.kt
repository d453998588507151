package dev.tether.testkit.junit

import dev.tether.testkit.relay.FakeRelayServer
import dev.tether.testkit.relay.FakeRelayServerConfig
import dev.tether.testkit.relay.FakeRelayServerFaults
import java.util.function.Supplier

/**
 * Runs a [FakeRelayServer] around JUnit Jupiter tests and injects it (and its [FakeRelayServerFaults]) into
 * parameters: the
 * [FakeServerExtension] of this fake. Per test method, with the defaults:
 * ```java
 * @ExtendWith(FakeRelayServerExtension.class)
 * class MyTest {
 *     @Test
 *     void works(FakeRelayServer server, FakeRelayServerFaults faults) { ... server.getUrl() ... }
 * }
 * ```
 * One server for the whole class, or a config of your own:
 * ```java
 * @RegisterExtension
 * static FakeRelayServerExtension shared = FakeRelayServerExtension.perClass();
 *
 * @RegisterExtension
 * FakeRelayServerExtension tuned =
 *     FakeRelayServerExtension.perMethod(FakeRelayServerConfig.builder().secret("s").build());
 * ```
 * Code without a parameter reaches the running server through [server], [url] and [faults].
 */
public class FakeRelayServerExtension private constructor(
    lifecycle: ServerLifecycle,
    /** The config every relay of this extension starts with; null: the defaults, with a fresh random secret each. */
    public val config: FakeRelayServerConfig?,
) : FakeServerExtension<FakeRelayServer, FakeRelayServerFaults>(
    FakeRelayServer::class.java,
    FakeRelayServerFaults::class.java,
    lifecycle,
    Supplier { FakeRelayServer.start(config ?: FakeRelayServerConfig.builder().build()) },
) {
    /**
     * What `@ExtendWith(FakeRelayServerExtension.class)` uses: a relay with the real server's defaults and a random
     * secret, per test method.
     */
    public constructor() : this(ServerLifecycle.PER_METHOD, null)

    /** Factories for each lifecycle. */
    public companion object {
        /**
         * A relay with the real server's defaults and a random secret for every test method (the same as
         * `@ExtendWith`).
         */
        @JvmStatic
        public fun perMethod(): FakeRelayServerExtension = FakeRelayServerExtension()

        /** A server started with [config] for every test method. */
        @JvmStatic
        public fun perMethod(config: FakeRelayServerConfig): FakeRelayServerExtension =
            FakeRelayServerExtension(ServerLifecycle.PER_METHOD, config)

        /** One server with the defaults for the whole test class; register it in a `static` field. */
        @JvmStatic
        public fun perClass(): FakeRelayServerExtension = FakeRelayServerExtension(ServerLifecycle.PER_CLASS, null)

        /** One server started with [config] for the whole test class; register it in a `static` field. */
        @JvmStatic
        public fun perClass(config: FakeRelayServerConfig): FakeRelayServerExtension =
            FakeRelayServerExtension(ServerLifecycle.PER_CLASS, config)
    }
}
