package dev.tether.mux;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** The Java faces: futures for open/accept, blocking streams, MuxSocket. */
class MuxJavaTest {
    private MuxSession client;
    private MuxSession server;

    @BeforeEach
    void pair() {
        MuxSession[] pair = SessionPairs.pair(MuxConfig.DEFAULT, MuxConfig.builder().streamBufferSize(4096).build());
        client = pair[0];
        server = pair[1];
    }

    @AfterEach
    void close() {
        client.close();
        server.close();
    }

    @Test
    void theAcceptorsFirstWindowIsBoundedByWhatItAssumesTheOpenerHolds() throws Exception {
        MuxConfig serverConfig = MuxConfig.builder().streamBufferSize(65536).peerCapacity(2048).build();
        assertEquals(2048, serverConfig.getPeerCapacity());
        assertEquals(1024, MuxConfig.DEFAULT.getPeerCapacity());
        // The opener assumes the same, so it grants nothing beyond: the acceptor keeps exactly its first window.
        MuxSession[] p = SessionPairs.pair(MuxConfig.builder().peerCapacity(65536).build(), serverConfig);
        try {
            CompletableFuture<Stream> accepted = p[1].acceptAsync();
            p[0].openAsync().get(5, TimeUnit.SECONDS);
            assertEquals(2048L, accepted.get(5, TimeUnit.SECONDS).getSendWindow());
        } finally {
            p[0].close();
            p[1].close();
        }
    }

    @Test
    void upstreamsOneAckPerReadIsAConfigChoiceThatSurvivesToBuilder() throws Exception {
        MuxConfig upstream = MuxConfig.builder().ackEveryRead(true).streamBufferSize(2048).build();
        assertTrue(upstream.getAckEveryRead());
        assertEquals(false, MuxConfig.DEFAULT.getAckEveryRead());
        assertTrue(upstream.toBuilder().build().getAckEveryRead());
        // Both pacings move more than a window of small writes end to end.
        MuxSession[] p = SessionPairs.pair(MuxConfig.DEFAULT, upstream);
        try {
            CompletableFuture<Stream> accepted = p[1].acceptAsync();
            Stream opened = p[0].openAsync().get(5, TimeUnit.SECONDS);
            Stream peer = accepted.get(5, TimeUnit.SECONDS);
            CompletableFuture<Integer> reader = CompletableFuture.supplyAsync(() -> {
                try (InputStream in = peer.inputStream()) {
                    int total = 0;
                    byte[] small = new byte[100];
                    for (int n; (n = in.read(small)) >= 0; ) total += n;
                    return total;
                } catch (IOException e) {
                    throw new RuntimeException(e);
                }
            });
            try (OutputStream out = opened.outputStream()) {
                for (int i = 0; i < 100; i++) out.write(new byte[100]);
            }
            assertEquals(10_000, reader.get(10, TimeUnit.SECONDS));
        } finally {
            p[0].close();
            p[1].close();
        }
    }

    @Test
    void openAsyncAndAcceptAsyncPairUp() throws Exception {
        CompletableFuture<Stream> accepted = server.acceptAsync();
        Stream opened = client.openAsync().get(5, TimeUnit.SECONDS);
        Stream peer = accepted.get(5, TimeUnit.SECONDS);
        assertEquals(1L, opened.getId());
        assertEquals(1L, peer.getId());
        assertEquals(4096L, opened.getSendWindow());
    }

    @Test
    void blockingStreamsCarryMoreThanOneWindowBothWays() throws Exception {
        CompletableFuture<Stream> accepted = server.acceptAsync();
        MuxSocket socket = new MuxSocket(client.openAsync().get(5, TimeUnit.SECONDS));
        Stream peer = accepted.get(5, TimeUnit.SECONDS);
        byte[] payload = new byte[20_000];
        for (int i = 0; i < payload.length; i++) payload[i] = (byte) (i * 31);

        CompletableFuture<byte[]> echoed = CompletableFuture.supplyAsync(() -> {
            try (InputStream in = peer.inputStream(); OutputStream out = peer.outputStream()) {
                byte[] all = in.readAllBytes();
                out.write(all);
                return all;
            } catch (IOException e) {
                throw new RuntimeException(e);
            }
        });
        try (OutputStream out = socket.getOutputStream()) {
            out.write(payload);
        }
        byte[] back = socket.getInputStream().readAllBytes();
        assertArrayEquals(payload, echoed.get(10, TimeUnit.SECONDS));
        assertArrayEquals(payload, back);
        assertTrue(socket.isClosed());
    }

    @Test
    void soTimeoutGivesSocketTimeoutExceptionWithTheTypedCause() throws Exception {
        server.acceptAsync();
        MuxSocket socket = new MuxSocket(client.openAsync().get(5, TimeUnit.SECONDS));
        socket.setSoTimeout(100);
        assertEquals(100, socket.getSoTimeout());
        SocketTimeoutException e = assertThrows(SocketTimeoutException.class, () -> socket.getInputStream().read());
        assertInstanceOf(ReadTimeoutException.class, e.getCause());
    }

