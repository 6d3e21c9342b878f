/// BPE merge ranks by the ids of the two pieces merged: an open-addressing hash table from
/// `(left, right)` to `(rank, merged)`.
///
/// Ids are those of a `SentencePiecePieceTable` that holds, after the vocabulary, every merge
/// side or result the vocabulary lacks, so that merges behave exactly as llama.cpp's lookups by
/// string (`bpe_ranks[(left, right)]`) even where a merge names a piece that is not a token.
struct SentencePieceMergeTable: Sendable {
    /// `[capacity]`: `left << 32 | right`, or `UInt64.max` for an empty slot.
    private var keys: [UInt64]
    /// `[capacity]`: `rank << 32 | merged`, parallel to `keys`.
    private var values: [UInt64]
    /// `keys.count - 1`; capacity is a power of two at least twice the number of merges.
    private let mask: Int
    /// Number of distinct pairs.
    private(set) var count = 0

    /// An empty table sized for `expectedCount` merges.
    init(expectedCount: Int) {
        var capacity = 16
        while capacity < expectedCount * 2 { capacity <<= 1 }
        keys = [UInt64](repeating: .max, count: capacity)
        values = [UInt64](repeating: 0, count: capacity)
        mask = capacity - 1
    }

    /// Slot of a pair key: a multiplicative hash; its high bits are the best mixed.
    @inline(__always)
    private func firstSlot(_ key: UInt64) -> Int {
        Int(truncatingIfNeeded: (key &* 0x9E37_79B9_7F4A_7C15) >> 32) & mask
    }

    /// Records that `left right` merges into `merged` at `rank`. An earlier (lower) rank for the
    /// same pair wins, as `std::map::emplace` keeps the first entry in llama.cpp.
    mutating func insert(left: Int32, right: Int32, rank: Int32, merged: Int32) {
        precondition(count * 2 < keys.count, "merge table sized too small")
        let key = UInt64(UInt32(bitPattern: left)) << 32 | UInt64(UInt32(bitPattern: right))
        var slot = firstSlot(key)
        while keys[slot] != .max {
            if keys[slot] == key { return }
            slot = (slot + 1) & mask
        }
        keys[slot] = key
        values[slot] = UInt64(UInt32(bitPattern: rank)) << 32 | UInt64(UInt32(bitPattern: merged))
        count += 1
    }

    /// The rank of merging `left` with `right` and the merged piece's id, nil when they do not merge.
    @inline(__always)
    func find(left: Int32, right: Int32) -> (rank: Int32, merged: Int32)? {
        let key = UInt64(UInt32(bitPattern: left)) << 32 | UInt64(UInt32(bitPattern: right))
        return keys.withUnsafeBufferPointer { keys in
            var slot = firstSlot(key)
            while true {
                let found = keys[slot]
                if found == key {
                    let value = values[slot]
                    return (Int32(truncatingIfNeeded: value >> 32), Int32(truncatingIfNeeded: value))
                }
                if found == .max { return nil }
                slot = (slot + 1) & mask
            }
        }
    }
}
