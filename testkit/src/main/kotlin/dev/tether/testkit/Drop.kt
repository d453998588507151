package dev.tether.testkit

import kotlinx.coroutines.CoroutineScope
import kotlinx.coroutines.cancel
import kotlinx.coroutines.isActive

/**
 * The fakes' drop fault: cancels the connection scope of every element and returns how many were still active. A
 * connection an earlier drop cancelled stays listed until it has wound down; it is not counted again.
 */
internal inline fun <T> Collection<T>.dropEach(scopeOf: (T) -> CoroutineScope): Int {
    var dropped = 0
    for (element in snapshot()) {
        val scope = scopeOf(element)
        if (scope.isActive) dropped++
        scope.cancel()
    }
    return dropped
}
