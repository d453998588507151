package dev.tether.wsclient

import java.security.SecureRandom
import java.util.Random
import java.util.concurrent.atomic.AtomicReference
import java.util.concurrent.locks.ReentrantLock
import kotlin.concurrent.withLock

/**
 * A ULID: 128 bits made of a 48-bit big-endian Unix time in milliseconds followed by 80 bits of entropy, written
 * as 26 characters of Crockford base32 (`0123456789ABCDEFGHJKMNPQRSTVWXYZ`, upper case). The text sorts like the
 * value, and [compareTo] orders by time first, then entropy (unsigned).
 *
 * Request ids of [Envelope.request] come from [Ulid.next]. Compatible with `github.com/oklog/ulid/v2`.
 */
public class Ulid private constructor(
    /** Bytes 0..7, big-endian: 48 bits of time, then the first 16 bits of entropy. */
    private val msb: Long,
    /** Bytes 8..15, big-endian: the last 64 bits of entropy. */
    private val lsb: Long,
) : Comparable<Ulid> {

    /** The time part, Unix milliseconds (0..[MAX_TIMESTAMP]). */
    public val timestampMillis: Long get() = msb ushr 16

    /** The 16 bytes, big-endian. */
    public fun toBytes(): ByteArray {
        val b = ByteArray(16)
        putLong(b, 0, msb)
        putLong(b, 8, lsb)
        return b
    }

    /** The 10 entropy bytes, big-endian. */
    public fun entropy(): ByteArray = toBytes().copyOfRange(6, 16)

    /** The canonical 26-character upper-case text. */
    override fun toString(): String = encode(msb, lsb)

    override fun compareTo(other: Ulid): Int {
        val c = java.lang.Long.compareUnsigned(msb, other.msb)
        return if (c != 0) c else java.lang.Long.compareUnsigned(lsb, other.lsb)
    }

    override fun equals(other: Any?): Boolean = other is Ulid && msb == other.msb && lsb == other.lsb

    override fun hashCode(): Int = (msb xor lsb).let { (it xor (it ushr 32)).toInt() }

    /** Parsing, generation and the ULID constants. */
    public companion object {
        /** Length of the text form. */
        public const val LENGTH: Int = 26

        /** Largest timestamp a ULID can carry (2^48 - 1 ms, in the year 10889). */
        public const val MAX_TIMESTAMP: Long = (1L shl 48) - 1

        /** `00000000000000000000000000`. */
        @JvmField
        public val MIN: Ulid = Ulid(0, 0)

        /** `7ZZZZZZZZZZZZZZZZZZZZZZZZZ`. */
        @JvmField
        public val MAX: Ulid = Ulid(-1, -1)

        private const val ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

        /** Value of each ASCII character, -1 outside the alphabet; lower case accepted. No I/L/O aliases. */
        private val DECODE = IntArray(128) { -1 }.also { t ->
            for ((v, c) in ALPHABET.withIndex()) {
                t[c.code] = v
                t[c.lowercaseChar().code] = v
            }
        }

        /**
         * Parses the 26-character text, case-insensitively.
         * @throws IllegalArgumentException if the length is not 26, a character is not Crockford base32 (`I`, `L`,
         *   `O`, `U` included), or the value does not fit 128 bits (the first character must be 0-7).
         */
        @JvmStatic
        public fun parse(text: CharSequence): Ulid {
            require(text.length == LENGTH) { "invalid ULID: expected $LENGTH characters, got ${text.length}" }
            var hi = 0L
            var lo = 0L
            for (i in 0 until LENGTH) {
                val c = text[i]
                val v = if (c.code < 128) DECODE[c.code] else -1
                require(v >= 0) { "invalid ULID \"$text\": character '$c' at index $i is not Crockford base32" }
                hi = (hi shl 5) or (lo ushr 59)
                lo = (lo shl 5) or v.toLong()
            }
            require(DECODE[text[0].code] <= 7) {
                "invalid ULID \"$text\": overflows 128 bits (first character must be 0-7)"
            }
            return Ulid(hi, lo)
        }

        /** Whether [text] is a valid ULID text (see [parse]). */
        @JvmStatic
        public fun isValid(text: CharSequence): Boolean {
            if (text.length != LENGTH) return false
            for (i in 0 until LENGTH) {
                val c = text[i]
                if (c.code >= 128 || DECODE[c.code] < 0) return false
            }
            return DECODE[text[0].code] <= 7
        }

        /** The ULID of 16 big-endian bytes. @throws IllegalArgumentException if [bytes] is not 16 long. */
        @JvmStatic
        public fun fromBytes(bytes: ByteArray): Ulid {
            require(bytes.size == 16) { "a ULID has 16 bytes, got ${bytes.size}" }
            return Ulid(getLong(bytes, 0), getLong(bytes, 8))
        }

        /**
         * The ULID of [timestampMillis] and 10 [entropy] bytes.
         * @throws IllegalArgumentException if the time is outside 0..[MAX_TIMESTAMP] or [entropy] is not 10 long.
         */
        @JvmStatic
        public fun of(timestampMillis: Long, entropy: ByteArray): Ulid {
            require(entropy.size == 10) { "ULID entropy has 10 bytes, got ${entropy.size}" }
            checkTimestamp(timestampMillis)
            val hi = (entropy[0].toLong() and 0xff shl 8) or (entropy[1].toLong() and 0xff)
            return Ulid((timestampMillis shl 16) or hi, getLong(entropy, 2))
        }

        /** A new id text from the process-wide [UlidGenerator] (secure random, monotonic, thread-safe). */
        @JvmStatic
        public fun next(): String = DefaultGenerator.instance.next()

        /** Like [next], as a [Ulid]. */
        @JvmStatic
        public fun nextUlid(): Ulid = DefaultGenerator.instance.nextUlid()

        @JvmSynthetic
        internal fun ofParts(ms: Long, entropyHi: Int, entropyLo: Long): Ulid =
            Ulid((ms shl 16) or entropyHi.toLong(), entropyLo)

        @JvmSynthetic
        internal fun encode(msb: Long, lsb: Long): String {
            val chars = CharArray(LENGTH)
            var hi = msb
            var lo = lsb
            for (i in LENGTH - 1 downTo 0) {
                chars[i] = ALPHABET[(lo and 31).toInt()]
                lo = (lo ushr 5) or (hi shl 59)
                hi = hi ushr 5
            }
            return String(chars)
        }

        @JvmSynthetic
        internal fun checkTimestamp(ms: Long) {
            require(ms in 0..MAX_TIMESTAMP) { "ULID time $ms ms is outside 0..$MAX_TIMESTAMP" }
        }

        private fun getLong(b: ByteArray, at: Int): Long {
            var r = 0L
            for (i in at until at + 8) r = (r shl 8) or (b[i].toLong() and 0xff)
            return r
        }

        private fun putLong(b: ByteArray, at: Int, v: Long) {
            for (i in 0 until 8) b[at + i] = (v ushr (56 - 8 * i)).toByte()
        }
    }

    private object DefaultGenerator {
        val instance = UlidGenerator()
    }
}

