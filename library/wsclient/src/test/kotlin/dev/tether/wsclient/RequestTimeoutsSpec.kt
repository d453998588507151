package dev.tether.wsclient

import io.kotest.core.spec.style.FunSpec
import io.kotest.matchers.collections.shouldContainExactly
import io.kotest.matchers.shouldBe
import java.util.concurrent.ConcurrentHashMap
import java.util.concurrent.CountDownLatch
import java.util.concurrent.TimeUnit

/** The per-client timer that fails pending requests at their deadline (one thread, no task per request). */
class RequestTimeoutsSpec : FunSpec({

    fun entry(timeoutMillis: Long) =
        PendingRequest(RequestTimeouts.deadlineAfter(TimeUnit.MILLISECONDS.toNanos(timeoutMillis)), timeoutMillis)

    /** A timer over [pending] that records the ids it expires, in order, and counts them down on [latch]. */
    fun timer(pending: ConcurrentHashMap<String, PendingRequest>, expired: MutableList<String>, latch: CountDownLatch) =
        RequestTimeouts(pending) { id, e ->
            if (e.fail(RequestTimeoutException(id, e.timeoutMillis))) {
                expired += id
                latch.countDown()
            }
        }

    test("a shorter timeout registered after a longer one fires first; neither fires early") {
        val pending = ConcurrentHashMap<String, PendingRequest>()
        val expired = java.util.concurrent.CopyOnWriteArrayList<String>()
        val latch = CountDownLatch(2)
        val timeouts = timer(pending, expired, latch)
        try {
            val started = System.nanoTime()
            val long = entry(600).also {
                pending["long"] = it
                timeouts.watch(it)
            }
            val short = entry(100).also {
                pending["short"] = it
                timeouts.watch(it)
            }
            latch.await(10, TimeUnit.SECONDS) shouldBe true
            expired shouldContainExactly listOf("short", "long")
            (System.nanoTime() - started >= TimeUnit.MILLISECONDS.toNanos(600)) shouldBe true
            (short.get() is RequestTimeoutException) shouldBe true
            (long.get() is RequestTimeoutException) shouldBe true
        } finally {
            timeouts.stop()
        }
    }

    test("a completed request is left alone; one that never times out is never swept") {
        val pending = ConcurrentHashMap<String, PendingRequest>()
        val expired = java.util.concurrent.CopyOnWriteArrayList<String>()
        val latch = CountDownLatch(1)
        val timeouts = timer(pending, expired, latch)
        try {
            val answered = entry(50).also {
                pending["answered"] = it
                timeouts.watch(it)
            }
            answered.complete(Envelope.response("echo.result", "answered")) shouldBe true
            val forever = PendingRequest(RequestTimeouts.deadlineAfter(Long.MAX_VALUE), Long.MAX_VALUE / 1_000_000)
            forever.deadline shouldBe RequestTimeouts.NEVER
            pending["forever"] = forever
            timeouts.watch(forever)
            entry(150).also {
                pending["last"] = it
                timeouts.watch(it)
            }
            latch.await(10, TimeUnit.SECONDS) shouldBe true
            expired shouldContainExactly listOf("last")
            forever.get() shouldBe null
        } finally {
            timeouts.stop()
        }
    }

    test("requests registered from several threads with mixed timeouts all expire: none is missed") {
        val pending = ConcurrentHashMap<String, PendingRequest>()
        val expired = java.util.concurrent.CopyOnWriteArrayList<String>()
        val latch = CountDownLatch(200)
        val timeouts = timer(pending, expired, latch)
        try {
            val threads = (0 until 4).map { t ->
                Thread {
                    for (i in 0 until 50) {
                        val id = "$t-$i"
                        val e = entry(((i * 7 + t * 13) % 90).toLong())
                        pending[id] = e
                        timeouts.watch(e)
                    }
                }.apply { start() }
            }
            threads.forEach { it.join(10_000) }
            latch.await(10, TimeUnit.SECONDS) shouldBe true
            expired.toSet().size shouldBe 200
            expired.size shouldBe 200
        } finally {
            timeouts.stop()
        }
    }
})
