package dev.tether.wsclient

import io.kotest.assertions.throwables.shouldThrow
import io.kotest.core.spec.style.FunSpec
import io.kotest.matchers.collections.shouldHaveSize
import io.kotest.matchers.comparables.shouldBeGreaterThan
import io.kotest.matchers.longs.shouldBeInRange
import io.kotest.matchers.shouldBe
import io.kotest.matchers.string.shouldContain
import io.kotest.matchers.string.shouldMatch
import io.kotest.property.Arb
import io.kotest.property.arbitrary.byte
import io.kotest.property.arbitrary.byteArray
import io.kotest.property.arbitrary.constant
import io.kotest.property.arbitrary.long
import io.kotest.property.checkAll
import java.time.Instant
import java.util.Random
import java.util.concurrent.ConcurrentHashMap
import java.util.concurrent.CountDownLatch
import java.util.concurrent.Executors
import java.util.concurrent.TimeUnit

/** Vectors from section 3 of wsclient-test-vectors.txt (oklog/ulid v2), plus generator properties. */
class UlidSpec : FunSpec({

    val fixedMs = 1779271872123L
    val fixedEntropy = hex("00010203040506070809")
    val crockford = Regex("[0-7][0-9A-HJKMNP-TV-Z]{25}")

    /** A byte reader over [bytes] that fails like Go's io.ReadFull when too few bytes are left. */
    fun reader(bytes: ByteArray): (ByteArray, Int) -> Unit {
        var at = 0
        return { dst, n ->
            if (bytes.size - at < n) {
                at = bytes.size
                throw IllegalStateException("unexpected EOF")
            }
            bytes.copyInto(dst, 0, at, at + n)
            at += n
        }
    }

    context("ULID vectors") {
        test("ULID.fixed: time 2026-05-20T10:11:12.123456789Z with entropy 00..09") {
            Instant.parse("2026-05-20T10:11:12.123456789Z").toEpochMilli() shouldBe fixedMs
            val id = Ulid.of(fixedMs, fixedEntropy)
            id.toString() shouldBe "01KS2DWBKV000G40R40M30E209"
            id.toBytes().toHex() shouldBe "019e44de2e7b00010203040506070809"
            id.timestampMillis shouldBe fixedMs
            id.entropy().toHex() shouldBe "00010203040506070809"
            Ulid.parse("01KS2DWBKV000G40R40M30E209") shouldBe id
            Ulid.fromBytes(hex("019e44de2e7b00010203040506070809")) shouldBe id
        }
        test("ULID.same_ms_entropy_ff") {
            Ulid.of(fixedMs, ByteArray(10) { -1 }).toString() shouldBe "01KS2DWBKVZZZZZZZZZZZZZZZZ"
        }
        test("ULID.zero and ULID.max") {
            Ulid.MIN.toString() shouldBe "00000000000000000000000000"
            Ulid.MAX.toString() shouldBe "7ZZZZZZZZZZZZZZZZZZZZZZZZZ"
            Ulid.MAX.timestampMillis shouldBe 281474976710655L
            Ulid.of(281474976710655L, ByteArray(10) { -1 }) shouldBe Ulid.MAX
            Ulid.parse("7ZZZZZZZZZZZZZZZZZZZZZZZZZ") shouldBe Ulid.MAX
            Ulid.parse("00000000000000000000000000") shouldBe Ulid.MIN
        }
        test("ULID.parse spec example") {
            val id = Ulid.parse("01ARZ3NDEKTSV4RRFFQ69G5FAV")
            id.toBytes().toHex() shouldBe "01563e3ab5d3d6764c61efb99302bd5b"
            id.timestampMillis shouldBe 1469922850259L
            id.toString() shouldBe "01ARZ3NDEKTSV4RRFFQ69G5FAV"
        }
        test("ULID.parse lowercase is accepted and printed upper case") {
            Ulid.parse("01arz3ndektsv4rrffq69g5fav").toString() shouldBe "01ARZ3NDEKTSV4RRFFQ69G5FAV"
        }
        test("ULID.parse errors: U and I are not in the alphabet") {
            for (bad in listOf("01ARZ3NDEKTSV4RRFFQ69G5FAU", "01ARZ3NDEKTSV4RRFFQ69G5FAI")) {
                shouldThrow<IllegalArgumentException> { Ulid.parse(bad) }.message shouldContain "not Crockford base32"
                Ulid.isValid(bad) shouldBe false
            }
            // no Crockford aliases (L, O) either, and nothing outside ASCII
            shouldThrow<IllegalArgumentException> { Ulid.parse("01ARZ3NDEKTSV4RRFFQ69G5FAL") }
            shouldThrow<IllegalArgumentException> { Ulid.parse("01ARZ3NDEKTSV4RRFFQ69G5FAO") }
            shouldThrow<IllegalArgumentException> { Ulid.parse("01ARZ3NDEKTSV4RRFFQ69G5FAé") }
        }
        test("ULID.parse errors: first character above 7 overflows") {
            shouldThrow<IllegalArgumentException> { Ulid.parse("81ARZ3NDEKTSV4RRFFQ69G5FAV") }.message shouldContain
                "overflows"
            shouldThrow<IllegalArgumentException> { Ulid.parse("Z1ARZ3NDEKTSV4RRFFQ69G5FAV") }.message shouldContain
                "overflows"
            Ulid.isValid("81ARZ3NDEKTSV4RRFFQ69G5FAV") shouldBe false
        }
        test("ULID.parse errors: wrong length") {
            shouldThrow<IllegalArgumentException> { Ulid.parse("01ARZ3NDEKTSV4RRFFQ69G5FA") }.message shouldContain
                "26 characters"
            shouldThrow<IllegalArgumentException> { Ulid.parse("01ARZ3NDEKTSV4RRFFQ69G5FAVV") }
            shouldThrow<IllegalArgumentException> { Ulid.parse("") }
        }
        test("of and fromBytes check their arguments") {
            shouldThrow<IllegalArgumentException> { Ulid.of(-1, fixedEntropy) }
            shouldThrow<IllegalArgumentException> { Ulid.of(Ulid.MAX_TIMESTAMP + 1, fixedEntropy) }
            shouldThrow<IllegalArgumentException> { Ulid.of(fixedMs, ByteArray(9)) }
            shouldThrow<IllegalArgumentException> { Ulid.fromBytes(ByteArray(15)) }
        }
    }

    context("monotonic generator vectors") {
        test("MONO.inc1: +1 within the millisecond, and a fresh read that runs out of bytes fails") {
            var ms = fixedMs
            val gen = UlidGenerator.fromByteReader({ ms }, 1, reader(hex("00010203040506070809aabbccdd11223344")))
            val first = gen.nextUlid()
            first.toString() shouldBe "01KS2DWBKV000G40R40M30E209"
            first.toBytes().toHex() shouldBe "019e44de2e7b00010203040506070809"
            val second = gen.nextUlid()
            second.toString() shouldBe "01KS2DWBKV000G40R40M30E20A"
            second.toBytes().toHex() shouldBe "019e44de2e7b0001020304050607080a"
            ms++
            shouldThrow<IllegalStateException> { gen.next() }.message shouldContain "EOF"
        }
        test("MONO.default_inc_bytes: increment is 1 + little-endian uint32 of the next 4 bytes") {
            val gen = UlidGenerator.fromByteReader({ fixedMs }, 0, reader(hex("00010203040506070809aabbccdd11223344")))
            gen.next() shouldBe "01KS2DWBKV000G40R40M30E209"
            val second = gen.nextUlid()
            second.toString() shouldBe "01KS2DWBKV000G40R40QHX7GXM"
            second.toBytes().toHex() shouldBe "019e44de2e7b000102030405e3d3c3b4"
        }
        test("byte-reader increments re-read zero and out-of-range values") {
            // first increment candidate is 0 (re-read), the second ffffffff (>= inc, re-read), the third is 1 -> +2
            val bytes = hex("00010203040506070809" + "00000000" + "ffffffff" + "01000000")
            val gen = UlidGenerator.fromByteReader({ fixedMs }, 0, reader(bytes))
            gen.nextUlid()
            gen.nextUlid().entropy().toHex() shouldBe "0001020304050607080b"
        }
        test("MONO.overflow: entropy ff..ff cannot grow within the millisecond") {
            val gen = UlidGenerator.fromByteReader({ fixedMs }, 1, reader(ByteArray(10) { -1 }))
            gen.next() shouldBe "01KS2DWBKVZZZZZZZZZZZZZZZZ"
            shouldThrow<IllegalStateException> { gen.next() }.message shouldContain "overflow"
            // the state is kept: still exhausted in this millisecond
            shouldThrow<IllegalStateException> { gen.next() }.message shouldContain "overflow"
        }
        test("MONO.zero_first: an all-zero entropy is re-read, not incremented") {
            val gen = UlidGenerator.fromByteReader({ fixedMs }, 1, reader(ByteArray(10) + fixedEntropy))
            gen.next() shouldBe "01KS2DWBKV0000000000000000"
            gen.next() shouldBe "01KS2DWBKV000G40R40M30E209"
        }
        test("a new millisecond reads fresh entropy") {
            var ms = fixedMs
            val gen = UlidGenerator.fromByteReader({ ms }, 1, reader(ByteArray(10) { -1 } + fixedEntropy))
            gen.next() shouldBe "01KS2DWBKVZZZZZZZZZZZZZZZZ"
            ms++
            gen.next() shouldBe Ulid.of(fixedMs + 1, fixedEntropy).toString()
        }
    }

    context("generator behaviour") {
        test("same-millisecond increments from a Random are in [1, 2^32 - 1]") {
            val gen = UlidGenerator({ fixedMs }, Random(42))
            var previous = gen.nextUlid()
            repeat(10_000) {
                val next = gen.nextUlid()
                next.timestampMillis shouldBe fixedMs
                val step = java.math.BigInteger(1, next.entropy()) - java.math.BigInteger(1, previous.entropy())
                step.toLong() shouldBeInRange 1L..0xFFFFFFFFL
                previous = next
            }
        }
        test("a clock that steps back does not make ids go back") {
            var ms = 5_000L
            val gen = UlidGenerator({ ms }, Random(7))
            val a = gen.nextUlid()
            ms = 1_000L
            val b = gen.nextUlid()
            b.timestampMillis shouldBe 5_000L
            b shouldBeGreaterThan a
            ms = 5_001L
            val c = gen.nextUlid()
            c.timestampMillis shouldBe 5_001L
            c shouldBeGreaterThan b
        }
        test("a clock outside the ULID range is an error") {
            shouldThrow<IllegalStateException> { UlidGenerator({ -1L }, Random(1)).next() }
            shouldThrow<IllegalStateException> { UlidGenerator({ Ulid.MAX_TIMESTAMP + 1 }, Random(1)).next() }
        }
        test("50 threads x 2000 calls on one generator: unique, strictly increasing per thread, 26-char Crockford") {
            val gen = UlidGenerator()
            concurrentIds(50, 2000) { gen.next() }.forEach { it shouldMatch crockford }
        }
        test("50 threads x 2000 calls on the process-wide Ulid.next()") {
            concurrentIds(50, 2000) { Ulid.next() }
        }
        test("a SecureRandom source never serves the same entropy twice across its block swaps") {
            // A new millisecond per id: each id takes 10 fresh bytes, so 2,000 ids go through about 40 blocks.
            // The source's stream never repeats a 10-byte window, so a reused (stale) byte range shows up as a
            // repeated entropy.
            var ms = 1_000L
            val source = CountingSecureRandom()
            val gen = UlidGenerator({ ms++ }, source)
            val entropies = (1..2000).map { gen.nextUlid().entropy().toList() }
            entropies.toSet() shouldHaveSize 2000
            source.draws.get() shouldBeGreaterThan 30
        }
        test("a slow SecureRandom refill does not hold up other callers: it runs outside the generator's lock") {
            val source = CountingSecureRandom()
            val gen = UlidGenerator({ 7_000L }, source) // one millisecond: the first id takes 10 bytes, then 4 each
            repeat(126) { gen.next() } // 10 + 125 * 4 = 510 of the first block's 512 bytes
            source.blockNextDraw()
            val pool = Executors.newFixedThreadPool(2)
            try {
                // This caller swaps in the spare block, then refills the used one and stalls there, lock released.
                val swapper = pool.submit<String> { gen.next() }
                source.awaitBlocked()
                // Another id while that draw stalls: with the draw under the lock, this waited until the release.
                val other = pool.submit<String> { gen.next() }.get(5, TimeUnit.SECONDS)
                source.release()
                val swapped = swapper.get(10, TimeUnit.SECONDS)
                other shouldBeGreaterThan swapped
            } finally {
                source.release()
                pool.shutdown()
            }
        }
        test("ids handed out under a lock are strictly increasing in that order") {
            val gen = UlidGenerator()
            val lock = Any()
            val order = ArrayList<String>(20_000)
            val pool = Executors.newFixedThreadPool(8)
            val start = CountDownLatch(1)
            val done = CountDownLatch(8)
            repeat(8) {
                pool.execute {
                    start.await()
                    repeat(2500) { synchronized(lock) { order.add(gen.next()) } }
                    done.countDown()
                }
            }
            start.countDown()
            done.await(60, TimeUnit.SECONDS) shouldBe true
            pool.shutdown()
            order shouldHaveSize 20_000
            for (i in 1 until order.size) order[i] shouldBeGreaterThan order[i - 1]
        }
    }

    context("properties") {
        test("text and bytes round-trip, and text order equals value order") {
            checkAll(
                Arb.long(0L..Ulid.MAX_TIMESTAMP),
                Arb.byteArray(Arb.constant(10), Arb.byte()),
                Arb.long(0L..Ulid.MAX_TIMESTAMP),
                Arb.byteArray(Arb.constant(10), Arb.byte()),
            ) { ms1, e1, ms2, e2 ->
                val a = Ulid.of(ms1, e1)
                val b = Ulid.of(ms2, e2)
                a.toString() shouldMatch crockford
                Ulid.parse(a.toString()) shouldBe a
                Ulid.parse(a.toString().lowercase()) shouldBe a
                Ulid.fromBytes(a.toBytes()) shouldBe a
                a.timestampMillis shouldBe ms1
                a.entropy().toList() shouldBe e1.toList()
                Integer.signum(a.compareTo(b)) shouldBe Integer.signum(a.toString().compareTo(b.toString()))
                (a == b) shouldBe (a.toString() == b.toString())
            }
        }
    }
})

