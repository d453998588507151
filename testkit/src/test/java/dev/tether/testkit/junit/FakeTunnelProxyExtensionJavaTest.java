package dev.tether.testkit.junit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertSame;

import dev.tether.testkit.tunnel.FakeTunnelProxy;
import dev.tether.testkit.tunnel.FakeTunnelProxyConfig;
import dev.tether.testkit.tunnel.FakeTunnelProxyFaults;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * FakeTunnelProxyExtension from Java: a fresh FakeTunnelProxy per test method by @ExtendWith, and one per class with a
 * config.
 */
class FakeTunnelProxyExtensionJavaTest {

    @Nested
    @ExtendWith(FakeTunnelProxyExtension.class)
    @TestMethodOrder(MethodOrderer.OrderAnnotation.class)
    class PerMethodByExtendWith {
        private static FakeTunnelProxy previous;

        @Test
        @Order(1)
        void injectsARunningServerAndItsFaults(FakeTunnelProxy server, FakeTunnelProxyFaults faults) throws Exception {
            assertSame(server.getFaults(), faults);
            FakeServers.assertListening(server);
            faults.reset(); // the controls of every fake
            previous = server;
        }

        @Test
        @Order(2)
        void everyTestGetsAFreshServerAndThePreviousOneIsStopped(FakeTunnelProxy server) throws Exception {
            assertNotSame(previous, server);
            FakeServers.assertStopped(previous);
            FakeServers.assertListening(server);
        }
    }

    @Nested
    @TestMethodOrder(MethodOrderer.OrderAnnotation.class)
    class PerClassWithAConfig {
        @RegisterExtension
        static final FakeTunnelProxyExtension SHARED = FakeTunnelProxyExtension.perClass(
                FakeTunnelProxyConfig.builder().secrets("class-a", "class-b").build());

        private static FakeTunnelProxy first;

        @Test
        @Order(1)
        void startsWithTheConfig(FakeTunnelProxy server) throws Exception {
            assertEquals("class-a", server.getConfig().getSecretA());
            assertSame(SHARED.getServer(), server);
            assertSame(server.getFaults(), SHARED.getFaults());
            assertEquals(server.getUrl(), SHARED.getUrl());
            FakeServers.assertListening(server);
            first = server;
        }

        @Test
        @Order(2)
        void servesEveryTestOfTheClass(FakeTunnelProxy server) {
            assertSame(first, server);
        }
    }
}
