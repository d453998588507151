package dev.tether.conformance.wsclient

import dev.tether.conformance.External
import dev.tether.core.ConnectionEvent
import dev.tether.wsclient.ConnectionLostException
import dev.tether.wsclient.DuplicateRequestIdException
import dev.tether.wsclient.Envelope
import dev.tether.wsclient.RequestTimeoutException
import dev.tether.wsclient.Ulid
import io.kotest.assertions.throwables.shouldThrow
import io.kotest.core.spec.style.FunSpec
import io.kotest.matchers.collections.shouldBeStrictlyIncreasing
import io.kotest.matchers.shouldBe
import io.kotest.matchers.string.shouldStartWith
import kotlinx.coroutines.async
import kotlinx.coroutines.awaitAll
import kotlinx.coroutines.coroutineScope
import kotlinx.coroutines.delay
import kotlinx.coroutines.launch
import kotlinx.coroutines.sync.Semaphore
import kotlinx.coroutines.sync.withPermit
import kotlinx.coroutines.withTimeout
import java.time.Duration
import java.util.Collections
import kotlin.time.Duration.Companion.milliseconds
import kotlin.time.Duration.Companion.seconds

/**
 * The correlation contract: ids, in_reply_to matching, late replies, drops and timeouts. Runs against the fake
 * broker, or an external one (`-Dtether.conformance.broker.url`); it talks `register` (which every nexus broker
 * answers) so it needs nothing the real broker lacks, except where a case needs fault control.
 */
class CorrelationConformanceSpec : FunSpec({
    val fakeOnly = BrokerSubject.external == null

    test("request ids are unique and strictly increasing per caller under 50 x 2000 concurrent calls") {
        val all = Collections.synchronizedSet(HashSet<String>())
        coroutineScope {
            repeat(50) {
                launch(kotlinx.coroutines.Dispatchers.Default) {
                    val mine = List(2000) { Envelope.request("x").id!! }
                    mine.shouldBeStrictlyIncreasing()
                    mine.forEach { id ->
                        id.length shouldBe 26
                        Ulid.parse(id)
                    }
                    all.addAll(mine)
                }
            }
        }
        all.size shouldBe 100_000
    }

    test("every reply completes the request whose id is its in_reply_to, with 200 in flight") {
        BrokerSubject.open().use { subject ->
            fastClient(subject.url, subject.token).use { client ->
                client.start()
                val requests = List(200) { Envelope.request("register", registration("corr-$it")) }
                val replies = coroutineScope { requests.map { r -> async { client.request(r) } }.awaitAll() }
                replies.zip(requests).forEach { (reply, request) ->
                    reply.inReplyTo shouldBe request.id
                    reply.kind shouldBe "register.ack"
                }
            }
        }
    }

    test("an error reply completes the request; the caller inspects the kind") {
        BrokerSubject.open().use { subject ->
            fastClient(subject.url, subject.token).use { client ->
                client.start()
                val request = Envelope.request("register", """{"name":""}""")
                val reply = client.request(request)
                reply.kind shouldBe "register.error"
                reply.inReplyTo shouldBe request.id
                reply.payload!! shouldStartWith """{"error":"""
            }
        }
    }

    test("a request without an id is refused at once") {
        BrokerSubject.open().use { subject ->
            fastClient(subject.url, subject.token).use { client ->
                shouldThrow<IllegalArgumentException> { client.request(Envelope.create("register", registration("a"))) }
            }
        }
    }

    test("a duplicate pending id is refused and the first request still gets its reply") {
        BrokerSubject.open().use { subject ->
            fastClient(subject.url, subject.token).use { client ->
                val request = Envelope.request("register", registration("dup"))
                coroutineScope {
                    // Not started yet, so the first request stays pending while the second is refused.
                    val first = async { client.request(request) }
                    while (client.stats().pendingRequests == 0) delay(1)
                    shouldThrow<DuplicateRequestIdException> { client.request(request) }.requestId shouldBe request.id
                    client.start()
                    first.await().inReplyTo shouldBe request.id
                }
            }
        }
    }

    test("a timeout frees its entry and leaves the connection up; the late reply goes to the handler")
        .config(enabledOrReasonIf = External.needsFake(fakeOnly, "the fake's fault controls (add latency)")) {
            BrokerSubject.open().use { subject ->
                val inbox = Inbox()
                fastClient(subject.url, subject.token, inbox).use { client ->
                    coroutineScope {
                        val events = recordEvents(client)
                        client.start()
                        events.await<ConnectionEvent.Connected>()
                        subject.fake!!.faults.latency(Duration.ofMillis(300))
                        val request = Envelope.request("echo", """{"late":true}""")
                        shouldThrow<RequestTimeoutException> { client.request(request, 50.milliseconds) }
                        client.stats().pendingRequests shouldBe 0
                        val late = inbox.next()
                        late.inReplyTo shouldBe request.id
                        client.stats().lateReplies shouldBe 1
                        subject.fake.faults.latency(Duration.ZERO)
                        client.request(Envelope.request("echo", "1")).payload shouldBe "1"
                        client.stats().drops shouldBe 0
                        coroutineContext.cancelChildrenQuietly()
                    }
                }
            }
        }

    test("pending requests fail with ConnectionLostException, not a timeout, when the connection drops")
        .config(
            enabledOrReasonIf = External.needsFake(
                fakeOnly,
                "the fake's fault controls (drop the connection) and its received frames",
            ),
        ) {
            BrokerSubject.open().use { subject ->
                fastClient(subject.url, subject.token).use { client ->
                    client.start()
                    client.awaitConnectedWithin()
                    coroutineScope {
                        // The broker drops unknown kinds silently, so these wait until the drop.
                        val waiting = List(10) {
                            async {
                                runCatching {
                                    client.request(
                                        Envelope.request("nobody.home"),
                                        30.seconds,
                                    )
                                }
                            }
                        }
                        withTimeout(10.seconds) {
                            while (subject.fake!!.received().count { it.kind == "nobody.home" } < 10) delay(5)
                        }
                        subject.fake!!.dropWhenConnected()
                        waiting.awaitAll().forEach { result ->
                            val e = result.exceptionOrNull()
                            (e is ConnectionLostException) shouldBe true
                            (e as ConnectionLostException).requestSent shouldBe true
                        }
                    }
                    client.stats().pendingRequests shouldBe 0
                }
            }
        }

    test("no pending entry leaks after 100 000 requests") {
        BrokerSubject.open().use { subject ->
            fastClient(subject.url, subject.token).use { client ->
                client.start()
                val gate = Semaphore(64)
                val payload = registration("leak")
                coroutineScope {
                    repeat(100_000) {
                        launch { gate.withPermit { client.request(Envelope.request("register", payload), 30.seconds) } }
                    }
                }
                client.stats().pendingRequests shouldBe 0
                client.stats().requestsTimedOut shouldBe 0
            }
        }
    }
})
