package dev.tether.testkit.junit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tether.testkit.FakeServer;
import java.net.ConnectException;
import java.net.InetSocketAddress;
import java.net.Socket;

/** Checks the extension tests of every fake share: where a fake listens, and that it stopped. */
final class FakeServers {
    private FakeServers() {
    }

    /** The fake listens on 127.0.0.1 at its port, and its URL names that address. */
    static void assertListening(FakeServer<?> server) throws Exception {
        assertEquals("127.0.0.1", server.getHost());
        assertTrue(server.getUrl().contains("127.0.0.1:" + server.getPort()), server.getUrl());
        try (Socket socket = new Socket()) {
            socket.connect(new InetSocketAddress(server.getHost(), server.getPort()), 5_000);
        }
    }

    /** Nothing accepts connections at the fake's port any more. */
    static void assertStopped(FakeServer<?> server) {
        assertThrows(ConnectException.class, () -> {
            try (Socket socket = new Socket()) {
                socket.connect(new InetSocketAddress(server.getHost(), server.getPort()), 5_000);
            }
        });
    }
}
