@file:OptIn(dev.tether.core.InternalTetherApi::class)

package dev.tether.wamp.transport

import dev.tether.wamp.message.Hello
import dev.tether.wamp.message.Message
import dev.tether.wamp.message.Welcome
import dev.tether.wamp.rawsocket.FrameHeader
import dev.tether.wamp.rawsocket.Handshake
import dev.tether.wamp.rawsocket.RawSocketProtocol
import dev.tether.wamp.serializer.JsonSerializer
import dev.tether.wamp.serializer.Serializer
import java.io.Closeable
import java.io.DataInputStream
import java.io.File
import java.io.InputStream
import java.io.OutputStream
import java.net.InetAddress
import java.net.ServerSocket
import java.net.StandardProtocolFamily
import java.net.UnixDomainSocketAddress
import java.nio.channels.Channels
import java.nio.channels.ServerSocketChannel
import java.nio.file.Files
import java.security.KeyStore
import java.security.cert.Certificate
import java.util.concurrent.TimeUnit
import javax.net.ssl.KeyManagerFactory
import javax.net.ssl.SSLContext
import javax.net.ssl.SSLServerSocket
import javax.net.ssl.SSLSocket
import javax.net.ssl.TrustManagerFactory

/**
 * A RawSocket router the test plays by hand over a real socket: `tcp`, `tcps` (requiring a client certificate that
 * [TestTls] issued) or `unix`. Blocking I/O: run scripts in `runInterruptible(Dispatchers.IO)` so a test timeout
 * unblocks them; TCP reads also time out by themselves after 10 s.
 */
internal class ScriptedRawSocketRouter private constructor(val kind: String) : Closeable {
    private var tcp: ServerSocket? = null
    private var unix: ServerSocketChannel? = null
    private var unixDir: File? = null

    /** The URL a client connects to. */
    val url: String

    init {
        when (kind) {
            "tcp" -> tcp = ServerSocket(0, 4, InetAddress.getByName("127.0.0.1"))

            "tcps" -> tcp = (
                TestTls.serverContext.serverSocketFactory.createServerSocket(
                    0,
                    4,
                    InetAddress.getByName("127.0.0.1"),
                ) as SSLServerSocket
                )
                .apply { needClientAuth = true }

            "unix" -> {
                val dir = Files.createTempDirectory("wamp-rs").toFile().also { unixDir = it }
                unix = ServerSocketChannel.open(StandardProtocolFamily.UNIX).apply {
                    bind(UnixDomainSocketAddress.of(File(dir, "router.sock").path))
                }
            }

            else -> error("kind must be tcp, tcps or unix")
        }
        tcp?.soTimeout = 10_000
        url = when (kind) {
            "unix" -> "unix://" + File(unixDir, "router.sock").path
            else -> "$kind://127.0.0.1:${tcp!!.localPort}"
        }
    }

    /** Waits for the next client (at most 10 s over TCP; interruptible over a Unix socket). */
    fun accept(serializer: Serializer = JsonSerializer()): Conn {
        tcp?.let { server ->
            val socket = server.accept().apply {
                soTimeout = 10_000
                tcpNoDelay = true
            }
            val peerCertificates = (socket as? SSLSocket)?.let {
                it.startHandshake()
                it.session.peerCertificates.toList()
            }
            return Conn(socket, socket.getInputStream(), socket.getOutputStream(), serializer, peerCertificates)
        }
        val channel = unix!!.accept()
        return Conn(channel, Channels.newInputStream(channel), Channels.newOutputStream(channel), serializer, null)
    }

    override fun close() {
        runCatching { tcp?.close() }
        runCatching { unix?.close() }
        unixDir?.deleteRecursively()
    }

