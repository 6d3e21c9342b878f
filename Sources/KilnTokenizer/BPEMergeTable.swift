/// BPE merge ranks keyed by the token ids of the pair, in an open-addressing hash table: the
/// merge loop looks up every adjacent pair of every word, so this lookup is the hot path
/// (a `Dictionary` with SipHash costs several times more).
struct BPEMergeTable: Sendable {
    /// One slot: the pair (`left << 32 | right`, `emptyKey` when free), the merge's rank
    /// (its line number in the merges list; lower merges first) and the id of the merged token.
    private struct Slot {
        var key: UInt64
        var rank: Int32
        var merged: Int32
    }

    private static let emptyKey = UInt64.max
    private var slots: [Slot]
    private let mask: Int

    /// Number of merges stored.
    let count: Int

    /// Builds the table from merges in rank order; a pair listed twice keeps its first rank
    /// (as llama.cpp's `bpe_ranks.emplace` does).
    init(merges: [(left: Int32, right: Int32, merged: Int32)]) {
        var capacity = 16
        while capacity < merges.count * 2 { capacity <<= 1 } // load factor <= 0.5
        mask = capacity - 1
        slots = Array(repeating: Slot(key: Self.emptyKey, rank: 0, merged: 0), count: capacity)
        var stored = 0
        for (rank, merge) in merges.enumerated() {
            let key = Self.key(merge.left, merge.right)
            var index = Self.hash(key) & mask
            while slots[index].key != Self.emptyKey && slots[index].key != key { index = (index + 1) & mask }
            if slots[index].key == key { continue }
            slots[index] = Slot(key: key, rank: Int32(rank), merged: merge.merged)
            stored += 1
        }
        count = stored
    }

    /// The rank and merged id of the pair `left right`, nil when the pair never merges.
    @inline(__always)
    func lookup(_ left: Int32, _ right: Int32) -> (rank: Int32, merged: Int32)? {
        guard left >= 0 && right >= 0 else { return nil }
        let key = Self.key(left, right)
        return slots.withUnsafeBufferPointer { slots in
            var index = Self.hash(key) & mask
            while true {
                let slot = slots[index]
                if slot.key == key { return (slot.rank, slot.merged) }
                if slot.key == Self.emptyKey { return nil }
                index = (index + 1) & mask
            }
        }
    }

    @inline(__always)
    private static func key(_ left: Int32, _ right: Int32) -> UInt64 {
        UInt64(UInt32(bitPattern: left)) << 32 | UInt64(UInt32(bitPattern: right))
    }

    @inline(__always)
    private static func hash(_ key: UInt64) -> Int {
        // Fibonacci hashing; the high bits are the well-mixed ones.
        Int(truncatingIfNeeded: (key &* 0x9E37_79B9_7F4A_7C15) >> 32)
    }
}
