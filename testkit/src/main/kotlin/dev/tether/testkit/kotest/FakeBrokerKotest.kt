package dev.tether.testkit.kotest

import dev.tether.testkit.FakeBroker
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
 * Access to the server a Kotest fake-server extension runs. A handle is also a read-only property delegate, so a
 * per-test server reads like a plain value inside each test:
 * ```
 * val broker by install(FakeBrokerListener.perTest())
 * test("…") { broker.url }
 * ```
 */
public interface FakeServerHandle<out T : AutoCloseable> {
    /** The running server. @throws IllegalStateException when none is running (outside its spec or test). */
    public val server: T

    /** Property-delegate face of [server]. */
    public operator fun getValue(thisRef: Any?, property: KProperty<*>): T = server
}

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
public open class FakeServerListener<C, T : AutoCloseable>(
    private val newConfig: () -> C,
    private val start: (C) -> T,
) : MountableExtension<C, T>, BeforeSpecListener, AfterSpecListener, FakeServerHandle<T> {
    private val running = AtomicReference<T?>(null)

    override val server: T
        get() = running.get() ?: throw IllegalStateException(
            "no server is running: a per-spec server exists from install(…) (or the spec's start) until the spec ends",
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

/**
 * A Kotest extension that runs a fresh fake server ([T]) for every test (leaf test cases; containers such as
 * `context` blocks get none): the common base of the testkit's per-test Kotest extensions. `install` returns a
 * [FakeServerHandle]; the `install` block configures every server it starts.
 *
 * Tests of one spec must run one at a time (Kotest's default): the handle holds the current test's server.
 */
public open class PerTestFakeServerListener<C, T : AutoCloseable>(
    private val newConfig: () -> C,
    private val start: (C) -> T,
) : MountableExtension<C, FakeServerHandle<T>>, TestCaseExtension, FakeServerHandle<T> {
    @Volatile
    private var configure: C.() -> Unit = {}

    @Volatile
    private var current: T? = null

    override val server: T
        get() = current ?: throw IllegalStateException("no server is running: a per-test server exists only while a test runs")

    /** Records [configure] for the servers to come and returns the handle to them. */
    override fun mount(configure: C.() -> Unit): FakeServerHandle<T> {
        this.configure = configure
        return this
    }

    override suspend fun intercept(testCase: TestCase, execute: suspend (TestCase) -> TestResult): TestResult {
        if (testCase.type != TestType.Test) return execute(testCase)
        val server = withContext(Dispatchers.IO) { start(newConfig().apply(configure)) }
        current = server
        try {
            return execute(testCase)
        } finally {
            current = null
            withContext(NonCancellable + Dispatchers.IO) { server.close() }
        }
    }
}

/**
 * Runs a [FakeBroker] for a whole spec. `install` returns the running broker; its block adjusts
 * [FakeBroker.Options] (after [defaults]):
 * ```
 * val broker = install(FakeBrokerListener()) { pingInterval(Duration.ofMillis(200)) }
 * ```
 * For a fresh broker in every test use [perTest].
 *
 * @param defaults options applied to the broker before the `install` block.
 */
public class FakeBrokerListener(
    defaults: FakeBroker.Options.Builder.() -> Unit = {},
) : FakeServerListener<FakeBroker.Options.Builder, FakeBroker>(
    { FakeBroker.Options.builder().apply(defaults) },
    { FakeBroker.start(it.build()) },
) {
    /** The running broker (the same as [server]). */
    public val broker: FakeBroker get() = server

    public companion object {
        /**
         * A fresh broker for every test; `install` returns a handle that also serves as a property delegate:
         * ```
         * val broker by install(FakeBrokerListener.perTest()) { maxConnections(4, 2) }
         * ```
         */
        public fun perTest(defaults: FakeBroker.Options.Builder.() -> Unit = {}): PerTestFakeBrokerListener =
            PerTestFakeBrokerListener(defaults)
    }
}

/** Runs a fresh [FakeBroker] for every test; see [FakeBrokerListener.perTest]. */
public class PerTestFakeBrokerListener(
    defaults: FakeBroker.Options.Builder.() -> Unit = {},
) : PerTestFakeServerListener<FakeBroker.Options.Builder, FakeBroker>(
    { FakeBroker.Options.builder().apply(defaults) },
    { FakeBroker.start(it.build()) },
) {
    /** The current test's broker (the same as [server]). */
    public val broker: FakeBroker get() = server
}
