package dev.tether.testkit.junit

import dev.tether.testkit.wamp.FakeWampRouter
import dev.tether.testkit.wamp.FakeWampRouterConfig
import dev.tether.testkit.wamp.FakeWampRouterFaults
import java.util.function.Supplier

/**
 * Runs a [FakeWampRouter] around JUnit Jupiter tests and injects it (and its [FakeWampRouterFaults]) into parameters:
 * the
 * [FakeServerExtension] of this fake. Per test method, with the defaults:
 * ```java
 * @ExtendWith(FakeWampRouterExtension.class)
 * class MyTest {
 *     @Test
 *     void works(FakeWampRouter server, FakeWampRouterFaults faults) { ... server.getUrl() ... }
 * }
 * ```
 * One server for the whole class, or a config of your own:
 * ```java
 * @RegisterExtension
 * static FakeWampRouterExtension shared = FakeWampRouterExtension.perClass();
 *
 * @RegisterExtension
 * FakeWampRouterExtension tuned = FakeWampRouterExtension.perMethod(FakeWampRouterConfig.builder().ticketUser("u",
 * "t").build());
 * ```
 * Code without a parameter reaches the running server through [server], [url] and [faults].
 */
public class FakeWampRouterExtension private constructor(
    lifecycle: ServerLifecycle,
    /** The config every WAMP router of this extension starts with. */
    public val config: FakeWampRouterConfig,
) : FakeServerExtension<FakeWampRouter, FakeWampRouterFaults>(
    FakeWampRouter::class.java,
    FakeWampRouterFaults::class.java,
    lifecycle,
    Supplier { FakeWampRouter.start(config) },
) {
    /**
     * What `@ExtendWith(FakeWampRouterExtension.class)` uses: a router with realm `realm1` open to anonymous sessions,
     * per test method.
     */
    public constructor() : this(ServerLifecycle.PER_METHOD, FakeWampRouterConfig.DEFAULT)

    /** Factories for each lifecycle. */
    public companion object {
        /**
         * A router with realm `realm1` open to anonymous sessions for every test method (the same as `@ExtendWith`).
         */
        @JvmStatic
        public fun perMethod(): FakeWampRouterExtension = FakeWampRouterExtension()

        /** A server started with [config] for every test method. */
        @JvmStatic
        public fun perMethod(config: FakeWampRouterConfig): FakeWampRouterExtension =
            FakeWampRouterExtension(ServerLifecycle.PER_METHOD, config)

        /** One server with the defaults for the whole test class; register it in a `static` field. */
        @JvmStatic
        public fun perClass(): FakeWampRouterExtension =
            FakeWampRouterExtension(ServerLifecycle.PER_CLASS, FakeWampRouterConfig.DEFAULT)

        /** One server started with [config] for the whole test class; register it in a `static` field. */
        @JvmStatic
        public fun perClass(config: FakeWampRouterConfig): FakeWampRouterExtension =
            FakeWampRouterExtension(ServerLifecycle.PER_CLASS, config)
    }
}
