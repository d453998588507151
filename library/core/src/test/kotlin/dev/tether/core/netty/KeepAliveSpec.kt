package dev.tether.core.netty

import dev.tether.core.DialerConfig
import dev.tether.core.KeepAliveExpiredException
import dev.tether.core.WebSocketConnection
import dev.tether.core.WsMessage
import io.kotest.core.spec.style.FunSpec
import io.kotest.matchers.nulls.shouldBeNull
import io.kotest.matchers.shouldBe
import io.kotest.matchers.types.shouldBeInstanceOf
import io.netty.buffer.ByteBufUtil
import io.netty.buffer.Unpooled
import io.netty.channel.embedded.EmbeddedChannel
import io.netty.handler.codec.http.DefaultHttpHeaders
import io.netty.handler.codec.http.websocketx.PingWebSocketFrame
import io.netty.handler.codec.http.websocketx.PongWebSocketFrame
import io.netty.handler.codec.http.websocketx.TextWebSocketFrame
import io.netty.util.ReferenceCountUtil
import java.time.Duration
import java.util.concurrent.TimeUnit

/** The client's keepalive on the link, in the embedded channel's frozen time. */
class KeepAliveSpec : FunSpec({
    /** A link after the upgrade, pinging every second and waiting a second for each pong. */
    fun link(): Pair<EmbeddedChannel, WebSocketConnection> {
        val channel = EmbeddedChannel()
        channel.freezeTime()
        val config = DialerConfig("ws://127.0.0.1:9/ka") {
            pingInterval(Duration.ofSeconds(1))
            pongTimeout(Duration.ofSeconds(1))
        }
        val connection = WebSocketConnection(config, null)
        val link = NettyLink(channel, DefaultHttpHeaders(), config, connection)
        connection.attach(link)
        channel.pipeline().addLast(link)
        link.start()
        return channel to connection
    }

    fun EmbeddedChannel.tick(seconds: Long) {
        advanceTimeBy(seconds, TimeUnit.SECONDS)
        runScheduledPendingTasks()
        runPendingTasks()
    }

    /** The ping the link sent (its payload), dropping anything else written. */
    fun EmbeddedChannel.ping(): ByteArray? {
        while (true) {
            val out = readOutbound<Any>() ?: return null
            try {
                if (out is PingWebSocketFrame) return ByteBufUtil.getBytes(out.content())
            } finally {
                ReferenceCountUtil.release(out)
            }
        }
    }

    test("an unanswered ping ends the connection with KeepAliveExpired after the pong timeout") {
        val (channel, connection) = link()
        channel.tick(1)
        channel.ping() shouldBe "1".toByteArray()
        channel.tick(1)
        connection.endCause.shouldBeInstanceOf<KeepAliveExpiredException>()
        channel.finishAndReleaseAll()
    }

    test("while a slow consumer keeps the socket unread, a pong that may wait in it does not expire the connection") {
        val (channel, connection) = link()
        // More than incoming holds: the link stops reading the socket until the consumer catches up.
        val count = WebSocketConnection.INBOUND_QUEUE + 8
        repeat(count) { channel.writeInbound(TextWebSocketFrame("m$it")) }
        channel.config().isAutoRead shouldBe false
        channel.tick(1)
        val payload = channel.ping()!!
        channel.tick(5) // several pong timeouts, all while not reading
        connection.endCause.shouldBeNull()
        // The consumer catches up; reading resumes and the pong that waited arrives.
        repeat(count) { (connection.incoming.tryReceive().getOrNull() as WsMessage.Text).text shouldBe "m$it" }
        channel.config().isAutoRead shouldBe true
        channel.writeInbound(PongWebSocketFrame(Unpooled.wrappedBuffer(payload)))
        channel.tick(1)
        connection.endCause.shouldBeNull()
        channel.ping() shouldBe "2".toByteArray() // the keepalive goes on
        channel.finishAndReleaseAll()
    }
})
