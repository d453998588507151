package dev.tether.testkit.kotest

import dev.tether.testkit.mux.FakeMuxServer
import dev.tether.testkit.mux.FakeMuxServerConfig

/**
 * Runs a [FakeMuxServer] for a whole spec: the [FakeServerListener] of this fake. `install` returns the running wsmux
 * server;
 * its block adjusts the [FakeMuxServerConfig.Builder] (after [defaults]):
 * ```
 * val server = install(FakeMuxServerListener()) { behaviour(StreamBehaviour.SINK) }
 * ```
 * For a fresh wsmux server in every test use [perTest].
 *
 * @param defaults settings applied before the `install` block.
 */
public class FakeMuxServerListener(
    defaults: FakeMuxServerConfig.Builder.() -> Unit = {},
) : FakeServerListener<FakeMuxServerConfig.Builder, FakeMuxServer>(
    { FakeMuxServerConfig.builder().apply(defaults) },
    { FakeMuxServer.start(it.build()) },
) {
    /** The per-test face. */
    public companion object {
        /**
         * A fresh wsmux server for every test; `install` returns a handle that also serves as a property delegate:
         * ```
         * val server by install(FakeMuxServerListener.perTest())
         * ```
         */
        public fun perTest(
            defaults: FakeMuxServerConfig.Builder.() -> Unit = {},
        ): PerTestFakeServerListener<FakeMuxServerConfig.Builder, FakeMuxServer> = PerTestFakeServerListener(
            { FakeMuxServerConfig.builder().apply(defaults) },
            { FakeMuxServer.start(it.build()) },
        )
    }
}
