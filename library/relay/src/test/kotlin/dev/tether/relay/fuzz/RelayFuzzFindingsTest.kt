package dev.tether.relay.fuzz

import dev.tether.relay.AuthToken
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertNull
import org.junit.jupiter.api.Test
import java.time.Instant

/** What fuzzing found in the relay decoders, pinned as plain unit tests (the inputs are also in the seed corpus). */
class RelayFuzzFindingsTest {
    private val signature = "oAr174WQLQeKWAtdeZ5Ib5+0HWE7WpIt2BwaFXay+/I="

    @Test
    fun `a management token whose expiry is beyond what Instant holds has no expiry instead of throwing`() {
        // AuthTokenFuzzTestInputs/fromManagement/expiry-beyond-instant: DateTimeException from expiresAt before the fix
        assertNull(AuthToken.fromManagement("99999999999999999", signature).expiresAt)
        assertNull(AuthToken.fromManagement("-99999999999999999", signature).expiresAt)
    }

    @Test
    fun `the largest and smallest expiries Instant holds are still read`() {
        val token = AuthToken.fromManagement(Instant.MAX.epochSecond.toString(), signature)
        assertEquals(Instant.MAX.epochSecond, token.expiresAt!!.epochSecond)
        assertEquals(Instant.MIN, AuthToken.fromManagement(Instant.MIN.epochSecond.toString(), signature).expiresAt)
    }
}
