package dev.tether.testkit.junit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tether.testkit.FakeServer;
import dev.tether.testkit.Faults;
import java.net.ConnectException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;

/**
 * What every fake's JUnit 5 extension promises a Java user, written once. Each fake's test extends the two
 * contracts in @Nested classes, naming its server and faults types (the extension resolves the type variables
 * against them) and registering its extension; it adds only what is its own, the config it starts with.
 */
final class FakeServerExtensionContract {
    private FakeServerExtensionContract() {
    }

    /**
     * Per test method, as `@ExtendWith(FakeXExtension.class)` gives it: a running server and its faults injected
     * into test parameters, a fresh one for every test, the previous one stopped.
     */
    @TestMethodOrder(MethodOrderer.OrderAnnotation.class)
    abstract static class PerMethod<S extends FakeServer<F>, F extends Faults> {
        /** The server of the first test, by concrete test class (a test instance lives for one method only). */
        private static final Map<Class<?>, FakeServer<?>> PREVIOUS = new ConcurrentHashMap<>();

        @Test
        @Order(1)
        void injectsARunningServerAndItsFaults(S server, F faults) throws Exception {
            assertSame(server.getFaults(), faults);
            assertListening(server);
            faults.reset(); // the controls of every fake
            PREVIOUS.put(getClass(), server);
        }

        @Test
        @Order(2)
        void everyTestGetsAFreshServerAndThePreviousOneIsStopped(S server) throws Exception {
            FakeServer<?> previous = PREVIOUS.remove(getClass());
            assertNotSame(previous, server);
            assertStopped(previous);
            assertListening(server);
        }
    }

    /**
     * One server for the whole class, started with a config, as `@RegisterExtension static FakeXExtension shared =
     * FakeXExtension.perClass(config)` gives it: injected into every test and reachable through the extension.
     */
    @TestMethodOrder(MethodOrderer.OrderAnnotation.class)
    abstract static class PerClass<S extends FakeServer<F>, F extends Faults> {
        private static final Map<Class<?>, FakeServer<?>> FIRST = new ConcurrentHashMap<>();

        /** The extension the subclass registered in its static field. */
        protected abstract FakeServerExtension<S, F> shared();

        /** Checks that [server] runs with the config the subclass gave its extension. */
        protected abstract void assertConfigured(S server);

        @Test
        @Order(1)
        void startsWithTheConfig(S server) throws Exception {
            assertConfigured(server);
            assertSame(shared().getServer(), server);
            assertSame(server.getFaults(), shared().getFaults());
            assertEquals(server.getUrl(), shared().getUrl());
            assertListening(server);
            FIRST.put(getClass(), server);
        }

        @Test
        @Order(2)
        void servesEveryTestOfTheClass(S server) {
            assertSame(FIRST.remove(getClass()), server);
        }
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
