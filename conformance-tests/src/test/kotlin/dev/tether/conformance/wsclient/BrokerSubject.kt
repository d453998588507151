package dev.tether.conformance.wsclient

import dev.tether.testkit.FakeBroker
import dev.tether.testkit.FakeBrokerConfig
/**
 * The broker a conformance suite runs against: the testkit fake by default, or an external broker when
 * `-Dtether.conformance.broker.url=ws://host:port/connect` is set (with `-Dtether.conformance.broker.token=T`).
 * [fake] is null for an external broker: cases that need fault control are skipped there.
 */
class BrokerSubject private constructor(val url: String, val token: String, val fake: FakeBroker?) : AutoCloseable {
    override fun close() {
        fake?.close()
    }

    companion object {
        val external: String? = System.getProperty("tether.conformance.broker.url")?.takeIf { it.isNotBlank() }

        fun open(options: FakeBrokerConfig.Builder.() -> Unit = {}): BrokerSubject {
            val url = external
            return if (url != null) {
                BrokerSubject(url, System.getProperty("tether.conformance.broker.token", ""), null)
            } else {
                val broker = FakeBroker.start(options)
                BrokerSubject(broker.url, broker.token, broker)
            }
        }
    }
}
