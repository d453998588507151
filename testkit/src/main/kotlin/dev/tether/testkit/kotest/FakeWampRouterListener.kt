package dev.tether.testkit.kotest

import dev.tether.testkit.wamp.FakeWampRouter
import dev.tether.testkit.wamp.FakeWampRouterConfig

/**
 * Runs a [FakeWampRouter] for a whole spec: the [FakeServerListener] of this fake. `install` returns the running WAMP
 * router;
 * its block adjusts the [FakeWampRouterConfig.Builder] (after [defaults]):
 * ```
 * val server = install(FakeWampRouterListener()) { ticketUser("alice", "secret") }
 * ```
 * For a fresh WAMP router in every test use [perTest].
 *
 * @param defaults settings applied before the `install` block.
 */
public class FakeWampRouterListener(
    defaults: FakeWampRouterConfig.Builder.() -> Unit = {},
) : FakeServerListener<FakeWampRouterConfig.Builder, FakeWampRouter>(
    { FakeWampRouterConfig.builder().apply(defaults) },
    { FakeWampRouter.start(it.build()) },
) {
    /** The per-test face. */
    public companion object {
        /**
         * A fresh WAMP router for every test; `install` returns a handle that also serves as a property delegate:
         * ```
         * val server by install(FakeWampRouterListener.perTest())
         * ```
         */
        public fun perTest(
            defaults: FakeWampRouterConfig.Builder.() -> Unit = {},
        ): PerTestFakeServerListener<FakeWampRouterConfig.Builder, FakeWampRouter> = PerTestFakeServerListener(
            { FakeWampRouterConfig.builder().apply(defaults) },
            { FakeWampRouter.start(it.build()) },
        )
    }
}
