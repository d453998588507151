package dev.tether.conformance.soak

import dev.tether.core.DialerConfig
import dev.tether.core.WebSocketDialer
import dev.tether.core.backoff.ExponentialBackoff
import dev.tether.mux.MuxConfig
import dev.tether.mux.MuxException
import dev.tether.mux.MuxSession
import dev.tether.mux.Stream
import dev.tether.testkit.mux.FakeMuxServer
import dev.tether.testkit.mux.FakeMuxServerFaults
import dev.tether.testkit.mux.MalformedFrame
import kotlinx.coroutines.CancellationException
import kotlinx.coroutines.CoroutineName
import kotlinx.coroutines.CoroutineScope
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.Job
import kotlinx.coroutines.SupervisorJob
import kotlinx.coroutines.async
import kotlinx.coroutines.cancelAndJoin
import kotlinx.coroutines.coroutineScope
import kotlinx.coroutines.delay
import kotlinx.coroutines.flow.MutableStateFlow
import kotlinx.coroutines.flow.first
import kotlinx.coroutines.flow.update
import kotlinx.coroutines.isActive
import kotlinx.coroutines.launch
import java.io.ByteArrayOutputStream
import java.lang.ref.WeakReference
import java.time.Duration
import kotlin.random.Random
import kotlin.time.Duration.Companion.milliseconds
import kotlin.time.Duration.Companion.seconds
import kotlin.time.TimeSource

/**
 * [MuxSession] (client side) against [FakeMuxServer]'s echo streams. A session ends with its WebSocket, so the
 * soak redials as an application (or the tunnel client) does: a new connection and session after each end, waiting
 * the core [ExponentialBackoff] between attempts. Each operation opens a stream, writes a random number of random
 * bytes in random chunks, half-closes and reads the echo to its end: a stream that completed must return exactly
 * the bytes written, in order. Faults: drops, keepalive expiry, latency, refused upgrades, and every
 * [MalformedFrame] (the session must stay up). The mux has no credentials to rotate.
 */
internal class MuxSoakTarget : SoakTarget {
    override val name: String = "MuxSession vs FakeMuxServer"

    private val reconnectBackoff = ExponentialBackoff(minDelay = 10.milliseconds, maxDelay = 200.milliseconds)
    private val fake = FakeMuxServer.start()
    private val dialer = WebSocketDialer(
        DialerConfig(fake.url) {
            dialTimeout(Duration.ofSeconds(2))
            pingInterval(Duration.ofMillis(200))
            pongTimeout(Duration.ofMillis(300))
        },
    )
    private val scope = CoroutineScope(SupervisorJob() + Dispatchers.Default + CoroutineName("soak-mux"))
    private val current = MutableStateFlow<MuxSession?>(null)
    private val sessionEnds = MutableStateFlow(0L)
    private val references = mutableListOf<WeakReference<Any>>()
    private var synIds = SYN_FIRST_ID
    private lateinit var ledger: Ledger
    private lateinit var random: Random

    override val recoveryBound: kotlin.time.Duration =
        reconnectBackoff.maxDelay * (1 + reconnectBackoff.randomizationFactor) + SoakTarget.RECOVERY_ALLOWANCE

    private val standard = StandardFaults(fake.faults, { ledger }, { random })

    override val faults: List<Fault> = listOf(
        standard.drop(),
        standard.keepalive(sessionEnds, "$name: keepalive did not expire after unanswered pings"),
        standard.latency(),
        standard.refusal { fake.faults.refuseNext(it, 503) },
        Fault(FaultKind.MALFORMED) {
            val before = sessionEnds.value
            val upgrades = fake.upgrades()
            val frame = MalformedFrame.entries[random.nextInt(MalformedFrame.entries.size)]
            // A SYN opens the stream it names (the client accepts and closes it): each one gets a fresh id.
            val id = if (frame == MalformedFrame.SYN_WITH_PAYLOAD) nextSynId() else FakeMuxServerFaults.UNUSED_STREAM_ID
            fake.faults.sendMalformed(frame, id)
            // Frames are handled in order: a stream that completes after them shows they were handled.
            operate(AFTER_MALFORMED, random, ledger)
            if (sessionEnds.value != before || fake.upgrades() != upgrades) {
                ledger.violation("$name: a ${frame.description} ended the session")
            }
        },
    )

