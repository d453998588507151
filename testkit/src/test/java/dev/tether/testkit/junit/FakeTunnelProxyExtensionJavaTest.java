package dev.tether.testkit.junit;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.tether.testkit.tunnel.FakeTunnelProxy;
import dev.tether.testkit.tunnel.FakeTunnelProxyConfig;
import dev.tether.testkit.tunnel.FakeTunnelProxyFaults;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * FakeTunnelProxyExtension from Java: the extension contract (FakeServerExtensionContract) per test method by
 * @ExtendWith, and per class with a config of its own.
 */
class FakeTunnelProxyExtensionJavaTest {

    @Nested
    @ExtendWith(FakeTunnelProxyExtension.class)
    class PerMethodByExtendWith extends FakeServerExtensionContract.PerMethod<FakeTunnelProxy, FakeTunnelProxyFaults> {
    }

    @Nested
    class PerClassWithAConfig extends FakeServerExtensionContract.PerClass<FakeTunnelProxy, FakeTunnelProxyFaults> {
        @RegisterExtension
        static final FakeTunnelProxyExtension SHARED = FakeTunnelProxyExtension.perClass(
                FakeTunnelProxyConfig.builder().secrets("class-a", "class-b").build());

        @Override
        protected FakeTunnelProxyExtension shared() {
            return SHARED;
        }

        @Override
        protected void assertConfigured(FakeTunnelProxy server) {
            assertEquals("class-a", server.getConfig().getSecretA());
        }
    }
}
