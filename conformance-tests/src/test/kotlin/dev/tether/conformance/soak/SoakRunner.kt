package dev.tether.conformance.soak

import kotlinx.coroutines.CoroutineName
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.coroutineScope
import kotlinx.coroutines.delay
import kotlinx.coroutines.joinAll
import kotlinx.coroutines.launch
import kotlinx.coroutines.withContext
import kotlinx.coroutines.withTimeoutOrNull
import java.lang.ref.WeakReference
import java.util.EnumMap
import java.util.concurrent.atomic.AtomicBoolean
import kotlin.random.Random
import kotlin.time.Duration
import kotlin.time.Duration.Companion.milliseconds
import kotlin.time.Duration.Companion.nanoseconds
import kotlin.time.Duration.Companion.seconds
import kotlin.time.TimeSource

/** What one client's soak saw: the report's row, and every broken invariant. */
internal class SoakResult(
    val client: String,
    val faults: Map<FaultKind, Int>,
    val recoveries: Int,
    val ok: Long,
    val typedErrors: Long,
    val worstRecovery: Duration?,
    val recoveryBound: Duration,
    val typedErrorsByName: Map<String, Long>,
    val notes: Map<String, Long>,
    val violations: List<String>,
    val violationCount: Long,
    val leaks: List<String>,
    val memory: String,
) {
    val passed: Boolean get() = violationCount == 0L && leaks.isEmpty()
}

/**
 * Drives one [SoakTarget] for [SoakSettings.duration]: workers run operations back to back while the fault
 * scheduler, one fault at a time, waits a random gap, injects a fault the fake has (dealt from a shuffled deck of
 * all of them), heals it and measures how long the client takes to complete an operation again. Then the workers
 * finish their operations (each bounded), the target is closed, and threads and memory must return to the baseline
 * taken before it started.
 */
internal class SoakRunner(private val settings: SoakSettings) {
    /**
     * Soaks the target [create] makes (after the baseline is taken, so its fake counts too) and checks what it left
     * behind once closed.
     */
    suspend fun run(create: () -> SoakTarget): SoakResult = withContext(Dispatchers.Default + CoroutineName("soak")) {
        val baseline = LeakProbe.take()
        // The target is only referenced inside soak(): once it returns, nothing here keeps the client reachable.
        val soaked = soak(create())
        val (leaks, memory) = baseline.awaitBaseline(LEAK_BOUND, TOLERANCE, soaked.collectable)
        soaked.result(leaks, memory)
    }

    /** What [soak] hands back: the figures and the client objects that must become unreachable. */
    private class Soaked(val collectable: List<WeakReference<Any>>, val result: (List<String>, String) -> SoakResult)

    private suspend fun soak(target: SoakTarget): Soaked {
        val ledger = Ledger()
        val random = Random(settings.seed xor target.name.hashCode().toLong())
        val injected = EnumMap<FaultKind, Int>(FaultKind::class.java)
        val recoveries = ArrayList<Duration>()
        try {
            val started = withTimeoutOrNull(START_BOUND) { target.start(ledger, Random(random.nextLong())) } != null
            if (started) {
                drive(target, ledger, random, injected, recoveries)
            } else {
                ledger.violation("${target.name} did not connect within $START_BOUND")
            }
            val unfinished = ledger.unfinished()
            if (unfinished.isNotEmpty()) {
                ledger.violation("${unfinished.size} operations never got an outcome: ${unfinished.take(10)}")
            }
        } finally {
            withTimeoutOrNull(CLOSE_BOUND) { target.close() }
                ?: ledger.violation("${target.name}: close did not return within $CLOSE_BOUND")
        }
        val name = target.name
        val bound = target.recoveryBound
        return Soaked(target.collectable()) { leaks, memory ->
            SoakResult(
                client = name,
                faults = injected,
                recoveries = recoveries.size,
                ok = ledger.ok,
                typedErrors = ledger.typedErrors,
                worstRecovery = recoveries.maxOrNull(),
                recoveryBound = bound,
                typedErrorsByName = ledger.typedErrorsByName(),
                notes = ledger.notes(),
                violations = ledger.violationTexts(),
                violationCount = ledger.violations,
                leaks = leaks,
                memory = memory,
            )
        }
    }

