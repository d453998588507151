package dev.tether.conformance.soak

import java.lang.ref.WeakReference
import kotlin.random.Random
import kotlin.time.Duration

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