/**
 * A [java.security.SecureRandom] whose bytes continue one pseudo-random stream (no 10-byte window repeats in
 * practice), counting its draws; [blockNextDraw] makes the next draw wait until [release].
 */
private class CountingSecureRandom : java.security.SecureRandom() {
    private val stream = Random(42)
    val draws = java.util.concurrent.atomic.AtomicInteger()

    @Volatile private var blockNext = false
    private val blocked = CountDownLatch(1)
    private val released = CountDownLatch(1)

    fun blockNextDraw() {
        blockNext = true
    }

    fun awaitBlocked() {
        blocked.await(10, TimeUnit.SECONDS) shouldBe true
    }

    fun release() {
        released.countDown()
    }

    override fun nextBytes(bytes: ByteArray) {
        if (blockNext) {
            blockNext = false
            blocked.countDown()
            released.await(10, TimeUnit.SECONDS)
        }
        synchronized(stream) { stream.nextBytes(bytes) }
        draws.incrementAndGet()
    }
}

/** Runs [threads] x [calls] of [next] at once; checks uniqueness and per-thread strict order; returns all ids. */
private fun concurrentIds(threads: Int, calls: Int, next: () -> String): Collection<String> {
    val all = ConcurrentHashMap.newKeySet<String>()
    val failures = ConcurrentHashMap.newKeySet<String>()
    val pool = Executors.newFixedThreadPool(threads)
    val start = CountDownLatch(1)
    val done = CountDownLatch(threads)
    repeat(threads) {
        pool.execute {
            try {
                start.await()
                var previous = ""
                repeat(calls) {
                    val id = next()
                    if (id <= previous) failures.add("not increasing: $previous then $id")
                    if (!all.add(id)) failures.add("duplicate: $id")
                    previous = id
                }
            } catch (t: Throwable) {
                failures.add(t.toString())
            } finally {
                done.countDown()
            }
        }
    }
    start.countDown()
    done.await(60, TimeUnit.SECONDS) shouldBe true
    pool.shutdown()
    failures shouldBe emptySet()
    all shouldHaveSize threads * calls
    return all
}

internal fun hex(s: String): ByteArray = ByteArray(s.length / 2) { s.substring(2 * it, 2 * it + 2).toInt(16).toByte() }

internal fun ByteArray.toHex(): String = joinToString("") { "%02x".format(it) }
