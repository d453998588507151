package dev.tether.testkit.junit

import dev.tether.testkit.mux.FakeMuxServer
import dev.tether.testkit.mux.FakeMuxServerConfig
import dev.tether.testkit.mux.FakeMuxServerFaults
import java.util.function.Supplier

/**
 * Runs a [FakeMuxServer] around JUnit Jupiter tests and injects it (and its [FakeMuxServerFaults]) into parameters: the
 * [FakeServerExtension] of this fake. Per test method, with the defaults:
 * ```java
 * @ExtendWith(FakeMuxServerExtension.class)
 * class MyTest {
 *     @Test
 *     void works(FakeMuxServer server, FakeMuxServerFaults faults) { ... server.getUrl() ... }
 * }
 * ```
 * One server for the whole class, or a config of your own:
 * ```java
 * @RegisterExtension
 * static FakeMuxServerExtension shared = FakeMuxServerExtension.perClass();
 *
 * @RegisterExtension
 * FakeMuxServerExtension tuned =
 *     FakeMuxServerExtension.perMethod(FakeMuxServerConfig.builder().behaviour(StreamBehaviour.SINK).build());
 * ```
 * Code without a parameter reaches the running server through [server], [url] and [faults].
 */
public class FakeMuxServerExtension private constructor(
    lifecycle: ServerLifecycle,
    /** The config every wsmux server of this extension starts with. */
    public val config: FakeMuxServerConfig,
) : FakeServerExtension<FakeMuxServer, FakeMuxServerFaults>(
    FakeMuxServer::class.java,
    FakeMuxServerFaults::class.java,
    lifecycle,
    Supplier { FakeMuxServer.start(config) },
) {
    /**
     * What `@ExtendWith(FakeMuxServerExtension.class)` uses: a wsmux server with the proxy's defaults, per test method.
     */
    public constructor() : this(ServerLifecycle.PER_METHOD, FakeMuxServerConfig.DEFAULT)

    /** Factories for each lifecycle. */
    public companion object {
        /** A wsmux server with the proxy's defaults for every test method (the same as `@ExtendWith`). */
        @JvmStatic
        public fun perMethod(): FakeMuxServerExtension = FakeMuxServerExtension()

        /** A server started with [config] for every test method. */
        @JvmStatic
        public fun perMethod(config: FakeMuxServerConfig): FakeMuxServerExtension =
            FakeMuxServerExtension(ServerLifecycle.PER_METHOD, config)

        /** One server with the defaults for the whole test class; register it in a `static` field. */
        @JvmStatic
        public fun perClass(): FakeMuxServerExtension =
            FakeMuxServerExtension(ServerLifecycle.PER_CLASS, FakeMuxServerConfig.DEFAULT)

        /** One server started with [config] for the whole test class; register it in a `static` field. */
        @JvmStatic
        public fun perClass(config: FakeMuxServerConfig): FakeMuxServerExtension =
            FakeMuxServerExtension(ServerLifecycle.PER_CLASS, config)
    }
}
