package dev.tether.testkit

import io.kotest.assertions.throwables.shouldThrow
import io.kotest.core.spec.style.FunSpec
import io.kotest.matchers.collections.shouldBeEmpty
import io.kotest.matchers.shouldBe
import java.util.concurrent.ConcurrentHashMap

class SnapshotSpec : FunSpec({
    /** A set caught between two reads: it still reports one element, but that element is gone when iterated. */
    val justEmptied = object : AbstractCollection<String>() {
        override val size: Int get() = 1
        override fun iterator(): Iterator<String> = emptyList<String>().iterator()
    }

    test(
        "a collection whose last element goes between its size and its iteration: toList throws, snapshot copies " +
            "none",
    ) {
        shouldThrow<NoSuchElementException> { justEmptied.toList() }
        justEmptied.snapshot().shouldBeEmpty()
    }

    test("snapshot copies what a concurrent set holds and does not follow later changes") {
        val set = ConcurrentHashMap.newKeySet<Int>().apply { addAll(1..3) }
        val copy = set.snapshot()
        set.remove(2)
        copy.sorted() shouldBe listOf(1, 2, 3)
    }
})