    /** The workers and the fault scheduler, for [SoakSettings.duration]; then the workers' last operations. */
    private suspend fun drive(
        target: SoakTarget,
        ledger: Ledger,
        random: Random,
        injected: MutableMap<FaultKind, Int>,
        recoveries: MutableList<Duration>,
    ): Unit = coroutineScope {
        val stopping = AtomicBoolean(false)
        val workers = List(minOf(settings.workers, target.maxWorkers)) { w ->
            val own = Random(random.nextLong())
            launch(CoroutineName("soak-worker-$w")) {
                while (!stopping.get()) {
                    // After a failure, wait for the reconnect rather than fail again at once.
                    if (!target.operate(w, own, ledger)) {
                        withTimeoutOrNull(target.recoveryBound) { target.awaitUsable() }
                    }
                }
            }
        }
        val probeRandom = Random(random.nextLong())
        // Faults are dealt from a shuffled deck of every kind the fake has: random, yet even a short soak gets each.
        val deck = ArrayList<Fault>()
        val end = TimeSource.Monotonic.markNow() + settings.duration
        while (end.hasNotPassedNow()) {
            // Real time between faults: this is the load, not a synchronisation.
            delay(random.nextLong(GAP_MIN_MILLIS, GAP_MAX_MILLIS).milliseconds)
            if (deck.isEmpty()) deck += target.faults.shuffled(random)
            val fault = deck.removeAt(deck.lastIndex)
            val hold = random.nextLong(HOLD_MIN_MILLIS, HOLD_MAX_MILLIS).milliseconds
            injected[fault.kind] = (injected[fault.kind] ?: 0) + 1
            withTimeoutOrNull(hold + INJECT_BOUND) { fault.inject(hold) }
                ?: ledger.violation("${target.name}: the ${fault.kind.label} fault did not heal within $INJECT_BOUND")
            val healed = System.nanoTime()
            val recovered = withTimeoutOrNull(target.recoveryBound) {
                while (true) {
                    target.awaitUsable()
                    if (target.operate(PROBE, probeRandom, ledger)) break
                }
                (System.nanoTime() - healed).nanoseconds
            }
            if (recovered == null) {
                ledger.violation(
                    "${target.name} did not complete an operation within ${target.recoveryBound} " +
                        "after a ${fault.kind.label} fault was healed",
                )
            } else {
                recoveries += recovered
            }
        }
        stopping.set(true)
        withTimeoutOrNull(DRAIN_BOUND) { workers.joinAll() } ?: run {
            ledger.violation("operations still running $DRAIN_BOUND after the soak ended")
            workers.forEach { it.cancel() }
        }
    }

    companion object {
        /** The worker number of the scheduler's recovery probe. */
        const val PROBE = -1

        private const val GAP_MIN_MILLIS = 100L
        private const val GAP_MAX_MILLIS = 400L
        private const val HOLD_MIN_MILLIS = 100L
        private const val HOLD_MAX_MILLIS = 600L
        private val START_BOUND = 20.seconds
        private val INJECT_BOUND = 10.seconds
        private val DRAIN_BOUND = 30.seconds
        private val CLOSE_BOUND = 15.seconds
        private val LEAK_BOUND = 15.seconds

        /**
         * Netty's allocator keeps freed chunks for reuse (its magazines and thread caches), and the first clients
         * of a JVM also fill them: up to 16 MiB above a baseline taken before any connection is that cache, not a
         * leak. The heap allowance covers what the JIT, class loading of the first run and the test framework add
         * between two GCs; the client objects themselves must be collected regardless.
         */
        val TOLERANCE = LeakProbe.Tolerance(directBytes = 16L shl 20, heapBytes = 64L shl 20)
    }
}
