package dev.tether.testkit.wamp

import dev.tether.testkit.snapshot
import org.slf4j.LoggerFactory
import java.io.InputStream
import java.io.OutputStream
import java.net.InetAddress
import java.net.InetSocketAddress
import java.net.Socket
import java.security.KeyStore
import java.util.concurrent.ConcurrentHashMap
import javax.net.ssl.KeyManagerFactory
import javax.net.ssl.SSLContext
import javax.net.ssl.SSLServerSocket
import javax.net.ssl.TrustManagerFactory
import javax.net.ssl.X509TrustManager
import kotlin.concurrent.thread

/**
 * Terminates TLS on 127.0.0.1 (ephemeral port) and relays the plaintext to a backend port of the router, so
 * `wss` and `tcps` reuse the plain WebSocket and RawSocket servers unchanged. Blocking sockets, two threads per
 * connection: this is a test fixture, not a production proxy.
 */
internal class TlsFront(private val name: String, private val backendPort: Int, clientAuth: Boolean) : AutoCloseable {
    private val log = LoggerFactory.getLogger(TlsFront::class.java)
    private val server = FakeWampRouterTls.serverContext.serverSocketFactory
        .createServerSocket(0, 50, InetAddress.getByName("127.0.0.1")) as SSLServerSocket

    init {
        server.needClientAuth = clientAuth
    }
    private val open = ConcurrentHashMap.newKeySet<Socket>()

    @Volatile
    private var closed = false

    /** The TLS port. */
    val port: Int = server.localPort

    init {
        thread(name = "wamp-router-$name-accept", isDaemon = true) {
            while (!closed) {
                val client = try {
                    server.accept()
                } catch (e: Exception) {
                    if (!closed) log.debug("router: {} accept stopped: {}", name, e.message)
                    return@thread
                }
                thread(name = "wamp-router-$name-conn", isDaemon = true) { relay(client) }
            }
        }
    }

    private fun relay(client: Socket) {
        open.add(client)
        var backend: Socket? = null
        try {
            (client as javax.net.ssl.SSLSocket).startHandshake()
            backend =
                Socket().also {
                    it.tcpNoDelay = true
                    it.connect(InetSocketAddress("127.0.0.1", backendPort), 5_000)
                }
            open.add(backend)
            val b = backend
            val upstream = thread(
                name = "wamp-router-$name-up",
                isDaemon = true,
            ) {
                pump(client.getInputStream(), b.getOutputStream())
                closeQuietly(b)
            }
            pump(b.getInputStream(), client.getOutputStream())
            closeQuietly(client)
            upstream.join(5_000)
        } catch (e: Exception) {
            // An untrusting client aborts the handshake: that is the expected outcome of a refused certificate.
            log.debug("router: {} connection ended: {}", name, e.message)
        } finally {
            closeQuietly(client)
            backend?.let { closeQuietly(it) }
        }
    }

    private fun pump(from: InputStream, to: OutputStream) {
        val buf = ByteArray(16 * 1024)
        try {
            while (true) {
                val n = from.read(buf)
                if (n < 0) return
                to.write(buf, 0, n)
                to.flush()
            }
        } catch (e: Exception) {
            log.trace("router: {} relay stopped: {}", name, e.message)
        }
    }

    private fun closeQuietly(s: Socket) {
        runCatching { s.close() }
        open.remove(s)
    }

    override fun close() {
        closed = true
        runCatching { server.close() }
        open.snapshot().forEach { closeQuietly(it) }
    }
}
