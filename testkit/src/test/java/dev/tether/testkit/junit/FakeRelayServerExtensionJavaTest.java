package dev.tether.testkit.junit;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.tether.testkit.relay.FakeRelayServer;
import dev.tether.testkit.relay.FakeRelayServerConfig;
import dev.tether.testkit.relay.FakeRelayServerFaults;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * FakeRelayServerExtension from Java: the extension contract (FakeServerExtensionContract) per test method by
 * @ExtendWith, and per class with a config of its own.
 */
class FakeRelayServerExtensionJavaTest {

    @Nested
    @ExtendWith(FakeRelayServerExtension.class)
    class PerMethodByExtendWith extends FakeServerExtensionContract.PerMethod<FakeRelayServer, FakeRelayServerFaults> {
    }

    @Nested
    class PerClassWithAConfig extends FakeServerExtensionContract.PerClass<FakeRelayServer, FakeRelayServerFaults> {
        @RegisterExtension
        static final FakeRelayServerExtension SHARED = FakeRelayServerExtension.perClass(
                FakeRelayServerConfig.builder().secret("class-secret").build());

        @Override
        protected FakeRelayServerExtension shared() {
            return SHARED;
        }

        @Override
        protected void assertConfigured(FakeRelayServer server) {
            assertEquals("class-secret", server.getSecret());
        }
    }
}