    @Test
    void writeAfterShutdownOutputIsAnIOExceptionCausedByBrokenPipe() throws Exception {
        server.acceptAsync();
        MuxSocket socket = new MuxSocket(client.openAsync().get(5, TimeUnit.SECONDS));
        socket.shutdownOutput();
        IOException e = assertThrows(IOException.class, () -> socket.getOutputStream().write(1));
        assertInstanceOf(BrokenPipeException.class, e.getCause());
    }

    @Test
    void pendingAcceptFailsWithSessionClosedWhenTheSessionCloses() throws Exception {
        CompletableFuture<Stream> pending = server.acceptAsync();
        CompletableFuture<MuxException> ended = server.closedFuture();
        assertTrue(server.isOpen());
        server.close();
        ExecutionException e = assertThrows(ExecutionException.class, () -> pending.get(5, TimeUnit.SECONDS));
        assertInstanceOf(MuxSessionClosedException.class, e.getCause());
        // The end is not a failure of the wait: the future completes normally with the reason.
        assertInstanceOf(MuxSessionClosedException.class, ended.get(5, TimeUnit.SECONDS));
        assertFalse(server.isOpen());
    }

    @Test
    void closeAsyncFromTwoCallersEndsTheSessionOnceAndBothComplete() throws Exception {
        CompletableFuture<Stream> pending = client.acceptAsync();
        CompletableFuture<Void> first = client.closeAsync();
        CompletableFuture<Void> second = client.closeAsync();
        first.get(5, TimeUnit.SECONDS);
        second.get(5, TimeUnit.SECONDS);
        assertFalse(client.isOpen());
        assertInstanceOf(MuxSessionClosedException.class, client.closedFuture().get(5, TimeUnit.SECONDS));
        ExecutionException e = assertThrows(ExecutionException.class, () -> pending.get(5, TimeUnit.SECONDS));
        assertInstanceOf(MuxSessionClosedException.class, e.getCause());
        // After the end every operation fails at once with the typed reason.
        CompletableFuture<Stream> late = client.openAsync();
        assertTrue(late.isCompletedExceptionally());
        client.closeAsync().get(5, TimeUnit.SECONDS);
    }


    @Test
    void openTimesOutWhenThePeerNeverAccepts() throws Exception {
        client.close();
        server.close();
        MuxConfig impatient = MuxConfig.builder().streamAcceptDeadline(Duration.ofMillis(100)).build();
        MuxSession[] pair = SessionPairs.pair(impatient, MuxConfig.DEFAULT);
        client = pair[0];
        server = pair[1];
        ExecutionException e =
                assertThrows(ExecutionException.class, () -> client.openAsync().get(5, TimeUnit.SECONDS));
        AcceptTimeoutException timeout = assertInstanceOf(AcceptTimeoutException.class, e.getCause());
        assertEquals(100L, timeout.getTimeoutMillis());
    }

    @Test
    void textOfTheExamplesRoundTrips() throws Exception {
        CompletableFuture<Stream> accepted = server.acceptAsync();
        Stream opened = client.openAsync().get(5, TimeUnit.SECONDS);
        opened.outputStream().write("GET / HTTP/1.1\r\n".getBytes(StandardCharsets.US_ASCII));
        byte[] buf = new byte[64];
        int n = accepted.get(5, TimeUnit.SECONDS).inputStream().read(buf);
        assertEquals("GET / HTTP/1.1\r\n", new String(buf, 0, n, StandardCharsets.US_ASCII));
    }
    @Test
    void aPeerOverMaxStreamsIsRefusedAndTheFutureFailsWithStreamRefused() throws Exception {
        client.close();
        server.close();
        MuxSession[] pair = SessionPairs.pair(MuxConfig.DEFAULT, MuxConfig.builder().maxStreams(1).build());
        client = pair[0];
        server = pair[1];
        assertEquals(1, server.getConfig().getMaxStreams());
        CompletableFuture<Stream> accepted = server.acceptAsync();
        client.openAsync().get(5, TimeUnit.SECONDS);
        accepted.get(5, TimeUnit.SECONDS);
        ExecutionException e =
                assertThrows(ExecutionException.class, () -> client.openAsync().get(5, TimeUnit.SECONDS));
        StreamRefusedException refused = assertInstanceOf(StreamRefusedException.class, e.getCause());
        assertEquals(3L, refused.getStreamId()); // the client's second id
        assertEquals(1L, server.stats().getStreamsRefused());
        assertTrue(client.isOpen());
    }

    @Test
    void statsAreASnapshotReadableFromJava() throws Exception {
        CompletableFuture<Stream> accepted = server.acceptAsync();
        Stream opened = client.openAsync().get(5, TimeUnit.SECONDS);
        opened.outputStream().write(new byte[100]);
        byte[] buf = new byte[100];
        int got = 0;
        InputStream in = accepted.get(5, TimeUnit.SECONDS).inputStream();
        while (got < 100) got += in.read(buf, got, 100 - got);
        MuxSessionStats before = client.stats();
        assertEquals(1L, before.getStreamsOpened());
        assertEquals(1, before.getStreamsOpen());
        assertEquals(100L, before.getBytesOut());
        assertEquals(100L, server.stats().getBytesIn());
        assertEquals(1L, server.stats().getStreamsAccepted());
        opened.close();
        // A snapshot does not change afterwards; a new one sees the FIN.
        assertEquals(before.getFramesOut(), client.stats().getFramesOut() - 1);
        assertEquals(1L, before.getStreamsOpened());
    }
}
