package dev.tether.wamp

import org.slf4j.Marker
import org.slf4j.event.Level
import org.slf4j.helpers.LegacyAbstractLogger
import org.slf4j.helpers.MessageFormatter
import java.util.concurrent.CopyOnWriteArrayList

/** An SLF4J logger that keeps every formatted message (all levels enabled), for asserting what a session logs. */
class CapturingLogger(private val loggerName: String = "capture") : LegacyAbstractLogger() {
    val lines: MutableList<String> = CopyOnWriteArrayList()

    override fun getName(): String = loggerName
    override fun isTraceEnabled(): Boolean = true
    override fun isDebugEnabled(): Boolean = true
    override fun isInfoEnabled(): Boolean = true
    override fun isWarnEnabled(): Boolean = true
    override fun isErrorEnabled(): Boolean = true
    override fun getFullyQualifiedCallerName(): String? = null

    override fun handleNormalizedLoggingCall(
        level: Level,
        marker: Marker?,
        pattern: String?,
        args: Array<out Any?>?,
        throwable: Throwable?,
    ) {
        lines += "$level " + MessageFormatter.basicArrayFormat(pattern, args)
    }
}