/**
 * A thread-safe, monotonic ULID generator (the rule of oklog/ulid's `Monotonic` entropy).
 *
 * For a new millisecond the 80-bit entropy is 10 fresh random bytes. Within the same millisecond the previous
 * entropy, read as a big-endian integer, grows by a random increment in [1, 2^32 - 1], so ids made in one
 * millisecond sort in the order they were made and stay hard to guess. An all-zero entropy is re-read rather
 * than incremented (as upstream).
 *
 * Unlike upstream, a clock that steps back does not make ids go back: the generator keeps using the last
 * millisecond it saw until the clock passes it again.
 *
 * @param clock Unix time in milliseconds.
 * @param random source of the entropy bytes and increments. A [SecureRandom] is read in blocks of 512 bytes,
 *   because one draw from it costs about as much as a whole id otherwise, and a used block is refilled outside
 *   the generator's lock; any other [Random] is read per draw.
 */
public class UlidGenerator private constructor(
    private val clock: () -> Long,
    private val source: EntropySource,
) {
    /** A generator reading [clock] (milliseconds since the epoch) and drawing entropy from [random]. */
    @JvmOverloads
    public constructor(
        clock: () -> Long = System::currentTimeMillis,
        random: Random = SecureRandom(),
    ) : this(clock, if (random is SecureRandom) BufferedEntropy(random) else RandomEntropy(random))

    private val lock = ReentrantLock()
    private var lastMs = -1L
    private var entropyHi = 0 // top 16 bits
    private var entropyLo = 0L // low 64 bits
    private val buffer = ByteArray(10)

    /**
     * The next id as text, greater than every id this generator returned before.
     * @throws IllegalStateException if the clock is outside the ULID range, the entropy of the current
     *   millisecond is exhausted (after on average 2^48 ids in one millisecond), or the random source fails.
     */
    public fun next(): String = nextUlid().toString()

    /** Like [next], as a [Ulid]. */
    public fun nextUlid(): Ulid {
        // Only the state change is locked: text encoding and refilling entropy happen outside, so that a caller
        // waiting for the lock is not parked behind a random source's system call.
        val id = lock.withLock {
            advance()
            Ulid.ofParts(lastMs, entropyHi, entropyLo)
        }
        source.refill()
        return id
    }

    private fun advance() {
        val now = clock()
        check(now in 0..Ulid.MAX_TIMESTAMP) {
            "clock returned $now ms, outside the ULID range 0..${Ulid.MAX_TIMESTAMP}"
        }
        val ms = if (now < lastMs) lastMs else now
        if (ms == lastMs && (entropyHi != 0 || entropyLo != 0L)) {
            val inc = source.increment()
            val lo = entropyLo + inc
            val hi = if (java.lang.Long.compareUnsigned(lo, entropyLo) < 0) entropyHi + 1 else entropyHi
            check(hi <= 0xFFFF) { "ULID entropy overflow: too many ids in millisecond $ms" }
            entropyLo = lo
            entropyHi = hi
        } else {
            source.fill(buffer)
            entropyHi = (buffer[0].toInt() and 0xff shl 8) or (buffer[1].toInt() and 0xff)
            var lo = 0L
            for (i in 2 until 10) lo = (lo shl 8) or (buffer[i].toLong() and 0xff)
            entropyLo = lo
            lastMs = ms
        }
    }

    internal companion object {
        /**
         * A generator reading raw bytes the way oklog's `Monotonic(reader, inc)` does for a plain reader: 10 bytes
         * for a fresh entropy; for an increment (when [inc] > 1; 0 means 2^32 - 1) little-endian bytes, re-read
         * while the value is 0 or >= [inc], plus one. [read] must fill the first `n` bytes or throw.
         */
        @JvmSynthetic
        fun fromByteReader(clock: () -> Long, inc: Long, read: (ByteArray, Int) -> Unit): UlidGenerator =
            UlidGenerator(clock, ByteReaderEntropy(read, if (inc == 0L) 0xFFFFFFFFL else inc))
    }
}

