package dev.tether.testkit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tether.testkit.junit.FakeBrokerExtension;
import dev.tether.wsclient.Envelope;
import dev.tether.wsclient.WsClient;
import dev.tether.wsclient.WsClientConfig;
import java.net.ConnectException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.extension.RegisterExtension;

/** The JUnit extension from Java: declared with @ExtendWith (a broker per test) and registered per class. */
class FakeBrokerExtensionJavaTest {

    /** Connects a client built with the Java builder and returns the payload of its echo reply. */
    static String echoThrough(FakeBroker broker) throws Exception {
        WsClientConfig config = WsClientConfig.builder()
                .url(broker.getUrl())
                .handler(envelope -> { })
                .authToken(broker.getToken())
                .build();
        try (WsClient client = new WsClient(config)) {
            client.start();
            Envelope reply = client.requestAsync(Envelope.request("echo", "{\"n\":1}")).get(10, TimeUnit.SECONDS);
            assertEquals("echo.result", reply.getKind());
            return reply.getPayload();
        }
    }

    static void assertStopped(FakeBroker broker) {
        assertThrows(ConnectException.class, () -> {
            try (Socket socket = new Socket()) {
                socket.connect(new InetSocketAddress("127.0.0.1", broker.getPort()), 5_000);
            }
        });
    }

    @Nested
    @ExtendWith(FakeBrokerExtension.class)
    @TestMethodOrder(MethodOrderer.OrderAnnotation.class)
    class PerMethodByExtendWith {
        private static FakeBroker previous;
        private final FakeBroker fromConstructor;
        private FakeBroker fromBeforeEach;

        PerMethodByExtendWith(FakeBroker broker) {
            this.fromConstructor = broker;
        }

        @BeforeEach
        void before(FakeBroker broker) {
            fromBeforeEach = broker;
        }

        @Test
        @Order(1)
        void injectsOneRunningBrokerEverywhereInTheTest(FakeBroker broker, FakeBrokerFaults faults) throws Exception {
            assertSame(fromConstructor, broker);
            assertSame(fromBeforeEach, broker);
            assertSame(broker.getFaults(), faults);
            assertEquals("test-token", broker.getToken());
            assertEquals("{\"n\":1}", echoThrough(broker));
            previous = broker;
        }

        @Test
        @Order(2)
        void startsAFreshBrokerForEveryTestAndStopsTheLastOne(FakeBroker broker) throws Exception {
            assertNotNull(previous);
            assertNotSame(previous, broker);
            assertSame(fromConstructor, broker);
            assertEquals(0L, broker.acceptedUpgrades());
            assertStopped(previous);
            assertEquals("{\"n\":1}", echoThrough(broker));
        }
    }

    @Nested
    @TestMethodOrder(MethodOrderer.OrderAnnotation.class)
    class PerClassByRegisterExtension {
        @RegisterExtension
        static FakeBrokerExtension extension = FakeBrokerExtension.perClass(
                FakeBrokerConfig.builder().tokens("class-token").pingInterval(Duration.ZERO).build());

        private static FakeBroker fromBeforeAll;

        @BeforeAll
        static void beforeAll(FakeBroker broker) {
            fromBeforeAll = broker;
        }

        @Test
        @Order(1)
        void theClassBrokerServes(FakeBroker broker) throws Exception {
            assertSame(fromBeforeAll, broker);
            assertSame(extension.getServer(), broker);
            assertEquals(broker.getUrl(), extension.getUrl());
            assertSame(broker.getFaults(), extension.getFaults());
            assertEquals("class-token", broker.getToken());
            assertEquals("{\"n\":1}", echoThrough(broker));
        }

        @Test
        @Order(2)
        void theSameBrokerServesEveryTest(FakeBroker broker, FakeBrokerFaults faults) throws Exception {
            assertSame(fromBeforeAll, broker);
            assertSame(broker.getFaults(), faults);
            assertTrue(broker.acceptedUpgrades() >= 1, "the first test's connection was counted");
            assertEquals("{\"n\":1}", echoThrough(broker));
        }
    }

    @Nested
    class PerMethodWithOptions {
        @RegisterExtension
        FakeBrokerExtension extension = FakeBrokerExtension.perMethod(
                FakeBrokerConfig.builder().tokens("custom").maxConnections(4, 2).build());

        @Test
        void startsTheBrokerWithTheOptions(FakeBroker broker) throws Exception {
            assertSame(extension.getServer(), broker);
            assertEquals("custom", broker.getToken());
            assertEquals(2, broker.getConfig().getMaxConnectionsPerIp());
            assertEquals("{\"n\":1}", echoThrough(broker));
        }
    }
}
