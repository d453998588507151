package dev.tether.testkit.kotest

import dev.tether.testkit.tunnel.FakeTunnelProxy
import dev.tether.testkit.tunnel.FakeTunnelProxyConfig

/**
 * Runs a [FakeTunnelProxy] for a whole spec: the [FakeServerListener] of this fake. `install` returns the running
 * tunnel proxy;
 * its block adjusts the [FakeTunnelProxyConfig.Builder] (after [defaults]):
 * ```
 * val server = install(FakeTunnelProxyListener()) { secrets("a", "b") }
 * ```
 * For a fresh tunnel proxy in every test use [perTest].
 *
 * @param defaults settings applied before the `install` block.
 */
public class FakeTunnelProxyListener(
    defaults: FakeTunnelProxyConfig.Builder.() -> Unit = {},
) : FakeServerListener<FakeTunnelProxyConfig.Builder, FakeTunnelProxy>(
    { FakeTunnelProxyConfig.builder().apply(defaults) },
    { FakeTunnelProxy.start(it.build()) },
) {
    /** The per-test face. */
    public companion object {
        /**
         * A fresh tunnel proxy for every test; `install` returns a handle that also serves as a property delegate:
         * ```
         * val server by install(FakeTunnelProxyListener.perTest())
         * ```
         */
        public fun perTest(
            defaults: FakeTunnelProxyConfig.Builder.() -> Unit = {},
        ): PerTestFakeServerListener<FakeTunnelProxyConfig.Builder, FakeTunnelProxy> = PerTestFakeServerListener(
            { FakeTunnelProxyConfig.builder().apply(defaults) },
            { FakeTunnelProxy.start(it.build()) },
        )
    }
}
