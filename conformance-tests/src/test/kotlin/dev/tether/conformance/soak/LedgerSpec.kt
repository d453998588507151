package dev.tether.conformance.soak

import dev.tether.mux.MuxSessionClosedException
import io.kotest.core.spec.style.FunSpec
import io.kotest.matchers.collections.shouldBeEmpty
import io.kotest.matchers.collections.shouldContainExactly
import io.kotest.matchers.shouldBe
import io.kotest.matchers.string.shouldContain
import kotlinx.coroutines.CancellationException
import kotlinx.coroutines.CompletableDeferred
import kotlinx.coroutines.async
import kotlinx.coroutines.awaitCancellation
import kotlinx.coroutines.cancelAndJoin
import kotlinx.coroutines.coroutineScope
import kotlinx.coroutines.withTimeout
import kotlin.time.Duration.Companion.milliseconds
import kotlin.time.Duration.Companion.seconds

/** The soak's invariant checks fail when they should: a soak that cannot fail would prove nothing. */
class LedgerSpec : FunSpec({
    test("a checked reply and a typed failure are the two outcomes; neither is a violation") {
        val ledger = Ledger()
        ledger.record(1.seconds) { null } shouldBe true
        ledger.record(1.seconds) { throw MuxSessionClosedException() } shouldBe false
        ledger.ok shouldBe 1
        ledger.typedErrors shouldBe 1
        ledger.typedErrorsByName() shouldBe mapOf("MuxSessionClosedException" to 1L)
        ledger.violations shouldBe 0
        ledger.unfinished().shouldBeEmpty()
    }

    test("an untyped failure, a wrong reply and a missing outcome are violations") {
        val ledger = Ledger()
        ledger.record(1.seconds) { throw IllegalStateException("boom") } shouldBe false
        ledger.record(1.seconds) { "payload 2, sent 1" } shouldBe false
        ledger.record(50.milliseconds) { awaitCancellation() } shouldBe false
        ledger.violations shouldBe 3
        val texts = ledger.violationTexts()
        texts[0] shouldContain "untyped: java.lang.IllegalStateException: boom"
        texts[1] shouldContain "wrong reply: payload 2, sent 1"
        texts[2] shouldContain "no outcome within 50ms"
        ledger.unfinished().shouldBeEmpty()
    }

    test("a second outcome is a violation, and an operation never ended stays unfinished") {
        val ledger = Ledger()
        val op = ledger.begin()
        op.succeeded()
        op.failed(MuxSessionClosedException())
        ledger.violationTexts() shouldContainExactly
            listOf("operation ${op.id} got a second outcome: a failure (MuxSessionClosedException)")
        val open = ledger.begin()
        ledger.unfinished() shouldBe listOf(open.id)
    }

    test("a timeout or cancellation escaping the client untyped is a violation; the soak stopping a worker is not") {
        val ledger = Ledger()
        ledger.record(1.seconds) { withTimeout(10.milliseconds) { awaitCancellation() } } shouldBe false
        ledger.record(1.seconds) { throw CancellationException("cancelled inside the client") } shouldBe false
        ledger.violations shouldBe 2
        coroutineScope {
            val running = CompletableDeferred<Unit>()
            val worker = async {
                ledger.record(10.seconds) {
                    running.complete(Unit)
                    awaitCancellation()
                }
            }
            running.await()
            ledger.unfinished().size shouldBe 1
            worker.cancelAndJoin()
        }
        ledger.violations shouldBe 2
        ledger.unfinished().shouldBeEmpty()
    }

    test("a client that ends with an untyped cause is reported") {
        val ledger = Ledger()
        ledger.checkTyped("session end", MuxSessionClosedException())
        ledger.checkTyped("nothing", null)
        ledger.violations shouldBe 0
        ledger.checkTyped("Disconnected", java.io.IOException("reset"))
        ledger.violationTexts().single() shouldContain "Disconnected: untyped failure java.io.IOException: reset"
    }
})
