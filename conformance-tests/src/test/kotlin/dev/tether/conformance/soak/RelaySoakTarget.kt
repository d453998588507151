package dev.tether.conformance.soak

import dev.tether.core.ConnectionState
import dev.tether.core.backoff.ExponentialBackoff
import dev.tether.core.backoff.GuardBackoff
import dev.tether.relay.Manager
import dev.tether.relay.ManagerConfig
import dev.tether.relay.RelayClientConfig
import dev.tether.relay.RelayConn
import dev.tether.relay.TokenStore
import dev.tether.testkit.relay.FakeRelayServer
import kotlinx.coroutines.CancellationException
import kotlinx.coroutines.CoroutineName
import kotlinx.coroutines.CoroutineScope
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.Job
import kotlinx.coroutines.SupervisorJob
import kotlinx.coroutines.cancelAndJoin
import kotlinx.coroutines.delay
import kotlinx.coroutines.flow.MutableStateFlow
import kotlinx.coroutines.flow.first
import kotlinx.coroutines.flow.update
import kotlinx.coroutines.isActive
import kotlinx.coroutines.launch
import kotlinx.coroutines.sync.Mutex
import kotlinx.coroutines.sync.withLock
import java.lang.ref.WeakReference
import java.nio.ByteBuffer
import java.time.Duration
import java.time.Instant
import kotlin.random.Random
import kotlin.time.Duration.Companion.milliseconds
import kotlin.time.Duration.Companion.seconds
import kotlin.time.toKotlinDuration

/**
 * Two relay [Manager]s (peers A and B) on one [FakeRelayServer]: B echoes every message A sends it, A writes
 * batches of numbered messages and reads the echoes. A batch that completes must come back in order, without
 * duplicates; a message may only go missing while a peer was offline (the relay drops those without notice,
 * docs/relay.md), which is counted. Faults: drops, health-check silence (keepalive), secret rotation (the token
 * store gets a token for the new secret when healed), latency, refused logins. The fake relay cannot send
 * malformed messages.
 */
internal class RelaySoakTarget : SoakTarget {
    override val name: String = "relay Manager vs FakeRelayServer"

    private val guardBackoff = GuardBackoff(initialInterval = 50.milliseconds, maxInterval = 300.milliseconds)
    private val quickReconnect = 50.milliseconds
    private val relay = FakeRelayServer.start { healthCheckInterval(Duration.ofMillis(200)) }
    private val store = TokenStore(relay.token())
    private val config = ManagerConfig {
        quickReconnectDelay(quickReconnect)
        backoff(guardBackoff)
        cleanupInterval(Duration.ofMinutes(10))
        client(
            RelayClientConfig {
                dialTimeout(Duration.ofSeconds(2))
                handshakeTimeout(Duration.ofSeconds(2))
                healthCheckTimeout(Duration.ofSeconds(1))
                openConnTimeout(Duration.ofSeconds(3))
            },
        )
    }
    private val scope = CoroutineScope(SupervisorJob() + Dispatchers.Default + CoroutineName("soak-relay"))
    private var peerA: Manager? = null
    private var peerB: Manager? = null
    private var toB: RelayConn? = null
    private val listeners = mutableListOf<AutoCloseable>()
    private val references = mutableListOf<WeakReference<Any>>()
    private val disconnects = MutableStateFlow(0L)
    private val echoRestarts = MutableStateFlow(0L)
    private val echoReady = MutableStateFlow(false)
    private val exclusive = Mutex()
    private var nextSeq = 0L
    private var rotations = 0
    private lateinit var ledger: Ledger
    private lateinit var random: Random

    override val maxWorkers: Int = 1

    /**
     * The guard's longest wait (a quick reconnect, then ticks up to the interval cap ±50 %), plus the allowance,
     * plus one read deadline: the peers share one connection, so the probe may wait for a batch in flight.
     */
    override val recoveryBound: kotlin.time.Duration = maxOf(
        quickReconnect,
        guardBackoff.maxInterval * (1 + guardBackoff.randomizationFactor),
    ) + SoakTarget.RECOVERY_ALLOWANCE + READ_TIMEOUT.toKotlinDuration()

    private val standard = StandardFaults(relay.faults, { ledger }, { random })

    override val faults: List<Fault> = listOf(
        standard.drop(),
        standard.keepalive(disconnects, "$name: no session ended after health-check silence"),
        Fault(FaultKind.ROTATION) { hold ->
            relay.rotateCredentials("soak-secret-${++rotations}")
            relay.faults.dropAll()
            delay(hold) // logins with the old token are refused meanwhile
            store.update(relay.token())
        },
        standard.latency(),
        standard.refusal(),
    )

