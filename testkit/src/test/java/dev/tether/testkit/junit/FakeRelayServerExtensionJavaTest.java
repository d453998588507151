package dev.tether.testkit.junit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertSame;

import dev.tether.testkit.relay.FakeRelayServer;
import dev.tether.testkit.relay.FakeRelayServerConfig;
import dev.tether.testkit.relay.FakeRelayServerFaults;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * FakeRelayServerExtension from Java: a fresh FakeRelayServer per test method by @ExtendWith, and one per class with a
 * config.
 */
class FakeRelayServerExtensionJavaTest {

    @Nested
    @ExtendWith(FakeRelayServerExtension.class)
    @TestMethodOrder(MethodOrderer.OrderAnnotation.class)
    class PerMethodByExtendWith {
        private static FakeRelayServer previous;

        @Test
        @Order(1)
        void injectsARunningServerAndItsFaults(FakeRelayServer server, FakeRelayServerFaults faults) throws Exception {
            assertSame(server.getFaults(), faults);
            FakeServers.assertListening(server);
            faults.reset(); // the controls of every fake
            previous = server;
        }

        @Test
        @Order(2)
        void everyTestGetsAFreshServerAndThePreviousOneIsStopped(FakeRelayServer server) throws Exception {
            assertNotSame(previous, server);
            FakeServers.assertStopped(previous);
            FakeServers.assertListening(server);
        }
    }

    @Nested
    @TestMethodOrder(MethodOrderer.OrderAnnotation.class)
    class PerClassWithAConfig {
        @RegisterExtension
        static final FakeRelayServerExtension SHARED = FakeRelayServerExtension.perClass(
                FakeRelayServerConfig.builder().secret("class-secret").build());

        private static FakeRelayServer first;

        @Test
        @Order(1)
        void startsWithTheConfig(FakeRelayServer server) throws Exception {
            assertEquals("class-secret", server.getSecret());
            assertSame(SHARED.getServer(), server);
            assertSame(server.getFaults(), SHARED.getFaults());
            assertEquals(server.getUrl(), SHARED.getUrl());
            FakeServers.assertListening(server);
            first = server;
        }

        @Test
        @Order(2)
        void servesEveryTestOfTheClass(FakeRelayServer server) {
            assertSame(first, server);
        }
    }
}
