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
 * A Kotest extension that runs a fresh fake server ([T]) for every test (leaf test cases; containers such as
 * `context` blocks get none): the common base of the testkit's per-test Kotest extensions. `install` returns a
 * [FakeServerHandle]; the `install` block configures every server it starts.
 *
 * Tests of one spec must run one at a time (Kotest's default): the handle holds the current test's server.
 */
public open class PerTestFakeServerListener<C, T : FakeServer<*>>(
    private val newConfig: () -> C,
    private val start: (C) -> T,
) : MountableExtension<C, FakeServerHandle<T>>, TestCaseExtension, FakeServerHandle<T> {
    @Volatile
    private var configure: C.() -> Unit = {}

    @Volatile
    private var current: T? = null

    override val server: T
        get() =
            current ?: throw IllegalStateException(
                "no server is running: a per-test server exists only while a test runs",
            )

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
