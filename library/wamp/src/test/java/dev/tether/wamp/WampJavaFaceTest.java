package dev.tether.wamp;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tether.core.ConnectionClosedException;
import dev.tether.wamp.auth.AuthHandler;
import dev.tether.wamp.auth.CryptosignKey;
import dev.tether.wamp.auth.WampCra;
import dev.tether.wamp.error.ProgressNotAcceptedException;
import dev.tether.wamp.error.ProtocolViolationException;
import dev.tether.wamp.error.WampSessionClosedException;
import dev.tether.wamp.message.Call;
import dev.tether.wamp.message.Challenge;
import dev.tether.wamp.message.Hello;
import dev.tether.wamp.message.Message;
import dev.tether.wamp.message.MessageCodes;
import dev.tether.wamp.message.WampValues;
import dev.tether.wamp.message.Welcome;
import dev.tether.wamp.rawsocket.Handshake;
import dev.tether.wamp.rawsocket.RawSocketProtocol;
import dev.tether.wamp.serializer.Serialization;
import dev.tether.wamp.serializer.Serializer;
import dev.tether.wamp.transport.AsyncWampTransport;
import dev.tether.wamp.transport.SocketDialer;
import dev.tether.wamp.transport.WampTransport;
import java.math.BigInteger;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import javax.net.ssl.SSLContext;
import org.junit.jupiter.api.Test;

/** The Java view of values, messages, serializers, auth and configuration. */
class WampJavaFaceTest {

    @Test
    void valuesAreListsMapsAndBoxedPrimitivesForJava() {
        for (Serialization s : Serialization.values()) {
            Serializer serializer = s.serializer();
            List<Object> args = Arrays.asList(1, 9007199254740992L, new BigInteger("18446744073709551615"), "é", true,
                null,
                new byte[] {1, 2}, Map.of("k", List.of(1.5)));
            Message decoded = serializer.decode(serializer.encode(new Call(1, Map.of(), "p", args, Map.of())));
            Call call = assertInstanceOf(Call.class, decoded);
            List<Object> back = call.getArgs();
            assertEquals(1L, back.get(0));
            assertEquals(9007199254740992L, back.get(1));
            assertEquals(new BigInteger("18446744073709551615"), back.get(2));
            assertEquals("é", back.get(3));
            assertArrayEquals(new byte[] {1, 2}, (byte[]) back.get(6));
            assertTrue(WampValues.deepEquals(args, back), s.name());
        }
    }

    @Test
    void jsonMatchesTheNexusVector() {
        Serializer json = Serialization.JSON.serializer();
        byte[] bytes = json.encode(new Call(9, Map.of(), "p", List.of(), Map.of()));
        assertEquals("[48,9,{},\"p\"]", new String(bytes, StandardCharsets.UTF_8));
        assertEquals(MessageCodes.CALL, json.decode(bytes).getCode());
        assertThrows(ProtocolViolationException.class, () -> json.decode("[99]".getBytes(StandardCharsets.UTF_8)));
    }

    @Test
    void authHelpersAndHandlers() {
        assertEquals("Eu7CQLfR+/Ffb+275A4s9/6H/RGKYxM4s6IMrsNKzC8=", WampCra.deriveKey("secret123", "salt123"));
        AuthHandler ticket = AuthHandler.ticket("t");
        assertEquals("t", ticket.authenticate(new Challenge("ticket", Map.of())).getSignature());
        CryptosignKey key =
            CryptosignKey.fromSeedHex("0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f20");
        assertEquals("79b5562e8fe654f94078b112e8a98ba7901f853ae695bed7e0e3910bad049664", key.getPublicKeyHex());
        String response = AuthHandler.cryptosign(key)
            .authenticate(new Challenge("cryptosign", Map.of("challenge", "00".repeat(32)))).getSignature();
        assertTrue(CryptosignKey.verify(response, key.getPublicKeyHex(), "00".repeat(32)));
    }

