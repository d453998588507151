package dev.tether.testkit.junit

import dev.tether.testkit.tunnel.FakeTunnelProxy
import dev.tether.testkit.tunnel.FakeTunnelProxyConfig
import dev.tether.testkit.tunnel.FakeTunnelProxyFaults
import java.util.function.Supplier

/**
 * Runs a [FakeTunnelProxy] around JUnit Jupiter tests and injects it (and its [FakeTunnelProxyFaults]) into
 * parameters: the
 * [FakeServerExtension] of this fake. Per test method, with the defaults:
 * ```java
 * @ExtendWith(FakeTunnelProxyExtension.class)
 * class MyTest {
 *     @Test
 *     void works(FakeTunnelProxy server, FakeTunnelProxyFaults faults) { ... server.getUrl() ... }
 * }
 * ```
 * One server for the whole class, or a config of your own:
 * ```java
 * @RegisterExtension
 * static FakeTunnelProxyExtension shared = FakeTunnelProxyExtension.perClass();
 *
 * @RegisterExtension
 * FakeTunnelProxyExtension tuned =
 *     FakeTunnelProxyExtension.perMethod(FakeTunnelProxyConfig.builder().flavour(TunnelFlavour.WEBSOCKTUNNEL).build());
 * ```
 * Code without a parameter reaches the running server through [server], [url] and [faults].
 */
public class FakeTunnelProxyExtension private constructor(
    lifecycle: ServerLifecycle,
    /** The config every tunnel proxy of this extension starts with. */
    public val config: FakeTunnelProxyConfig,
) : FakeServerExtension<FakeTunnelProxy, FakeTunnelProxyFaults>(
    FakeTunnelProxy::class.java,
    FakeTunnelProxyFaults::class.java,
    lifecycle,
    Supplier { FakeTunnelProxy.start(config) },
) {
    /**
     * What `@ExtendWith(FakeTunnelProxyExtension.class)` uses: a webhooktunnel proxy with the test secrets, per test
     * method.
     */
    public constructor() : this(ServerLifecycle.PER_METHOD, FakeTunnelProxyConfig.DEFAULT)

    /** Factories for each lifecycle. */
    public companion object {
        /** A webhooktunnel proxy with the test secrets for every test method (the same as `@ExtendWith`). */
        @JvmStatic
        public fun perMethod(): FakeTunnelProxyExtension = FakeTunnelProxyExtension()

        /** A server started with [config] for every test method. */
        @JvmStatic
        public fun perMethod(config: FakeTunnelProxyConfig): FakeTunnelProxyExtension =
            FakeTunnelProxyExtension(ServerLifecycle.PER_METHOD, config)

        /** One server with the defaults for the whole test class; register it in a `static` field. */
        @JvmStatic
        public fun perClass(): FakeTunnelProxyExtension =
            FakeTunnelProxyExtension(ServerLifecycle.PER_CLASS, FakeTunnelProxyConfig.DEFAULT)

        /** One server started with [config] for the whole test class; register it in a `static` field. */
        @JvmStatic
        public fun perClass(config: FakeTunnelProxyConfig): FakeTunnelProxyExtension =
            FakeTunnelProxyExtension(ServerLifecycle.PER_CLASS, config)
    }
}
