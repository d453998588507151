package dev.tether.docs;

import dev.tether.core.DialerConfig;
import dev.tether.core.WebSocketDialer;
import dev.tether.mux.MuxConfig;
import dev.tether.mux.MuxSocket;
import dev.tether.mux.ReadTimeoutException;
import dev.tether.mux.MuxSession;
import dev.tether.testkit.mux.FakeMuxServer;
import dev.tether.testkit.mux.FakeMuxServerConfig;
import dev.tether.testkit.mux.StreamBehaviour;
import org.junit.jupiter.api.Test;

import java.io.InputStream;
import java.net.SocketTimeoutException;
import java.time.Duration;
import java.util.concurrent.TimeUnit;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The Java examples of mux.md, each run against the testkit's FakeMuxServer. */
class MuxJavaExamplesTest {

    @Test
    void quickStartEchoesOneStream() throws Exception {
        // docs:start quickstart
        try (FakeMuxServer fake = FakeMuxServer.start();          // a wsmux server that echoes every stream
             WebSocketDialer dialer = new WebSocketDialer(DialerConfig.builder().url(fake.getUrl()).build())) {
            MuxConfig config = MuxConfig.builder().streamBufferSize(4096).build();
            MuxSession session = MuxSession.client(dialer.dialAsync().get(10, TimeUnit.SECONDS), config);
            try (MuxSocket socket = new MuxSocket(session.openAsync().get(10, TimeUnit.SECONDS))) {
                socket.setSoTimeout(10_000);                       // bound every blocking read
                socket.getOutputStream().write("hello, wsmux".getBytes(UTF_8));
                socket.shutdownOutput();                           // FIN: the echo server finishes too
                byte[] echoed = socket.getInputStream().readAllBytes(); // ends at the peer's FIN
                assertEquals("hello, wsmux", new String(echoed, UTF_8));
            } finally {
                session.close();
            }
        }
        // docs:end quickstart
    }

    @Test
    void aReadTimeoutIsASocketTimeoutException() throws Exception {
        try (FakeMuxServer fake =
                     FakeMuxServer.start(FakeMuxServerConfig.builder().behaviour(StreamBehaviour.STALL).build());
             WebSocketDialer dialer = new WebSocketDialer(DialerConfig.builder().url(fake.getUrl()).build())) {
            MuxSession session = MuxSession.client(dialer.dialAsync().get(10, TimeUnit.SECONDS));
            try {
                // docs:start timeout
                MuxSocket socket = new MuxSocket(session.openAsync().get(10, TimeUnit.SECONDS));
                socket.setSoTimeout(100);
                InputStream in = socket.getInputStream();
                // the peer sent nothing
                SocketTimeoutException e = assertThrows(SocketTimeoutException.class, in::read);
                assertInstanceOf(ReadTimeoutException.class, e.getCause()); // the typed mux error
                // docs:end timeout
            } finally {
                session.close();
            }
        }
    }

    @Test
    void closedFutureReportsTheDrop() throws Exception {
        try (FakeMuxServer fake = FakeMuxServer.start();
             WebSocketDialer dialer = new WebSocketDialer(DialerConfig.builder().url(fake.getUrl()).build())) {
            MuxSession session = MuxSession.client(dialer.dialAsync().get(10, TimeUnit.SECONDS));
            fake.awaitSessionsAsync(1, Duration.ofSeconds(10)).get();
            assertEquals(1, fake.getFaults().dropAll());
            assertTrue(session.closedFuture().get(10, TimeUnit.SECONDS).getMessage().startsWith("session closed"));
            assertFalse(session.isOpen());
        }
    }
}
