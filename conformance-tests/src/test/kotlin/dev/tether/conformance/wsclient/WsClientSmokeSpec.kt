package dev.tether.conformance.wsclient

import dev.tether.core.ConnectionEvent
import dev.tether.testkit.FakeBroker
import dev.tether.wsclient.Envelope
import io.kotest.core.spec.style.FunSpec
import io.kotest.matchers.shouldBe
import kotlinx.coroutines.cancelChildren
import kotlinx.coroutines.coroutineScope

class WsClientSmokeSpec : FunSpec({
    test("connects, correlates an echo and reconnects after a drop") {
        FakeBroker.start().use { broker ->
            fastClient(broker).use { client ->
                coroutineScope {
                    val events = recordEvents(client)
                    client.start()
                    events.await<ConnectionEvent.Connected>()
                    val request = Envelope.request("echo", """{"n":1}""")
                    val reply = client.request(request)
                    reply.inReplyTo shouldBe request.id
                    reply.payload shouldBe """{"n":1}"""
                    broker.dropWhenConnected() shouldBe 1
                    events.await<ConnectionEvent.Disconnected>()
                    events.await<ConnectionEvent.Connected>()
                    client.request(Envelope.request("echo", """{"n":2}""")).payload shouldBe """{"n":2}"""
                    coroutineContext.cancelChildren()
                }
            }
        }
    }
})