    @Test
    void configBuilderAndRawSocketConstants() {
        SessionConfig config = SessionConfig.builder("realm1")
            .authId("me")
            .authHandler("wampcra", AuthHandler.wampCra("s"))
            .serialization(Serialization.CBOR)
            .responseTimeout(Duration.ofSeconds(2))
            .recvLimit(1000)
            .build();
        assertEquals("me", config.getHelloDetails().get("authid"));
        assertEquals(Serialization.CBOR, config.getSerialization());
        assertEquals(1024, RawSocketProtocol.roundRecvLimit(config.getRecvLimit()));
        assertArrayEquals(new byte[] {0x7f, 0x13, 0, 0},
            new Handshake(RawSocketProtocol.exponentFor(1000), 3).encode());
        assertThrows(IllegalArgumentException.class, () -> SessionConfig.builder(" ").build());
    }

    @Test
    void sendProgressAsyncRefusesWhatTheCallerCannotReceive() {
        Invocation plain = new Invocation(1, List.of(), Map.of(), Map.of());
        assertEquals(false, plain.getReceiveProgress());
        java.util.concurrent.ExecutionException e = assertThrows(java.util.concurrent.ExecutionException.class,
            () -> plain.sendProgressAsync(List.of("chunk")).get(5, java.util.concurrent.TimeUnit.SECONDS));
        assertInstanceOf(ProgressNotAcceptedException.class, e.getCause());

        // Asked for progress, but not an invocation delivered by a session: nothing to send it through.
        Invocation detached = new Invocation(1, List.of(), Map.of(), Map.of("receive_progress", true));
        assertTrue(detached.getReceiveProgress());
        e = assertThrows(java.util.concurrent.ExecutionException.class,
            () -> detached.sendProgressAsync().get(5, java.util.concurrent.TimeUnit.SECONDS));
        assertInstanceOf(ProgressNotAcceptedException.class, e.getCause());
    }

    /** A router played by the test through the future-based transport face. */
    static final class QueueTransport implements AsyncWampTransport {
        final LinkedBlockingQueue<Message> sent = new LinkedBlockingQueue<>();
        final LinkedBlockingQueue<CompletableFuture<Message>> toClient = new LinkedBlockingQueue<>();
        final CompletableFuture<Void> closed = new CompletableFuture<>();

        @Override public CompletableFuture<Void> send(Message message) {
            sent.add(message);
            return CompletableFuture.completedFuture(null);
        }

        @Override public CompletableFuture<Message> receive() {
            try {
                return toClient.take();
            } catch (InterruptedException e) {
                return CompletableFuture.failedFuture(e);
            }
        }

        @Override public CompletableFuture<Void> close() {
            closed.complete(null);
            toClient.add(CompletableFuture.failedFuture(new ConnectionClosedException(null, "closed", null)));
            return CompletableFuture.completedFuture(null);
        }

        @Override public String getDescription() {
            return "java queue";
        }
    }

    @Test
    void joinOverAJavaTransportExposesIdAndRealmDetails() throws Exception {
        QueueTransport transport = new QueueTransport();
        transport.toClient.add(CompletableFuture.completedFuture(
            new Welcome(4242L, Map.of("authid", "alice", "authrole", "user", "authmethod", "ticket"))));
        WampSession session = WampSession
            .joinAsync(WampTransport.fromAsync(transport), SessionConfig.builder("realm1").build())
            .get(5, TimeUnit.SECONDS);
        Hello hello = assertInstanceOf(Hello.class, transport.sent.poll(5, TimeUnit.SECONDS));
        assertEquals("realm1", hello.getRealm());
        assertEquals(4242L, session.getId());
        Map<String, Object> details = session.getRealmDetails();
        assertEquals("alice", details.get("authid"));
        assertEquals("ticket", details.get("authmethod"));
        assertEquals("user", session.getAuthRole());
        assertEquals("realm1", session.getRealm());
        transport.toClient.add(CompletableFuture.completedFuture(
            new dev.tether.wamp.message.Goodbye(Map.of(), "wamp.close.system_shutdown")));
        assertTrue(session.closedFuture().get(5, TimeUnit.SECONDS).getMessage().contains("system_shutdown"));
        transport.closed.get(5, TimeUnit.SECONDS);
    }

