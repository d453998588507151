package dev.tether.testkit.junit

import dev.tether.testkit.FakeBroker
import dev.tether.testkit.FakeBrokerConfig
import dev.tether.testkit.FakeBrokerFaults
import java.util.function.Supplier

/**
 * Runs a [FakeBroker] around JUnit Jupiter tests and injects it (and its [FakeBrokerFaults]) into parameters: the
 * [FakeServerExtension] of this fake. Per test method, with the defaults:
 * ```java
 * @ExtendWith(FakeBrokerExtension.class)
 * class MyTest {
 *     @Test
 *     void works(FakeBroker server, FakeBrokerFaults faults) { ... server.getUrl() ... }
 * }
 * ```
 * One server for the whole class, or a config of your own:
 * ```java
 * @RegisterExtension
 * static FakeBrokerExtension shared = FakeBrokerExtension.perClass();
 *
 * @RegisterExtension
 * FakeBrokerExtension tuned = FakeBrokerExtension.perMethod(FakeBrokerConfig.builder().maxConnections(4, 2).build());
 * ```
 * Code without a parameter reaches the running server through [server], [url] and [faults].
 */
public class FakeBrokerExtension private constructor(
    lifecycle: ServerLifecycle,
    /** The config every broker of this extension starts with. */
    public val config: FakeBrokerConfig,
) : FakeServerExtension<FakeBroker, FakeBrokerFaults>(
    FakeBroker::class.java,
    FakeBrokerFaults::class.java,
    lifecycle,
    Supplier { FakeBroker.start(config) },
) {
    /**
     * What `@ExtendWith(FakeBrokerExtension.class)` uses: a broker with the real broker's defaults, per test method.
     */
    public constructor() : this(ServerLifecycle.PER_METHOD, FakeBrokerConfig.DEFAULT)

    /** Factories for each lifecycle. */
    public companion object {
        /** A broker with the real broker's defaults for every test method (the same as `@ExtendWith`). */
        @JvmStatic
        public fun perMethod(): FakeBrokerExtension = FakeBrokerExtension()

        /** A server started with [config] for every test method. */
        @JvmStatic
        public fun perMethod(config: FakeBrokerConfig): FakeBrokerExtension =
            FakeBrokerExtension(ServerLifecycle.PER_METHOD, config)

        /** One server with the defaults for the whole test class; register it in a `static` field. */
        @JvmStatic
        public fun perClass(): FakeBrokerExtension =
            FakeBrokerExtension(ServerLifecycle.PER_CLASS, FakeBrokerConfig.DEFAULT)

        /** One server started with [config] for the whole test class; register it in a `static` field. */
        @JvmStatic
        public fun perClass(config: FakeBrokerConfig): FakeBrokerExtension =
            FakeBrokerExtension(ServerLifecycle.PER_CLASS, config)
    }
}
