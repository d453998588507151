package dev.tether.testkit.kotest

import dev.tether.testkit.FakeBroker
import dev.tether.testkit.FakeBrokerConfig

/**
 * Runs a [FakeBroker] for a whole spec: the [FakeServerListener] of this fake. `install` returns the running broker;
 * its block adjusts the [FakeBrokerConfig.Builder] (after [defaults]):
 * ```
 * val server = install(FakeBrokerListener()) { pingInterval(Duration.ofMillis(200)) }
 * ```
 * For a fresh broker in every test use [perTest].
 *
 * @param defaults settings applied before the `install` block.
 */
public class FakeBrokerListener(
    defaults: FakeBrokerConfig.Builder.() -> Unit = {},
) : FakeServerListener<FakeBrokerConfig.Builder, FakeBroker>(
    { FakeBrokerConfig.builder().apply(defaults) },
    { FakeBroker.start(it.build()) },
) {
    /** The per-test face. */
    public companion object {
        /**
         * A fresh broker for every test; `install` returns a handle that also serves as a property delegate:
         * ```
         * val server by install(FakeBrokerListener.perTest())
         * ```
         */
        public fun perTest(
            defaults: FakeBrokerConfig.Builder.() -> Unit = {},
        ): PerTestFakeServerListener<FakeBrokerConfig.Builder, FakeBroker> =
            PerTestFakeServerListener({ FakeBrokerConfig.builder().apply(defaults) }, { FakeBroker.start(it.build()) })
    }
}