    private fun nextSynId(): Int {
        synIds += 2
        if (synIds >= FakeMuxServerFaults.UNUSED_STREAM_ID) synIds = SYN_FIRST_ID
        return synIds
    }

    override suspend fun start(ledger: Ledger, random: Random) {
        this.ledger = ledger
        this.random = random
        val schedule = reconnectBackoff.newSchedule(Random(random.nextLong()))
        scope.launch(CoroutineName("soak-mux-redial")) {
            while (isActive) {
                val session = try {
                    MuxSession.client(dialer.dial(), MuxConfig { streamAcceptDeadline(Duration.ofSeconds(2)) })
                } catch (e: CancellationException) {
                    throw e
                } catch (e: Exception) {
                    ledger.checkTyped("$name dial", e)
                    delay(schedule.nextDelayAfterFailedDial())
                    continue
                }
                val since = TimeSource.Monotonic.markNow()
                synchronized(references) { if (references.size < KEPT_REFERENCES) references += WeakReference(session) }
                val acceptor = launch { acceptAndClose(session) }
                current.value = session
                val end = session.awaitClosed()
                ledger.checkTyped("$name session end", end)
                current.value = null
                sessionEnds.update { it + 1 }
                acceptor.cancelAndJoin()
                session.closeAndJoin()
                delay(schedule.nextDelayAfterDrop(since.elapsedNow()))
            }
        }
        awaitUsable()
    }

    /** Streams the server opens (the malformed SYN) are accepted and closed, as a client that wants none does. */
    private suspend fun acceptAndClose(session: MuxSession) {
        try {
            while (true) session.accept().close()
        } catch (e: MuxException) {
            // the session ended
        }
    }

    override suspend fun operate(worker: Int, random: Random, ledger: Ledger): Boolean {
        val session = current.value ?: return false
        return ledger.record(GUARD) {
            val stream = session.open()
            stream.readTimeout = STREAM_TIMEOUT
            stream.writeTimeout = STREAM_TIMEOUT
            val sent = ByteArray(random.nextInt(1, MAX_STREAM_BYTES)).also { random.nextBytes(it) }
            val echoed = coroutineScope {
                val reader = async { readToEnd(stream) }
                var offset = 0
                while (offset < sent.size) {
                    val n = minOf(random.nextInt(1, MAX_CHUNK), sent.size - offset)
                    stream.write(sent, offset, n)
                    offset += n
                }
                stream.close()
                reader.await()
            }
            mismatch(stream, sent, echoed)
        }
    }

    private suspend fun readToEnd(stream: Stream): ByteArray {
        val out = ByteArrayOutputStream()
        val buffer = ByteArray(READ_BUFFER)
        while (true) {
            val n = stream.read(buffer)
            if (n < 0) return out.toByteArray()
            out.write(buffer, 0, n)
        }
    }

    private fun mismatch(stream: Stream, sent: ByteArray, echoed: ByteArray): String? {
        if (sent.contentEquals(echoed)) return null
        val first = sent.indices.firstOrNull { it >= echoed.size || sent[it] != echoed[it] } ?: sent.size
        return "stream ${stream.id}: wrote ${sent.size} bytes, read back ${echoed.size}, first difference at $first"
    }

    override suspend fun awaitUsable() {
        current.first { it != null && it.isOpen }
    }

    override suspend fun close() {
        try {
            scope.coroutineContext[Job]?.cancelAndJoin()
            current.value?.closeAndJoin()
        } finally {
            current.value = null
            dialer.close()
            fake.close()
        }
    }

    override fun collectable(): List<WeakReference<Any>> = synchronized(references) { references.toList() }

    private companion object {
        val GUARD = 15.seconds
        val STREAM_TIMEOUT: Duration = Duration.ofSeconds(5)
        const val MAX_STREAM_BYTES = 48 * 1024
        const val MAX_CHUNK = 9000
        const val READ_BUFFER = 4096
        const val AFTER_MALFORMED = -2
        const val SYN_FIRST_ID = 0x7F00_0000
        const val KEPT_REFERENCES = 64
    }
}
