@file:OptIn(ExperimentalCoroutinesApi::class)

package dev.tether.conformance.backoff

import dev.tether.core.backoff.ExponentialBackoff
import dev.tether.core.backoff.GuardBackoff
import kotlinx.coroutines.ExperimentalCoroutinesApi
import kotlinx.coroutines.delay
import kotlinx.coroutines.test.TestScope
import kotlinx.coroutines.test.currentTime
import kotlin.time.Duration

/** What a simulated peer does with one dial. */
sealed interface DialOutcome {
    /** The dial fails (refused, 5xx, time-out...). */
    data object Refused : DialOutcome

    /** The dial succeeds and the peer closes the connection after [lifetime]. */
    data class Accepted(val lifetime: Duration) : DialOutcome
}

/**
 * Drives a reconnect loop the way a client uses [ExponentialBackoff]: dial at once, then wait whatever the
 * schedule says after each failed dial or drop. Runs in the caller's (virtual) time and returns the virtual
 * times, in milliseconds, at which dials happened; stops after [maxDials] dials or once the clock passes [until].
 */
suspend fun TestScope.reconnectLoop(
    schedule: ExponentialBackoff.Schedule,
    maxDials: Int = Int.MAX_VALUE,
    until: Duration = Duration.INFINITE,
    peer: (dial: Int) -> DialOutcome,
): List<Long> {
    val dials = mutableListOf<Long>()
    while (dials.size < maxDials && currentTime <= until.inWholeMilliseconds) {
        dials += currentTime
        when (val outcome = peer(dials.size)) {
            DialOutcome.Refused -> delay(schedule.nextDelayAfterFailedDial())

            is DialOutcome.Accepted -> {
                delay(outcome.lifetime)
                delay(schedule.nextDelayAfterDrop(outcome.lifetime))
            }
        }
    }
    return dials
}

/** The virtual times (ms) of the first [ticks] ticks of a guard loop that waits [GuardBackoff.Schedule.next]. */
suspend fun TestScope.guardTicks(schedule: GuardBackoff.Schedule, ticks: Int): List<Long> = List(ticks) {
    delay(schedule.next())
    currentTime
}