/** Where a [UlidGenerator] gets fresh entropy and same-millisecond increments. */
internal interface EntropySource {
    /** Fills all 10 bytes of [dst]. */
    fun fill(dst: ByteArray)

    /** An increment in [1, 2^32 - 1]. */
    fun increment(): Long

    /** Called after each id, outside the generator's lock: time for slow work such as drawing fresh entropy. */
    fun refill() {}
}

private class RandomEntropy(private val random: Random) : EntropySource {
    override fun fill(dst: ByteArray) = random.nextBytes(dst)

    override fun increment(): Long {
        while (true) { // a uniform value in [0, 2^32 - 2] from one 32-bit draw, plus one
            val r = random.nextInt().toLong() and 0xFFFFFFFFL
            if (r != 0xFFFFFFFFL) return r + 1
        }
    }
}

/**
 * [RandomEntropy] served from blocks of [random]'s bytes: a [SecureRandom] draw is a lock, a system call and a digest
 * whatever its size, so one draw per block instead of one per id. [take] runs under the generator's lock and only
 * swaps in the spare block; the used one is refilled by [refill], outside that lock, by the caller that swapped it.
 */
private class BufferedEntropy(private val random: Random) : EntropySource {
    private var block = ByteArray(BLOCK_BYTES).also { random.nextBytes(it) }
    private var next = 0

    /** A filled block ready to be swapped in, or null while its refill is under way. */
    private val spare = AtomicReference<ByteArray?>(ByteArray(BLOCK_BYTES).also { random.nextBytes(it) })

    /** A used block waiting for [refill]. */
    private val used = AtomicReference<ByteArray?>(null)

    /** The offset of [count] unread bytes in [block], swapping in the spare block (or, rarely, refilling in place). */
    private fun take(count: Int): Int {
        if (next + count > BLOCK_BYTES) {
            val fresh = spare.getAndSet(null)
            if (fresh == null) {
                random.nextBytes(block) // the spare's refill has not finished: draw in place, under the lock
            } else {
                used.set(block)
                block = fresh
            }
            next = 0
        }
        val at = next
        next += count
        return at
    }

    override fun fill(dst: ByteArray) {
        val at = take(dst.size) // first: it may swap [block]
        System.arraycopy(block, at, dst, 0, dst.size)
    }

    override fun increment(): Long {
        while (true) { // a uniform value in [0, 2^32 - 2] from 4 bytes, plus one
            val at = take(4)
            val b = block
            var r = 0L
            for (i in at until at + 4) r = (r shl 8) or (b[i].toLong() and 0xff)
            if (r != 0xFFFFFFFFL) return r + 1
        }
    }

    override fun refill() {
        val stale = used.getAndSet(null) ?: return
        random.nextBytes(stale)
        spare.set(stale)
    }

    private companion object {
        const val BLOCK_BYTES = 512
    }
}

private class ByteReaderEntropy(private val read: (ByteArray, Int) -> Unit, private val inc: Long) : EntropySource {
    private val scratch = ByteArray(8)

    override fun fill(dst: ByteArray) = read(dst, dst.size)

    override fun increment(): Long {
        if (inc <= 1) return 1
        val bitLen = 64 - java.lang.Long.numberOfLeadingZeros(inc)
        val byteLen = (bitLen + 7) / 8
        val msBits = if (bitLen % 8 == 0) 8 else bitLen % 8
        var r = 0L
        while (r == 0L || java.lang.Long.compareUnsigned(r, inc) >= 0) {
            read(scratch, byteLen)
            scratch[0] = (scratch[0].toInt() and ((1 shl msBits) - 1)).toByte()
            val width = when (byteLen) {
                1 -> 1
                2 -> 2
                3, 4 -> 4
                else -> 8
            }
            r = 0L
            for (i in width - 1 downTo 0) r = (r shl 8) or (scratch[i].toLong() and 0xff)
        }
        return r + 1
    }
}