    /** One accepted client connection. */
    class Conn(
        private val socket: Closeable,
        input: InputStream,
        private val output: OutputStream,
        val serializer: Serializer,
        /** The client's certificate chain (tcps), else null. */
        val peerCertificates: List<Certificate>?,
    ) : Closeable {
        private val input = DataInputStream(input)

        /** Reads the client's handshake and accepts it announcing 2^(9+[exponent]) bytes; returns the client's. */
        fun handshake(exponent: Int = RawSocketProtocol.MAX_LENGTH_EXPONENT): Handshake {
            val request = ByteArray(4).also { input.readFully(it) }
            val valid = Handshake.parseRequest(request) as Handshake.Request.Valid
            write(Handshake(exponent, valid.handshake.serializerId).encode())
            return valid.handshake
        }

        /** Handshake, HELLO, WELCOME with session [id]; returns the HELLO. */
        fun join(id: Long = 1): Hello {
            handshake()
            val hello = readMessage() as Hello
            send(
                Welcome(
                    id,
                    mapOf(
                        "authid" to "test",
                        "authrole" to "user",
                        "authmethod" to "anonymous",
                        "roles" to mapOf("dealer" to emptyMap<String, Any?>(), "broker" to emptyMap<String, Any?>()),
                    ),
                ),
            )
            return hello
        }

        /** The next frame: its type and payload. */
        fun readFrame(): Pair<Int, ByteArray> {
            val header = FrameHeader.decode(ByteArray(4).also { input.readFully(it) })
            return header.type to ByteArray(header.length).also { input.readFully(it) }
        }

        /** The next WAMP message; PINGs that come first are answered (a client's keepalive), PONGs fail. */
        fun readMessage(): Message {
            while (true) {
                val (type, payload) = readFrame()
                if (type == RawSocketProtocol.TYPE_PING) {
                    write(frame(RawSocketProtocol.TYPE_PONG, payload))
                    continue
                }
                check(type == RawSocketProtocol.TYPE_MESSAGE) { "expected a message frame, got type $type" }
                return serializer.decode(payload)
            }
        }

        /** True once the client has closed the connection (reads until the end, dropping what comes). */
        fun awaitEof(): Boolean = try {
            while (input.read() >= 0) Unit
            true
        } catch (e: java.net.SocketTimeoutException) {
            false
        } catch (e: java.io.IOException) {
            true // reset by the client
        }

        /** [m] as one frame. */
        fun messageFrame(m: Message): ByteArray = frame(RawSocketProtocol.TYPE_MESSAGE, serializer.encode(m))

        fun send(m: Message) = write(messageFrame(m))

        fun write(bytes: ByteArray) {
            output.write(bytes)
            output.flush()
        }

        override fun close() {
            runCatching { socket.close() }
        }

        companion object {
            fun frame(type: Int, payload: ByteArray): ByteArray = FrameHeader(type, payload.size).encode() + payload
        }
    }

    companion object {
        fun start(kind: String): ScriptedRawSocketRouter = ScriptedRawSocketRouter(kind)
    }
}

/**
 * A self-signed certificate for 127.0.0.1 made with the JDK's keytool once per test run: the router presents it and
 * trusts it as a client certificate; [clientContext] presents it as the client's and trusts the router.
 */
internal object TestTls {
    private val password = "changeit".toCharArray()

    val keyStore: KeyStore by lazy {
        val dir = Files.createTempDirectory("wamp-tls").toFile()
        val file = File(dir, "test.p12")
        val keytool = File(System.getProperty("java.home"), "bin/keytool").path
        val process = ProcessBuilder(
            keytool, "-genkeypair", "-alias", "tether", "-keyalg", "EC", "-groupname", "secp256r1",
            "-dname", "CN=127.0.0.1", "-ext", "SAN=ip:127.0.0.1,dns:localhost", "-validity", "2",
            "-storetype", "PKCS12", "-keystore", file.path, "-storepass", "changeit", "-keypass", "changeit",
        ).redirectErrorStream(true).start()
        check(process.waitFor(60, TimeUnit.SECONDS) && process.exitValue() == 0) {
            "keytool failed: " + process.inputStream.readAllBytes().decodeToString()
        }
        KeyStore.getInstance("PKCS12").apply {
            file.inputStream().use { load(it, password) }
        }.also { dir.deleteRecursively() }
    }

    private fun context(): SSLContext = SSLContext.getInstance("TLS").apply {
        val keys = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm()).apply {
            init(keyStore, password)
        }.keyManagers
        val trust = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm()).apply {
            init(keyStore)
        }.trustManagers
        init(keys, trust, null)
    }

    val serverContext: SSLContext by lazy { context() }

    /** Presents the test certificate as the client's and trusts the router's. */
    fun clientContext(): SSLContext = context()
}
