package dev.tether.testkit.kotest

import dev.tether.testkit.FakeServer
import kotlin.reflect.KProperty

/**
 * Access to the server a Kotest fake-server extension runs. A handle is also a read-only property delegate, so a
 * per-test server reads like a plain value inside each test:
 * ```
 * val broker by install(FakeBrokerListener.perTest())
 * test("…") { broker.url }
 * ```
 */
public interface FakeServerHandle<out T : FakeServer<*>> {
    /** The running server. @throws IllegalStateException when none is running (outside its spec or test). */
    public val server: T

    /** Property-delegate face of [server]. */
    public operator fun getValue(thisRef: Any?, property: KProperty<*>): T = server
}
