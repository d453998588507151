package dev.tether.wamp.transport

import java.io.IOException
import java.net.Socket
import java.time.Duration

/**
 * Opens the TCP connection of a `tcp://` or `tcps://` session (nexus's DialFunc): connect through a SOCKS or
 * HTTP proxy, bind a local address, or use a custom network. Set it with `SessionConfig.Builder.socketDialer`.
 *
 * ```
 * SessionConfig("realm1") {
 *     socketDialer { host, port, timeout ->
 *         Socket(Proxy(Proxy.Type.SOCKS, InetSocketAddress("proxy", 1080)))
 *             .apply { connect(InetSocketAddress.createUnresolved(host, port), timeout.toMillis().toInt()) }
 *     }
 * }
 * ```
 */
public fun interface SocketDialer {
    /**
     * Returns a socket connected to [host]:[port], taking at most [timeout]. Called on an I/O thread, once per
     * connection attempt; the session owns and closes the socket. For tcps the TLS handshake runs over it
     * afterwards. Throw an [IOException] when the connection cannot be made.
     */
    @Throws(IOException::class)
    public fun dial(host: String, port: Int, timeout: Duration): Socket
}
