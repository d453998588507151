package dev.tether.mux

import io.kotest.core.spec.style.FunSpec
import io.kotest.matchers.shouldBe
import io.ktor.utils.io.readRemaining
import io.ktor.utils.io.writeFully
import kotlinx.coroutines.async
import kotlinx.coroutines.coroutineScope
import kotlinx.coroutines.withTimeout
import kotlinx.io.readByteArray

class ChannelAdaptersSpec : FunSpec({
    test("ByteWriteChannel and ByteReadChannel carry a stream's bytes; closing the writer sends FIN (EOF)") {
        val (client, server) = SessionPairs.pair()
        try {
            withTimeout(10_000) {
                coroutineScope {
                    val received = async { server.accept().toByteReadChannel(this).readRemaining().readByteArray() }
                    val out = client.open()
                    val data = ByteArray(30_000) { (it % 13).toByte() }
                    val writer = out.toByteWriteChannel(this)
                    writer.writeFully(data, 0, data.size)
                    writer.flushAndClose()
                    received.await().contentEquals(data) shouldBe true
                }
            }
        } finally {
            client.close()
            server.close()
        }
    }
})
