package dev.tether.docs;

// docs:start junit-extension
import dev.tether.testkit.FakeBroker;
import dev.tether.testkit.FakeBrokerFaults;
import dev.tether.testkit.junit.FakeBrokerExtension;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

import java.time.Duration;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

@ExtendWith(FakeBrokerExtension.class)  // a fresh broker for every test method, injected by type
class JUnitExtensionTest {

    @Test
    void registersAgainAfterADrop(FakeBroker broker, FakeBrokerFaults faults) throws Exception {
        try (JavaQuickstart agent = new JavaQuickstart(broker.getUrl(), broker.getToken(), "agent")) {
            agent.firstRegistration().get(10, TimeUnit.SECONDS);
            assertEquals(1, faults.dropAll());  // every live connection, without a close frame
            Waits.until(Duration.ofSeconds(10), () -> agent.registrations() == 2);  // poll (or use Awaitility)
            assertTrue(broker.registeredNames().contains("agent"));
            assertEquals(2L, broker.acceptedUpgrades());
        }
    }
}
// docs:end junit-extension
