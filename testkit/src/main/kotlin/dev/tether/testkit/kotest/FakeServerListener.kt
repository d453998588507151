package dev.tether.testkit.kotest

import dev.tether.testkit.FakeServer
import io.kotest.core.extensions.MountableExtension
import io.kotest.core.extensions.TestCaseExtension
import io.kotest.core.listeners.AfterSpecListener
import io.kotest.core.listeners.BeforeSpecListener
import io.kotest.core.spec.Spec
import io.kotest.core.test.TestCase
import io.kotest.core.test.TestType
import io.kotest.engine.test.TestResult
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.NonCancellable
import kotlinx.coroutines.withContext
import java.util.concurrent.atomic.AtomicReference
import kotlin.reflect.KProperty

/**
 * A Kotest extension that runs one fake server ([T]) for a whole spec: the common base of the testkit's per-spec
 * Kotest extensions. [install][io.kotest.core.extensions.install] starts the server at once (while the spec is
 * being built) and returns it; the extension stops it after the spec:
 * ```
 * class MySpec : FunSpec({
 *     val broker = install(FakeBrokerListener()) { maxConnections(8, 4) }
 *     test("…") { broker.url }
 * })
 * ```
 * Registered with `extension(listener)` instead, it starts the server before the spec's first test; read it from
 * [server] then. Kotest calls `afterSpec` only for specs that ran at least one test: a server installed in a spec
 * whose tests are all disabled or filtered out is left to the JVM's exit (its threads are daemons).
 *
 * @param C the server's configuration builder, handed to the `install` block.
 * @param newConfig makes a fresh configuration builder.
 * @param start starts a server from a configured builder.
 */
public open class FakeServerListener<C, T : FakeServer<*>>(
    private val newConfig: () -> C,
    private val start: (C) -> T,
) : MountableExtension<C, T>, BeforeSpecListener, AfterSpecListener, FakeServerHandle<T> {
    private val running = AtomicReference<T?>(null)

    override val server: T
        get() = running.get() ?: throw IllegalStateException(
            "no server is running: a per-spec server exists from install(…) (or the spec's start) until the " +
                "spec ends",
        )

    /** Starts the server configured by [configure] and returns it. One extension runs one server. */
    override fun mount(configure: C.() -> Unit): T {
        val server = start(newConfig().apply(configure))
        if (!running.compareAndSet(null, server)) {
            server.close()
            throw IllegalStateException("this extension already runs a server; install one extension per server")
        }
        return server
    }

    override suspend fun beforeSpec(spec: Spec) {
        if (running.get() == null) withContext(Dispatchers.IO) { mount {} }
    }

    override suspend fun afterSpec(spec: Spec) {
        val server = running.getAndSet(null) ?: return
        withContext(NonCancellable + Dispatchers.IO) { server.close() }
    }
}
