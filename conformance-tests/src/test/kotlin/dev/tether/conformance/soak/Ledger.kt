package dev.tether.conformance.soak

import dev.tether.core.TetherException
import kotlinx.coroutines.CancellationException
import kotlinx.coroutines.TimeoutCancellationException
import kotlinx.coroutines.currentCoroutineContext
import kotlinx.coroutines.isActive
import kotlinx.coroutines.withTimeout
import java.util.concurrent.ConcurrentHashMap
import java.util.concurrent.ConcurrentLinkedQueue
import java.util.concurrent.atomic.AtomicBoolean
import java.util.concurrent.atomic.AtomicLong
import kotlin.time.Duration

/**
 * The soak's book of outcomes: every operation a client acknowledged (a request it took, a stream it opened, a call
 * it sent) is [begin]-ed here and must end with exactly one outcome, a checked reply or a [TetherException]. A
 * second outcome, an untyped failure, a wrong reply or no outcome within the operation's bound is a violation.
 * Only open operations are kept, so a soak of hours holds no more than its workers have in flight.
 */
internal class Ledger {
    private val nextId = AtomicLong()
    private val open = ConcurrentHashMap<Long, Op>()
    private val kept = ConcurrentLinkedQueue<String>()
    private val violationCount = AtomicLong()
    private val okCount = AtomicLong()
    private val typedCount = AtomicLong()
    private val typedByName = ConcurrentHashMap<String, AtomicLong>()
    private val notes = ConcurrentHashMap<String, AtomicLong>()

    /** Replies checked and right. */
    val ok: Long get() = okCount.get()

    /** Operations that failed with a [TetherException]. */
    val typedErrors: Long get() = typedCount.get()

    /** Typed failures by exception class, for the report. */
    fun typedErrorsByName(): Map<String, Long> = typedByName.mapValues { it.value.get() }.toSortedMap()

    /** Counted events that are not violations (late replies, messages lost to an offline peer), for the report. */
    fun notes(): Map<String, Long> = notes.mapValues { it.value.get() }.toSortedMap()

    /** Every violation so far (the first [KEPT_VIOLATIONS] are kept in full). */
    val violations: Long get() = violationCount.get()

    /** The violations kept in full, in the order they happened. */
    fun violationTexts(): List<String> = kept.toList()

    /** Operations that have no outcome yet. */
    fun unfinished(): List<Long> = open.keys.sorted()

    /** Starts an acknowledged operation. */
    fun begin(): Op = Op(nextId.incrementAndGet()).also { open[it.id] = it }

    /** Records a broken invariant. */
    fun violation(text: String) {
        if (violationCount.incrementAndGet() <= KEPT_VIOLATIONS) kept.add(text)
    }

    /** Counts a benign event under [name]. */
    fun note(name: String) {
        notes.computeIfAbsent(name) { AtomicLong() }.incrementAndGet()
    }

    /** Checks that a failure the client reported (an event's cause, a session's end) is typed. */
    fun checkTyped(where: String, failure: Throwable?) {
        if (failure != null && failure !is TetherException) {
            violation("$where: untyped failure ${failure.javaClass.name}: ${failure.message}")
        }
    }

    /**
     * Runs [block] as one operation bounded by [guard] (longer than the client's own timeout: the client must answer
     * first) and records its outcome: a null result is a right reply, a text a wrong one. True when it went right.
     */
    suspend fun record(guard: Duration, block: suspend (Op) -> String?): Boolean {
        val op = begin()
        val started = System.nanoTime()
        val wrong = try {
            withTimeout(guard) { block(op) }
        } catch (e: TimeoutCancellationException) {
            if (System.nanoTime() - started >= guard.inWholeNanoseconds) {
                op.lost("no outcome within $guard")
            } else {
                op.failed(e) // a timeout of the client's own that escaped untyped
            }
            return false
        } catch (e: CancellationException) {
            if (currentCoroutineContext().isActive) {
                op.failed(e) // the client cancelled the caller's operation on its own
                return false
            }
            op.abandon() // the soak itself is stopping this worker
            throw e
        } catch (e: Throwable) {
            op.failed(e)
            return false
        }
        if (wrong == null) op.succeeded() else op.wrong(wrong)
        return wrong == null
    }

    /** One acknowledged operation; exactly one of its outcome methods may be called. */
    inner class Op internal constructor(val id: Long) {
        private val done = AtomicBoolean(false)

        fun succeeded() {
            if (finish("a reply")) okCount.incrementAndGet()
        }

        fun failed(failure: Throwable) {
            if (!finish("a failure (${failure.javaClass.simpleName})")) return
            if (failure is TetherException) {
                typedCount.incrementAndGet()
                typedByName.computeIfAbsent(failure.javaClass.simpleName) { AtomicLong() }.incrementAndGet()
            } else {
                violation("operation $id failed untyped: ${failure.javaClass.name}: ${failure.message}")
            }
        }

        fun wrong(what: String) {
            if (finish("a wrong reply")) violation("operation $id got a wrong reply: $what")
        }

        fun lost(what: String) {
            if (finish("no outcome")) violation("operation $id: $what")
        }

        /** The soak stopped the operation itself: no outcome is owed. */
        fun abandon() {
            done.set(true)
            open.remove(id)
        }

        private fun finish(what: String): Boolean {
            if (!done.compareAndSet(false, true)) {
                violation("operation $id got a second outcome: $what")
                return false
            }
            open.remove(id)
            return true
        }
    }

    private companion object {
        const val KEPT_VIOLATIONS = 50
    }
}
