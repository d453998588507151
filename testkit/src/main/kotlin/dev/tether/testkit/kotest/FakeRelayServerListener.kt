package dev.tether.testkit.kotest

import dev.tether.testkit.relay.FakeRelayServer
import dev.tether.testkit.relay.FakeRelayServerConfig

/**
 * Runs a [FakeRelayServer] for a whole spec: the [FakeServerListener] of this fake. `install` returns the running
 * relay;
 * its block adjusts the [FakeRelayServerConfig.Builder] (after [defaults]):
 * ```
 * val server = install(FakeRelayServerListener()) { healthCheckInterval(Duration.ofMillis(200)) }
 * ```
 * For a fresh relay in every test use [perTest].
 *
 * @param defaults settings applied before the `install` block.
 */
public class FakeRelayServerListener(
    defaults: FakeRelayServerConfig.Builder.() -> Unit = {},
) : FakeServerListener<FakeRelayServerConfig.Builder, FakeRelayServer>(
    { FakeRelayServerConfig.builder().apply(defaults) },
    { FakeRelayServer.start(it.build()) },
) {
    /** The per-test face. */
    public companion object {
        /**
         * A fresh relay for every test; `install` returns a handle that also serves as a property delegate:
         * ```
         * val server by install(FakeRelayServerListener.perTest())
         * ```
         */
        public fun perTest(
            defaults: FakeRelayServerConfig.Builder.() -> Unit = {},
        ): PerTestFakeServerListener<FakeRelayServerConfig.Builder, FakeRelayServer> = PerTestFakeServerListener(
            { FakeRelayServerConfig.builder().apply(defaults) },
            { FakeRelayServer.start(it.build()) },
        )
    }
}
