@file:OptIn(dev.tether.core.InternalTetherApi::class)

package dev.tether.core.netty

import io.kotest.core.spec.style.FunSpec
import io.kotest.matchers.booleans.shouldBeTrue
import io.kotest.matchers.types.shouldBeSameInstanceAs
import io.kotest.matchers.types.shouldNotBeSameInstanceAs
import io.netty.channel.MultiThreadIoEventLoopGroup
import io.netty.channel.nio.NioIoHandler
import java.util.concurrent.CountDownLatch
import java.util.concurrent.TimeUnit

class TetherEventLoopsSpec : FunSpec({
    test("a loop's dispatcher is made once, and forgotten when the loop terminates") {
        val group = MultiThreadIoEventLoopGroup(1, NioIoHandler.newFactory())
        val loop = group.next()
        val first = TetherEventLoops.dispatcher(loop)
        TetherEventLoops.dispatcher(loop) shouldBeSameInstanceAs first
        // Listeners run in the order they were added: once this one has run, so has the cache's.
        val terminated = CountDownLatch(1)
        loop.terminationFuture().addListener { terminated.countDown() }
        group.shutdownGracefully(0, 0, TimeUnit.SECONDS)
        terminated.await(10, TimeUnit.SECONDS).shouldBeTrue()
        TetherEventLoops.dispatcher(loop) shouldNotBeSameInstanceAs first
    }
})
