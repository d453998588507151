package dev.tether.relay

import io.kotest.assertions.throwables.shouldThrow
import io.kotest.core.spec.style.FunSpec
import io.kotest.matchers.collections.shouldHaveSize
import io.kotest.matchers.shouldBe
import io.kotest.matchers.types.shouldBeInstanceOf
import kotlinx.coroutines.awaitCancellation
import kotlinx.coroutines.delay
import kotlinx.coroutines.test.runTest
import java.time.Duration
import java.util.concurrent.atomic.AtomicInteger

/** The picker's race in virtual time, through its connector seam (no sockets). */
class ServerPickerSpec : FunSpec({
    val store = TokenStore(AuthToken.generate("s"))

    test("the first success wins, slower attempts are cancelled") {
        runTest {
            val cancelled = AtomicInteger()
            val picker = ServerPicker(listOf("rel://slow:1", "rel://fast:1", "rel://bad:1"), store, "me")
            picker.connector = { c ->
                when (c.serverUrl) {
                    "rel://fast:1" -> delay(100)

                    "rel://slow:1" -> try {
                        delay(10_000)
                    } finally {
                        cancelled.incrementAndGet()
                    }

                    else -> throw RelayDialException(c.serverUrl, RuntimeException("refused"))
                }
            }
            val winner = picker.pick()
            winner.serverUrl shouldBe "rel://fast:1"
            testScheduler.currentTime shouldBe 100
            cancelled.get() shouldBe 1
        }
    }

    test("at most 7 dials in flight") {
        runTest {
            val inFlight = AtomicInteger()
            var peak = 0
            val urls = (1..10).map { "rel://h$it:1" }
            val picker = ServerPicker(urls, store, "me")
            picker.connector = { c ->
                peak = maxOf(peak, inFlight.incrementAndGet())
                try {
                    delay(100)
                    if (c.serverUrl != "rel://h10:1") throw RelayDialException(c.serverUrl, RuntimeException("no"))
                } finally {
                    inFlight.decrementAndGet()
                }
            }
            picker.pick().serverUrl shouldBe "rel://h10:1"
            peak shouldBe 7
            testScheduler.currentTime shouldBe 200
        }
    }

    test("all failing: NoRelayAvailableException with one failure per URL") {
        runTest {
            val picker = ServerPicker(listOf("rel://a:1", "rel://b:1"), store, "me")
            picker.connector = { c -> throw RelayDialException(c.serverUrl, RuntimeException("refused")) }
            shouldThrow<NoRelayAvailableException> { picker.pick() }.failures shouldHaveSize 2
        }
    }

    test("empty list: no relay server available") {
        runTest {
            val e = shouldThrow<NoRelayAvailableException> { ServerPicker(emptyList(), store, "me").pick() }
            e.failures shouldHaveSize 0
        }
    }

    test("the pick is bounded by 30 s") {
        runTest {
            val picker = ServerPicker(listOf("rel://hang:1"), store, "me")
            picker.connector = { awaitCancellation() }
            val e = shouldThrow<NoRelayAvailableException> { picker.pick() }
            testScheduler.currentTime shouldBe 30_000
            e.failures shouldHaveSize 0
            e.timedOut shouldBe true
            picker.timeout shouldBe Duration.ofSeconds(30)
        }
    }
})
