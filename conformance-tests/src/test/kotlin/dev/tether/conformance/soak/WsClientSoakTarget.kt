package dev.tether.conformance.soak

import dev.tether.core.TokenProvider
import dev.tether.core.backoff.ExponentialBackoff
import dev.tether.testkit.FakeBroker
import dev.tether.wsclient.Envelope
import dev.tether.wsclient.EnvelopeHandler
import dev.tether.wsclient.WsClient
import dev.tether.wsclient.WsClientConfig
import kotlinx.coroutines.delay
import kotlinx.coroutines.flow.MutableStateFlow
import kotlinx.coroutines.future.await
import java.lang.ref.WeakReference
import java.time.Duration
import java.util.concurrent.ConcurrentHashMap
import kotlin.random.Random
import kotlin.time.Duration.Companion.milliseconds
import kotlin.time.Duration.Companion.seconds

/**
 * [WsClient] against [FakeBroker]: `echo` requests (half the workers through the Java face), each of which must
 * come back once, to its caller, with its payload, or fail typed; a reply that also reaches the handler (a second
 * outcome) is a violation. Faults: drops, keepalive expiry, token rotation (through a token provider), latency,
 * refused upgrades (HTTP 503), malformed and binary frames (the connection must stay up).
 */
internal class WsClientSoakTarget : SoakTarget {
    override val name: String = "WsClient vs FakeBroker"

    private val reconnectBackoff = ExponentialBackoff(minDelay = 10.milliseconds, maxDelay = 200.milliseconds)
    private val broker = FakeBroker.start { tokens(tokenFor(0)) }

    @Volatile private var token = tokenFor(0)
    private var rotations = 0
    private val disconnects = MutableStateFlow(0L)
    private val outstanding = ConcurrentHashMap<String, Request>()
    private lateinit var ledger: Ledger
    private lateinit var random: Random
    private var reference: WeakReference<Any>? = null
    private var client: WsClient? = null
    private var listener: AutoCloseable? = null

    override val recoveryBound: kotlin.time.Duration =
        reconnectBackoff.maxDelay * (1 + reconnectBackoff.randomizationFactor) + SoakTarget.RECOVERY_ALLOWANCE

    /** One request in flight or failed: a reply reaching the handler is fine only after a failure. */
    private class Request {
        var replied = false
        var late = false
    }

    private val standard = StandardFaults(broker.faults, { ledger }, { random })

    override val faults: List<Fault> = listOf(
        standard.drop(),
        standard.keepalive(disconnects, "$name: keepalive did not expire after unanswered pings"),
        Fault(FaultKind.ROTATION) { hold ->
            val next = tokenFor(++rotations)
            broker.rotateCredentials(next)
            broker.faults.dropAll()
            delay(hold) // the client's dials are refused with 401 meanwhile
            token = next
        },
        standard.latency(),
        standard.refusal { broker.faults.refuseNext(it, 503) },
        Fault(FaultKind.MALFORMED) {
            val upgrades = broker.acceptedUpgrades()
            val before = disconnects.value
            broker.broadcastRaw(MALFORMED_TEXT[random.nextInt(MALFORMED_TEXT.size)])
            broker.broadcastBinary(byteArrayOf(1, 2, 3))
            // Frames are handled in order: once a request sent now is answered, the bad frames were handled.
            operate(AFTER_MALFORMED, random, ledger)
            if (disconnects.value != before || broker.acceptedUpgrades() != upgrades) {
                ledger.violation("$name: malformed frames cost the connection")
            }
        },
    )

    override suspend fun start(ledger: Ledger, random: Random) {
        this.ledger = ledger
        this.random = random
        val handler = EnvelopeHandler { envelope -> lateReply(envelope) }
        val c = WsClient(
            WsClientConfig(broker.url, handler) {
                tokenProvider(TokenProvider { token })
                backoff(reconnectBackoff)
                requestTimeout(Duration.ofSeconds(2))
                dialTimeout(Duration.ofSeconds(2))
                pingInterval(Duration.ofMillis(200))
                pongTimeout(Duration.ofMillis(300))
            },
        )
        client = c
        reference = WeakReference(c)
        listener = c.onEvent(soakEvents(ledger, name, disconnects))
        c.connect()
    }

    override suspend fun operate(worker: Int, random: Random, ledger: Ledger): Boolean {
        val c = client ?: return false
        return ledger.record(GUARD) { op ->
            val payload = "\"w$worker-${op.id}-${random.nextInt(0, Int.MAX_VALUE)}\""
            val request = Envelope.request("echo", payload)
            val id = request.id!!
            val state = Request()
            outstanding[id] = state
            // Half the workers go through the Java face: its future must complete exactly once too.
            val reply = if (worker % 2 == 0) c.request(request) else c.requestAsync(request).await()
            val late = synchronized(state) {
                state.replied = true
                state.late
            }
            outstanding.remove(id)
            when {
                late -> "the reply to $id also reached the handler"
                reply.inReplyTo != id -> "request $id answered by a reply to ${reply.inReplyTo}"
                reply.payload != payload -> "request $id: payload ${reply.payload}, sent $payload"
                else -> null
            }
        }
    }

    /** A reply the client handed to the handler: only a request that failed may get one (late, after a timeout). */
    private fun lateReply(envelope: Envelope) {
        val id = envelope.inReplyTo ?: return
        val state = outstanding[id]
        if (state == null) {
            ledger.violation("$name: a reply to $id reached the handler after its request had its reply")
            return
        }
        val twice = synchronized(state) {
            state.late = true
            state.replied
        }
        if (twice) ledger.violation("$name: the reply to $id reached both its caller and the handler")
        ledger.note("late replies (to the handler)")
    }

    override suspend fun awaitUsable() {
        client?.awaitConnected()
    }

    override suspend fun close() {
        listener?.close()
        listener = null
        try {
            client?.closeAndJoin()
        } finally {
            client = null
            outstanding.clear()
            broker.close()
        }
    }

    override fun collectable(): List<WeakReference<Any>> = listOfNotNull(reference)

    private companion object {
        val GUARD = 10.seconds
        const val AFTER_MALFORMED = -2
        val MALFORMED_TEXT = listOf("not json", """{"kind":""}""", "[1,2,3]", """{"kind":"x","id":7}""")

        fun tokenFor(n: Int) = "soak-token-$n"
    }
}
