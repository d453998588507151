package dev.tether.wsclient

import java.time.Month
import java.time.OffsetDateTime
import java.time.Year
import java.time.ZoneOffset

/**
 * Go's RFC 3339 time stamps, as `time.Time` writes them in JSON (`time.RFC3339Nano`) and reads them back
 * (`UnmarshalJSON`): the `ts` field of an envelope.
 */
internal object GoTime {
    /** Go's `time.RFC3339Nano`: fractional zeros trimmed, `Z` for a zero offset, else `±hh:mm`. Year is 0..9999. */
    fun appendTs(sb: StringBuilder, t: OffsetDateTime) {
        // Every envelope carries one: digits are written with constant divisors, which the JIT turns into multiplies.
        val year = t.year
        append2(sb, year / 100)
        append2(sb, year % 100)
        sb.append('-')
        append2(sb, t.monthValue)
        sb.append('-')
        append2(sb, t.dayOfMonth)
        sb.append('T')
        append2(sb, t.hour)
        sb.append(':')
        append2(sb, t.minute)
        sb.append(':')
        append2(sb, t.second)
        var nano = t.nano
        if (nano != 0) {
            var digits = 9
            while (nano % 10 == 0) {
                nano /= 10
                digits--
            }
            sb.append('.')
            var length = 1 // of nano in decimal, to pad it with leading zeros to its place
            var power = 10
            while (length < digits && nano >= power) {
                length++
                power *= 10
            }
            repeat(digits - length) { sb.append('0') }
            sb.append(nano)
        }
        val offset = t.offset.totalSeconds
        if (offset == 0) {
            sb.append('Z')
        } else {
            sb.append(if (offset < 0) '-' else '+')
            val minutes = Math.abs(offset) / 60
            append2(sb, minutes / 60)
            sb.append(':')
            append2(sb, minutes % 60)
        }
    }

    /** [value] (0..99) as two digits. */
    private fun append2(sb: StringBuilder, value: Int) {
        sb.append('0' + value / 10).append('0' + value % 10)
    }

    /**
     * Parses RFC 3339 as Go 1.20+ `time.Time.UnmarshalJSON` does: `YYYY-MM-DDTHH:MM:SS`, optional fraction
     * (digits past nanoseconds ignored), then `Z` or `±hh:mm`; upper-case `T` and `Z` only; calendar ranges
     * checked. Offsets beyond ±18:00 (legal for Go, not representable in java.time) are rejected.
     */
    fun parseTs(v: String): OffsetDateTime = parseTs(v, 0, v.length)

    /**
     * [parseTs] of `s[from, to)`, in place. The usual form, `YYYY-MM-DDTHH:MM:SS[.fraction]Z` with values in
     * range, is read in one straight pass; anything else takes the checking path, which names what is wrong.
     */
    fun parseTs(s: String, from: Int, to: Int): OffsetDateTime {
        if (to - from < 20 || s[to - 1] != 'Z' || s[from + 4] != '-' || s[from + 7] != '-' || s[from + 10] != 'T' ||
            s[from + 13] != ':' || s[from + 16] != ':'
        ) {
            return parseTsChecked(s, from, to)
        }
        val year = digits2(s, from) * 100 + digits2(s, from + 2)
        val month = digits2(s, from + 5)
        val day = digits2(s, from + 8)
        val hour = digits2(s, from + 11)
        val minute = digits2(s, from + 14)
        val second = digits2(s, from + 17)
        // digits2 is negative for a non-digit, which every range check below refuses
        if (year < 0 || month !in 1..12 || day !in 1..28 || hour !in 0..23 || minute !in 0..59 || second !in 0..59) {
            return parseTsChecked(s, from, to) // days 29-31 are checked against the month there
        }
        var nano = 0
        var i = from + 19
        if (i < to - 1) {
            if (s[i] != '.') return parseTsChecked(s, from, to)
            i++
            var digits = 0
            while (i < to - 1) {
                val c = s[i]
                if (c !in '0'..'9') return parseTsChecked(s, from, to)
                if (digits < 9) { // like Go, digits beyond nanoseconds are ignored
                    nano = nano * 10 + (c - '0')
                    digits++
                }
                i++
            }
            if (digits == 0) return parseTsChecked(s, from, to)
            while (digits < 9) {
                nano *= 10
                digits++
            }
        }
        return OffsetDateTime.of(year, month, day, hour, minute, second, nano, ZoneOffset.UTC)
    }

    /** The two decimal digits at [at] as a number, or a negative value when either is not a digit. */
    private fun digits2(s: String, at: Int): Int {
        val hi = s[at] - '0'
        val lo = s[at + 1] - '0'
        return if (hi in 0..9 && lo in 0..9) hi * 10 + lo else -1
    }

    /** [parseTs] with every check and a message for each way the text can be wrong. */
    private fun parseTsChecked(s: String, from: Int, to: Int): OffsetDateTime {
        val len = to - from
        fun bad(why: String): Nothing {
            val shown = if (len <= 64) s.substring(from, to) else s.substring(from, from + 64) + "…"
            throw JsonSyntaxError("field \"ts\" is not an RFC 3339 time (\"$shown\"): $why")
        }
        fun num(at: Int, digits: Int, min: Int, max: Int, what: String): Int {
            var r = 0
            for (i in from + at until from + at + digits) {
                val c = s[i]
                if (c !in '0'..'9') bad("expected digits for the $what")
                r = r * 10 + (c - '0')
            }
            if (r < min || r > max) bad("$what $r out of range")
            return r
        }
        if (len < 20) bad("too short for YYYY-MM-DDTHH:MM:SSZ")
        val separators = s[from + 4] == '-' && s[from + 7] == '-' && s[from + 10] == 'T' &&
            s[from + 13] == ':' && s[from + 16] == ':'
        if (!separators) {
            bad("expected the layout YYYY-MM-DDTHH:MM:SS")
        }
        val year = num(0, 4, 0, 9999, "year")
        val month = num(5, 2, 1, 12, "month")
        val day = num(8, 2, 1, Month.of(month).length(Year.isLeap(year.toLong())), "day")
        val hour = num(11, 2, 0, 23, "hour")
        val minute = num(14, 2, 0, 59, "minute")
        val second = num(17, 2, 0, 59, "second")
        var i = from + 19
        var nano = 0
        if (i + 1 < to && s[i] == '.' && s[i + 1] in '0'..'9') {
            i++
            var digits = 0
            while (i < to && s[i] in '0'..'9') {
                if (digits < 9) { // like Go, digits beyond nanoseconds are ignored
                    nano = nano * 10 + (s[i] - '0')
                    digits++
                }
                i++
            }
            while (digits < 9) {
                nano *= 10
                digits++
            }
        }
        val offsetSeconds: Int = when {
            to - i == 1 && s[i] == 'Z' -> 0

            to - i == 6 && (s[i] == '+' || s[i] == '-') && s[i + 3] == ':' -> {
                val hh = num(i - from + 1, 2, 0, 23, "offset hour")
                val mm = num(i - from + 4, 2, 0, 59, "offset minute")
                val total = hh * 3600 + mm * 60
                if (total > 18 * 3600) bad("offsets beyond ±18:00 are not supported")
                if (s[i] == '-') -total else total
            }

            else -> bad("expected Z or ±hh:mm after the seconds")
        }
        val offset = if (offsetSeconds == 0) ZoneOffset.UTC else ZoneOffset.ofTotalSeconds(offsetSeconds)
        return OffsetDateTime.of(year, month, day, hour, minute, second, nano, offset)
    }
}
