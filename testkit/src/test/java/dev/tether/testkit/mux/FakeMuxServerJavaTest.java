package dev.tether.testkit.mux;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tether.core.DialerConfig;
import dev.tether.core.WebSocketConnection;
import dev.tether.core.WebSocketDialer;
import dev.tether.mux.MuxSocket;
import dev.tether.mux.MuxSession;
import dev.tether.mux.Stream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

class FakeMuxServerJavaTest {
    @Test
    void javaCanStartTheFakeAndTalkToItThroughMuxSocket() throws Exception {
        FakeMuxServerConfig options =
            FakeMuxServerConfig.builder().behaviour(StreamBehaviour.ECHO).streamBufferSize(1024).build();
        try (FakeMuxServer fake = FakeMuxServer.start(options);
             WebSocketDialer dialer = new WebSocketDialer(DialerConfig.builder().url(fake.getUrl()).build())) {
            assertTrue(fake.getUrl().startsWith("ws://127.0.0.1:"));
            WebSocketConnection connection = dialer.dialAsync(null).get(10, TimeUnit.SECONDS);
            try (MuxSession session = MuxSession.client(connection)) {
                fake.awaitSessionsAsync(1, Duration.ofSeconds(10)).get(10, TimeUnit.SECONDS);
                Stream stream = session.openAsync().get(10, TimeUnit.SECONDS);
                MuxSocket socket = new MuxSocket(stream);
                socket.getOutputStream().write("hello".getBytes(StandardCharsets.UTF_8));
                socket.shutdownOutput();
                byte[] back = socket.getInputStream().readAllBytes();
                assertEquals("hello", new String(back, StandardCharsets.UTF_8));
                assertEquals(1, fake.sessions().size());
                assertEquals(1, fake.upgrades());
            }
        }
    }
}