    private static WampSession joinOver(QueueTransport transport) throws Exception {
        transport.toClient.add(CompletableFuture.completedFuture(new Welcome(7L, Map.of())));
        WampSession session = WampSession.joinAsync(WampTransport.fromAsync(transport),
            SessionConfig.builder("realm1").responseTimeout(Duration.ofSeconds(2)).build()).get(5, TimeUnit.SECONDS);
        assertInstanceOf(Hello.class, transport.sent.poll(5, TimeUnit.SECONDS));
        return session;
    }

    @Test
    void closeAsyncLeavesTheRealmAndClosedFutureSaysWhy() throws Exception {
        QueueTransport transport = new QueueTransport();
        WampSession session = joinOver(transport);
        CompletableFuture<Void> closing = session.closeAsync();
        dev.tether.wamp.message.Goodbye goodbye =
            assertInstanceOf(dev.tether.wamp.message.Goodbye.class, transport.sent.poll(5, TimeUnit.SECONDS));
        assertEquals(WampSession.CLOSE_REALM, goodbye.getReason());
        transport.toClient.add(CompletableFuture.completedFuture(
            new dev.tether.wamp.message.Goodbye(Map.of(), "wamp.close.goodbye_and_out")));
        closing.get(5, TimeUnit.SECONDS);
        transport.closed.get(5, TimeUnit.SECONDS);
        WampSessionClosedException why = session.closedFuture().get(5, TimeUnit.SECONDS);
        assertTrue(why.getMessage().contains("session closed"), why.getMessage());
        assertEquals(false, session.isOpen());
        java.util.concurrent.ExecutionException e = assertThrows(java.util.concurrent.ExecutionException.class,
            () -> session.callAsync("after").get(5, TimeUnit.SECONDS));
        assertEquals(why, e.getCause());
        session.closeAsync().get(5, TimeUnit.SECONDS); // idempotent
    }

    @Test
    void leaveAsyncSendsTheGivenReason() throws Exception {
        QueueTransport transport = new QueueTransport();
        WampSession session = joinOver(transport);
        CompletableFuture<Void> leaving = session.leaveAsync("wamp.close.system_shutdown");
        dev.tether.wamp.message.Goodbye goodbye =
            assertInstanceOf(dev.tether.wamp.message.Goodbye.class, transport.sent.poll(5, TimeUnit.SECONDS));
        assertEquals("wamp.close.system_shutdown", goodbye.getReason());
        transport.toClient.add(CompletableFuture.completedFuture(
            new dev.tether.wamp.message.Goodbye(Map.of(), "wamp.close.goodbye_and_out")));
        leaving.get(5, TimeUnit.SECONDS);
        assertInstanceOf(WampSessionClosedException.class, session.closedFuture().get(5, TimeUnit.SECONDS));
    }

    @Test
    void tlsContextDialerAndLoggerSettings() throws Exception {
        SSLContext tls = SSLContext.getInstance("TLS");
        tls.init(null, null, null);
        SocketDialer dialer = (host, port, timeout) -> {
            Socket socket = new Socket();
            socket.connect(new InetSocketAddress(host, port), (int) timeout.toMillis());
            return socket;
        };
        org.slf4j.Logger logger = org.slf4j.LoggerFactory.getLogger("my.app.wamp");
        SessionConfig config =
            SessionConfig.builder("realm1").sslContext(tls).socketDialer(dialer).logger(logger).build();
        assertEquals(tls, config.getSslContext());
        assertEquals(dialer, config.getSocketDialer());
        assertEquals(logger, config.getLogger());
        SessionConfig copy = config.toBuilder().build();
        assertEquals(tls, copy.getSslContext());
        assertEquals(dialer, copy.getSocketDialer());
        assertEquals(logger, copy.getLogger());
    }
}
