package dev.tether.core.netty.fuzz

import com.code_intelligence.jazzer.junit.FuzzTest
import org.junit.jupiter.api.Timeout

/**
 * Fuzzes the Netty client link's receive path (docs/fuzzing.md): a `NettyLink` on an [io.netty.channel.embedded
 * .EmbeddedChannel], as the dialer leaves it after the upgrade, fed WebSocket frames from the peer. Binary and text
 * messages arrive whole or fragmented (continuations), with pings, pongs, close frames, keepalive time and channel
 * failures between them, in heap, direct, pooled, sliced and composite buffers; the consumer reads
 * `incoming`, a listener takes arrays, or a buffer listener takes whole binary messages in their buffers (and keeps
 * some past the call). On the wire path the frames are encoded into bytes, cut into reads and decoded by the
 * dialer's own frame decoder, which also meets frames it must refuse (reserved bits, bad order, oversize frames,
 * bad close codes, junk). [LinkRun] checks every property listed there.
 *
 * Input: a setup byte (`& 3` the consumer: 0 `incoming`, 1 a listener, 2 a buffer listener, 3 one that keeps lent
 * buffers; `& 4` the wire path; `& 8` client keepalive; `>> 4 & 7` the message limit, 8 bytes shifted left that
 * many times), then operations `op % 10`, each followed by its own bytes (see [LinkRun.step]).
 */
class NettyLinkFuzzTest {
    @FuzzTest(maxDuration = "5m")
    @Timeout(10)
    fun frames(input: ByteArray) {
        LinkRun(input).run()
    }
}
