@file:OptIn(dev.tether.core.InternalTetherApi::class)

package dev.tether.wamp.transport

import dev.tether.core.ConnectionClosedException
import dev.tether.core.KeepAliveExpiredException
import dev.tether.wamp.error.MessageTooLongException
import dev.tether.wamp.message.Goodbye
import dev.tether.wamp.rawsocket.FrameHeader
import dev.tether.wamp.rawsocket.RawSocketProtocol
import dev.tether.wamp.serializer.JsonSerializer
import io.kotest.core.spec.style.FunSpec
import io.kotest.matchers.shouldBe
import io.kotest.matchers.types.shouldBeInstanceOf
import io.ktor.utils.io.ByteChannel
import io.ktor.utils.io.ByteReadChannel
import io.ktor.utils.io.ByteWriteChannel
import io.ktor.utils.io.cancel
import io.ktor.utils.io.close
import io.ktor.utils.io.readFully
import io.ktor.utils.io.writeFully
import kotlinx.coroutines.ExperimentalCoroutinesApi
import kotlinx.coroutines.launch
import kotlinx.coroutines.test.StandardTestDispatcher
import kotlinx.coroutines.test.advanceTimeBy
import kotlinx.coroutines.test.runCurrent
import kotlinx.coroutines.test.runTest
import kotlin.time.Duration.Companion.minutes
import kotlin.time.Duration.Companion.seconds

/**
 * [RawSocketPeer], the coroutine-read RawSocket of the testkit router and of a caller's own socket, over in-memory
 * byte channels: the test plays the router, and the keepalive runs in virtual time.
 */
@OptIn(ExperimentalCoroutinesApi::class)
class RawSocketPeerSpec : FunSpec({
    /** Both directions of one RawSocket: what the peer reads ([toPeer]) and what it writes ([fromPeer]). */
    class Wire {
        val toPeer = ByteChannel()
        val fromPeer = ByteChannel()

        fun peer(recvLimit: Int = RawSocketProtocol.DEFAULT_MAX_LENGTH): RawSocketPeer = RawSocketPeer(
            toPeer,
            fromPeer,
            JsonSerializer(),
            sendLimit = RawSocketProtocol.DEFAULT_MAX_LENGTH,
            recvLimit = recvLimit,
            description = "rawsocket test",
            onClose = {
                fromPeer.close()
                toPeer.cancel(null)
            },
        )
    }

    suspend fun ByteReadChannel.readFrame(): Pair<Int, ByteArray> {
        val header = FrameHeader.decode(ByteArray(RawSocketProtocol.FRAME_HEADER_LENGTH).also { readFully(it) })
        return header.type to ByteArray(header.length).also { readFully(it) }
    }

    suspend fun ByteWriteChannel.writeFrame(type: Int, payload: ByteArray) {
        writeFully(FrameHeader(type, payload.size).encode())
        writeFully(payload)
        flush()
    }

    test("closing the peer stops its keepalive: the loop has ended when close returns, and no PING follows") {
        runTest {
            val wire = Wire()
            val peer = wire.peer()
            // PONGs arrive through receive(): a reader, as a session has.
            val reader = launch { runCatching { while (true) peer.receive() } }
            var pings = 0
            val router = launch {
                runCatching {
                    while (true) {
                        val (type, payload) = wire.fromPeer.readFrame()
                        if (type == RawSocketProtocol.TYPE_PING) {
                            pings++
                            wire.toPeer.writeFrame(RawSocketProtocol.TYPE_PONG, payload)
                        }
                    }
                }
            }
            peer.startKeepAlive(1.seconds, 1.seconds, StandardTestDispatcher(testScheduler))
            advanceTimeBy(3.5.seconds)
            runCurrent()
            pings shouldBe 3
            peer.keepAliveRunning shouldBe true

            peer.close()
            peer.keepAliveRunning shouldBe false
            advanceTimeBy(10.minutes)
            runCurrent()
            pings shouldBe 3
            router.join()
            reader.join()
        }
    }

    test("a PING or PONG longer than this side's limit closes the peer from its header, before any payload") {
        for (type in listOf(RawSocketProtocol.TYPE_PING, RawSocketProtocol.TYPE_PONG)) {
            runTest {
                val wire = Wire()
                val peer = wire.peer(recvLimit = 512)
                // Only the header: a peer that waited for the 1 MiB payload would never fail.
                wire.toPeer.writeFully(FrameHeader(type, 1 shl 20).encode())
                wire.toPeer.flush()
                val failure = runCatching { peer.receive() }.exceptionOrNull()
                val tooLong = failure.shouldBeInstanceOf<MessageTooLongException>()
                tooLong.length shouldBe (1L shl 20)
                tooLong.limit shouldBe 512L
                wire.fromPeer.isClosedForWrite shouldBe true
            }
        }
    }

    test("an unanswered PING closes the peer and receive fails with KeepAliveExpiredException") {
        runTest {
            val wire = Wire()
            val peer = wire.peer()
            val received = launch {
                val failure = runCatching { peer.receive() }.exceptionOrNull()
                (failure is KeepAliveExpiredException) shouldBe true
            }
            peer.startKeepAlive(1.seconds, 2.seconds, StandardTestDispatcher(testScheduler))
            advanceTimeBy(1.5.seconds)
            runCurrent()
            wire.fromPeer.readFrame().first shouldBe RawSocketProtocol.TYPE_PING
            advanceTimeBy(2.seconds)
            runCurrent()
            received.join()
            peer.keepAliveRunning shouldBe false
            runCatching { peer.send(Goodbye(emptyMap(), "x")) }.exceptionOrNull()
                .let { (it is ConnectionClosedException) shouldBe true }
            peer.close()
        }
    }
})
