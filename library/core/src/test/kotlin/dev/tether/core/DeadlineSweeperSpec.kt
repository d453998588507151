@file:OptIn(InternalTetherApi::class)

package dev.tether.core

import io.kotest.core.spec.style.FunSpec
import io.kotest.matchers.longs.shouldBeGreaterThanOrEqual
import io.kotest.matchers.shouldBe
import java.util.concurrent.ConcurrentHashMap
import java.util.concurrent.CountDownLatch
import java.util.concurrent.TimeUnit
import java.util.concurrent.atomic.AtomicInteger

/** The shared deadline thread: requests expire at (never before) their deadline, with one sweep per due time. */
class DeadlineSweeperSpec : FunSpec({
    /** A client's pending requests: id to deadline, and the ids expired, in order, with when. */
    class Requests {
        val pending = ConcurrentHashMap<Int, Long>()
        val expired = ConcurrentHashMap<Int, Long>()
        val sweeps = AtomicInteger()
        val latches = ConcurrentHashMap<Int, CountDownLatch>()
        val sweeper = DeadlineSweeper { now ->
            sweeps.incrementAndGet()
            DeadlineSweeper.sweepEntries(pending, now, { it }) { id, _ ->
                pending.remove(id)
                expired[id] = now
                latches[id]?.countDown()
            }
        }

        fun add(id: Int, timeoutMillis: Long): CountDownLatch {
            val latch = CountDownLatch(1).also { latches[id] = it }
            val deadline = DeadlineSweeper.deadlineAfter(TimeUnit.MILLISECONDS.toNanos(timeoutMillis))
            pending[id] = deadline
            sweeper.watch(deadline)
            return latch
        }

        fun answer(id: Int) {
            pending.remove(id)
        }
    }

    test("a request expires once its deadline has passed, not before") {
        val r = Requests()
        val deadline = DeadlineSweeper.deadlineAfter(TimeUnit.MILLISECONDS.toNanos(50))
        val done = r.add(1, 50)
        done.await(10, TimeUnit.SECONDS) shouldBe true
        r.expired.getValue(1) - deadline shouldBeGreaterThanOrEqual 0L
    }

    test("an answered request never expires; later deadlines of the same timeout cost no extra sweep") {
        val r = Requests()
        r.add(1, 60_000)
        r.answer(1)
        // 100 requests with later deadlines than the first: none lowers the earliest, so nothing is queued for them
        val queued = DeadlineSweeper.queuedWakeUps()
        repeat(100) { r.add(100 + it, 60_000) }
        DeadlineSweeper.queuedWakeUps() shouldBe queued
        val last = r.add(1_000, 40)
        last.await(10, TimeUnit.SECONDS) shouldBe true
        r.expired.keys shouldBe setOf(1_000)
        r.sweeps.get() shouldBe 1
    }

    test("a shorter timeout after a long one fires at its own deadline, and the long one stays pending") {
        val r = Requests()
        r.add(1, 600_000)
        val short = r.add(2, 30)
        short.await(10, TimeUnit.SECONDS) shouldBe true
        r.expired.keys shouldBe setOf(2)
        r.pending.keys shouldBe setOf(1)
    }

    test("requests expire in deadline order across sweeps, and each sweep's next deadline is watched") {
        val r = Requests()
        val a = r.add(1, 20)
        val b = r.add(2, 60)
        val c = r.add(3, 120)
        listOf(a, b, c).forEach { it.await(10, TimeUnit.SECONDS) shouldBe true }
        r.expired.getValue(1) shouldBeLessOrEqual r.expired.getValue(2)
        r.expired.getValue(2) shouldBeLessOrEqual r.expired.getValue(3)
    }

    test("a stopped sweeper sweeps no more; other sweepers keep theirs") {
        val stopped = Requests()
        val live = Requests()
        stopped.add(1, 20)
        stopped.sweeper.stop()
        val liveDone = live.add(1, 40) // due after the stopped one's deadline: its wake-up has passed by then
        liveDone.await(10, TimeUnit.SECONDS) shouldBe true
        stopped.sweeps.get() shouldBe 0
        stopped.pending.keys shouldBe setOf(1)
    }

    test("a stopped sweeper's queued wake-up does not keep its owner reachable") {
        // the owner (a client with its pending requests) is reachable only through the sweep function
        fun watchedAndStopped(): java.lang.ref.WeakReference<Any> {
            val owner = Any()
            val sweeper = DeadlineSweeper { _ -> owner.let { DeadlineSweeper.NEVER } }
            sweeper.watch(DeadlineSweeper.deadlineAfter(TimeUnit.MINUTES.toNanos(10))) // queued for ten minutes
            sweeper.stop()
            return java.lang.ref.WeakReference(owner)
        }
        val owner = watchedAndStopped()
        val deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10)
        while (owner.get() != null && System.nanoTime() < deadline) {
            System.gc()
            Thread.onSpinWait()
        }
        owner.get() shouldBe null
    }

    test("sweepEntries expires what is due, skips NEVER, and answers the earliest deadline ahead, across wrap-around") {
        val now = Long.MAX_VALUE - 10 // deadlines ahead of it wrap to negative numbers: compared by subtraction
        val entries = linkedMapOf(
            "due" to now - 5,
            "exactly-now" to now,
            "never" to DeadlineSweeper.NEVER,
            "later" to now + 100,
            "sooner" to now + 20,
        )
        val expired = mutableListOf<String>()
        DeadlineSweeper.sweepEntries(entries, now, { it }) { key, _ -> expired += key } shouldBe now + 20
        expired shouldBe listOf("due", "exactly-now")
        DeadlineSweeper.sweepEntries(mapOf("never" to DeadlineSweeper.NEVER), now, { it }) { _, _ ->
            error("nothing is due")
        } shouldBe DeadlineSweeper.NEVER
    }

    test("deadlineAfter: timeouts too long to matter never fire") {
        DeadlineSweeper.deadlineAfter(Long.MAX_VALUE) shouldBe DeadlineSweeper.NEVER
        val r = Requests()
        r.sweeper.watch(DeadlineSweeper.NEVER) // ignored
        r.sweeps.get() shouldBe 0
    }
})

private infix fun Long.shouldBeLessOrEqual(other: Long) {
    (other - this) shouldBeGreaterThanOrEqual 0L
}