    override suspend fun start(ledger: Ledger, random: Random) {
        this.ledger = ledger
        this.random = random
        val a = Manager(listOf(relay.url), KEY_A, store, config)
        val b = Manager(listOf(relay.url), KEY_B, store, config)
        peerA = a
        peerB = b
        references += WeakReference(a)
        references += WeakReference(b)
        for ((peer, label) in listOf(a to "A", b to "B")) {
            listeners += peer.onEvent(soakEvents(ledger, "$name peer $label", disconnects))
        }
        a.connect()
        b.connect()
        val schedule = ExponentialBackoff(minDelay = 10.milliseconds, maxDelay = 200.milliseconds)
            .newSchedule(Random(random.nextLong()))
        scope.launch(CoroutineName("soak-relay-echo")) { echo(b, schedule) }
        awaitUsable()
    }

    /** Peer B: opens its connection to A (again after every loss) and sends back whatever arrives. */
    private suspend fun echo(b: Manager, schedule: ExponentialBackoff.Schedule) {
        while (scope.isActive) {
            val conn = try {
                b.awaitConnected()
                b.openConn(relay.instanceUrl, KEY_A)
            } catch (e: CancellationException) {
                throw e
            } catch (e: Exception) {
                ledger.checkTyped("$name peer B openConn", e)
                delay(schedule.nextDelayAfterFailedDial())
                continue
            }
            schedule.reset()
            echoReady.value = true
            try {
                while (true) conn.write(conn.read())
            } catch (e: CancellationException) {
                throw e
            } catch (e: Exception) {
                ledger.checkTyped("$name peer B echo", e)
            } finally {
                echoReady.value = false
                echoRestarts.update { it + 1 }
                conn.close()
            }
        }
    }

    override suspend fun operate(worker: Int, random: Random, ledger: Ledger): Boolean = exclusive.withLock {
        val a = peerA ?: return@withLock false
        ledger.record(GUARD) {
            val away = disconnects.value + echoRestarts.value
            val conn = toB?.takeIf { it.isOpen } ?: run {
                toB?.close()
                a.openConn(relay.instanceUrl, KEY_B).also { toB = it }
            }
            try {
                batch(conn, random, away)
            } catch (e: Throwable) {
                // Echoes still on their way belong to this batch: a fresh connection tells them apart by number.
                conn.close()
                toB = null
                throw e
            }
        }
    }

    /** Writes 1..8 numbered messages and reads their echoes; a text when they came back wrong. */
    private suspend fun batch(conn: RelayConn, random: Random, away: Long): String? {
        val first = nextSeq
        val count = random.nextInt(1, MAX_BATCH + 1)
        nextSeq += count
        for (seq in first until first + count) conn.write(message(seq, random))
        conn.setReadDeadline(Instant.now().plus(READ_TIMEOUT))
        var expect = first
        while (expect < first + count) {
            val seq = ByteBuffer.wrap(conn.read()).getLong()
            when {
                seq < first -> ledger.note("late echoes (of a failed batch)")

                seq < expect -> return "message $seq arrived again or out of order after ${expect - 1}"

                seq == expect -> expect++

                disconnects.value + echoRestarts.value != away -> {
                    ledger.note("messages lost while a peer was offline")
                    expect = seq + 1
                }

                else -> return "messages $expect..${seq - 1} never arrived, though both peers stayed online"
            }
        }
        return null
    }

    /** A message: its number, padded to a random length of up to 208 bytes. */
    private fun message(seq: Long, random: Random): ByteArray =
        ByteBuffer.allocate(Long.SIZE_BYTES + random.nextInt(0, 201)).putLong(seq).array()

    override suspend fun awaitUsable() {
        peerA?.state?.first { it == ConnectionState.CONNECTED }
        peerB?.state?.first { it == ConnectionState.CONNECTED }
        echoReady.first { it }
    }

    override suspend fun close() {
        try {
            scope.coroutineContext[Job]?.cancelAndJoin()
            listeners.forEach { it.close() }
            toB?.close()
            peerA?.closeAndJoin()
            peerB?.closeAndJoin()
        } finally {
            listeners.clear()
            toB = null
            peerA = null
            peerB = null
            relay.close()
        }
    }

    override fun collectable(): List<WeakReference<Any>> = references.toList()

    private companion object {
        const val KEY_A = "soak-peer-a"
        const val KEY_B = "soak-peer-b"
        const val MAX_BATCH = 8
        val READ_TIMEOUT: Duration = Duration.ofSeconds(1)
        val GUARD = 15.seconds
    }
}
