package dev.tether.conformance.soak

import dev.tether.core.ConnectionEvent
import dev.tether.testkit.Faults
import kotlinx.coroutines.delay
import kotlinx.coroutines.flow.MutableStateFlow
import kotlinx.coroutines.flow.StateFlow
import kotlinx.coroutines.flow.first
import kotlinx.coroutines.flow.update
import kotlinx.coroutines.withTimeoutOrNull
import java.lang.ref.WeakReference
import java.util.function.Consumer
import kotlin.random.Random
import kotlin.time.Duration
import kotlin.time.Duration.Companion.seconds

/**
 * One client against its testkit fake, as the soak drives it. Made without I/O; [start] connects; [operate] runs
 * one acknowledged operation and records its outcome in the ledger; [faults] are what the fake can inject;
 * [close] closes the client and the fake and drops every reference to the client.
 */
internal interface SoakTarget {
    /** The report's name for it: `WsClient vs FakeBroker`. */
    val name: String

    /** The faults this fake can inject, each healed before it returns. */
    val faults: List<Fault>

    /**
     * The longest a client may take, after a fault is healed, to complete an operation again: its backoff's
     * longest wait (jitter included) plus [RECOVERY_ALLOWANCE].
     */
    val recoveryBound: Duration

    /** How many operations may run at once (a relay connection is one per peer pair). */
    val maxWorkers: Int get() = Int.MAX_VALUE

    /** Starts the fake's client (connected when this returns); failures it reports are checked against [ledger]. */
    suspend fun start(ledger: Ledger, random: Random)

    /** Runs one operation; true when it completed right. */
    suspend fun operate(worker: Int, random: Random, ledger: Ledger): Boolean

    /** Suspends until the client is connected again (callers bound it). */
    suspend fun awaitUsable()

    /** Closes the client and the fake; afterwards the target holds no reference to the client. */
    suspend fun close()

    /** The client objects, which must become unreachable after [close]. */
    fun collectable(): List<WeakReference<Any>>

    companion object {
        /**
         * Time for one dial, handshake and round trip after the last backoff wait, on a two-core machine that is
         * also running the build and the fakes: loopback dials take milliseconds there, but a GC pause or a busy
         * neighbour can take hundreds; 3 s is ten times the worst we measured (docs/soak.md).
         */
        val RECOVERY_ALLOWANCE: Duration = Duration.parse("3s")
    }
}

/**
 * The faults every testkit fake offers through its [Faults], in the one shape every target injects them. [ledger]
 * and [random] are read when a fault runs (targets set theirs in [SoakTarget.start]).
 */
internal class StandardFaults(
    private val faults: Faults,
    private val ledger: () -> Ledger,
    private val random: () -> Random,
) {
    /** Every connection dropped at once. */
    fun drop(): Fault = Fault(FaultKind.DROP) { faults.dropAll() }

    /**
     * The fake stops answering keepalives until the client's connection ends ([ends] moves past its value), which
     * must happen within [KEEPALIVE_BOUND]; [what] names the silence in the violation.
     */
    fun keepalive(ends: StateFlow<Long>, what: String): Fault = Fault(FaultKind.KEEPALIVE) {
        val before = ends.value
        faults.stopKeepalive(true)
        withTimeoutOrNull(KEEPALIVE_BOUND) { ends.first { it > before } }
            ?: ledger().violation("$what within $KEEPALIVE_BOUND")
        faults.stopKeepalive(false)
    }

    /** Every message delayed by a random 50-400 ms while the fault holds. */
    fun latency(): Fault = Fault(FaultKind.LATENCY) { hold ->
        faults.latency(java.time.Duration.ofMillis(random().nextLong(LATENCY_MIN_MILLIS, LATENCY_MAX_MILLIS)))
        delay(hold)
        faults.latency(java.time.Duration.ZERO)
    }

    /** The next 1-3 dials refused ([refuse] picks how, e.g. with an HTTP status), every connection dropped. */
    fun refusal(refuse: (count: Int) -> Unit = faults::refuseNext): Fault = Fault(FaultKind.REFUSAL) { hold ->
        refuse(random().nextInt(1, 4))
        faults.dropAll()
        delay(hold)
        faults.refuseNext(0)
    }

    companion object {
        /** How long a client may take to notice a peer that stopped answering keepalives. */
        val KEEPALIVE_BOUND: Duration = 5.seconds
        const val LATENCY_MIN_MILLIS = 50L
        const val LATENCY_MAX_MILLIS = 400L
    }
}

/**
 * A client's event listener for the soak: every [ConnectionEvent.Disconnected] and [ConnectionEvent.DialFailed]
 * cause must be a typed error ([Ledger.checkTyped], named after [label]); disconnects are counted in [disconnects].
 */
internal fun soakEvents(ledger: Ledger, label: String, disconnects: MutableStateFlow<Long>): Consumer<ConnectionEvent> =
    Consumer { event ->
        when (event) {
            is ConnectionEvent.Disconnected -> {
                ledger.checkTyped("$label Disconnected", event.cause)
                disconnects.update { it + 1 }
            }

            is ConnectionEvent.DialFailed -> ledger.checkTyped("$label DialFailed", event.cause)

            else -> Unit
        }
    }
