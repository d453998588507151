package dev.tether.conformance.soak

import dev.tether.core.backoff.ExponentialBackoff
import dev.tether.testkit.wamp.FakeWampRouter
import dev.tether.testkit.wamp.RouterUser
import dev.tether.wamp.InvokeResult
import dev.tether.wamp.ReconnectPolicy
import dev.tether.wamp.SessionConfig
import dev.tether.wamp.WampClient
import dev.tether.wamp.auth.AuthHandler
import dev.tether.wamp.message.Authenticate
import kotlinx.coroutines.delay
import kotlinx.coroutines.flow.MutableStateFlow
import kotlinx.coroutines.future.await
import java.lang.ref.WeakReference
import java.time.Duration
import java.util.concurrent.ConcurrentHashMap
import java.util.concurrent.atomic.AtomicInteger
import kotlin.random.Random
import kotlin.time.Duration.Companion.milliseconds
import kotlin.time.Duration.Companion.seconds

/**
 * [WampClient] against [FakeWampRouter] over RawSocket (where the router's keepalive fault applies), with ticket
 * authentication: the client registers `soak.echo` (restored on every new session) and calls it, half the workers
 * through the Java face. Each call must return its own argument, or fail typed; the callee counts invocations, and
 * no call may be invoked twice (the client never repeats a call on its own) nor succeed without being invoked once.
 * Faults: drops, RawSocket PING silence, ticket rotation, latency, refused joins (ABORT). The router cannot send
 * malformed messages.
 */
internal class WampSoakTarget : SoakTarget {
    override val name: String = "WampClient vs FakeWampRouter"

    private val reconnectBackoff = ExponentialBackoff(minDelay = 10.milliseconds, maxDelay = 200.milliseconds)
    private val router = FakeWampRouter.start {
        realm(REALM, anonymous = false)
        ticketUser(AUTH_ID, ticketFor(0))
    }

    @Volatile private var ticket = ticketFor(0)
    private var rotations = 0
    private val disconnects = MutableStateFlow(0L)
    private val invocations = ConcurrentHashMap<Long, AtomicInteger>()
    private var client: WampClient? = null
    private var listener: AutoCloseable? = null
    private var reference: WeakReference<Any>? = null
    private lateinit var ledger: Ledger
    private lateinit var random: Random

    override val recoveryBound: kotlin.time.Duration =
        reconnectBackoff.maxDelay * (1 + reconnectBackoff.randomizationFactor) + SoakTarget.RECOVERY_ALLOWANCE

    private val standard = StandardFaults(router.faults, { ledger }, { random })

    override val faults: List<Fault> = listOf(
        standard.drop(),
        standard.keepalive(disconnects, "$name: keepalive did not expire after unanswered PINGs"),
        Fault(FaultKind.ROTATION) { hold ->
            val next = ticketFor(++rotations)
            router.rotateCredentials(RouterUser.Ticket(AUTH_ID, next))
            router.faults.dropAll()
            delay(hold) // joins with the old ticket are refused meanwhile
            ticket = next
        },
        standard.latency(),
        standard.refusal(),
    )

    override suspend fun start(ledger: Ledger, random: Random) {
        this.ledger = ledger
        this.random = random
        val config = SessionConfig.builder(REALM)
            .authId(AUTH_ID)
            .authHandler("ticket", AuthHandler { Authenticate(ticket, emptyMap()) })
            .responseTimeout(Duration.ofSeconds(2))
            .callTimeout(Duration.ofSeconds(2))
            .dialTimeout(Duration.ofSeconds(2))
            .pingInterval(Duration.ofMillis(200))
            .pongTimeout(Duration.ofMillis(300))
            .build()
        val policy = ReconnectPolicy {
            backoff(reconnectBackoff)
            joinWait(Duration.ofSeconds(3))
        }
        val c = WampClient(router.tcpUrl, config, policy)
        client = c
        reference = WeakReference(c)
        listener = c.onEvent(soakEvents(ledger, name, disconnects))
        c.connect()
        c.register(PROCEDURE) { invocation ->
            val id = (invocation.args.firstOrNull() as? Number)?.toLong()
            if (id != null) {
                val count = invocations.computeIfAbsent(id) { AtomicInteger() }.incrementAndGet()
                if (count > 1) ledger.violation("$name: call $id was invoked $count times")
            }
            InvokeResult.of(id)
        }
    }

    override suspend fun operate(worker: Int, random: Random, ledger: Ledger): Boolean {
        val c = client ?: return false
        return ledger.record(GUARD) { op ->
            val result = if (worker % 2 == 0) {
                c.call(PROCEDURE, listOf(op.id))
            } else {
                c.callAsync(PROCEDURE, listOf(op.id)).await()
            }
            val invoked = invocations.remove(op.id)?.get() ?: 0
            val returned = (result.args.firstOrNull() as? Number)?.toLong()
            when {
                returned != op.id -> "call ${op.id} returned ${result.args}"
                invoked != 1 -> "call ${op.id} succeeded after $invoked invocations"
                else -> null
            }
        }
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
            router.close()
        }
    }

    override fun collectable(): List<WeakReference<Any>> = listOfNotNull(reference)

    private companion object {
        const val REALM = "soak"
        const val AUTH_ID = "soak-user"
        const val PROCEDURE = "soak.echo"
        val GUARD = 15.seconds

        fun ticketFor(n: Int) = "soak-ticket-$n"
    }
}
