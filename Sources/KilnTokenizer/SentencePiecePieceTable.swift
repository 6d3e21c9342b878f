/// A map from byte strings to ids, looked up by pointer and length so the merge loops never
/// allocate: an open-addressing hash table over one contiguous byte buffer.
///
/// Keys are raw UTF-8 bytes, never Swift `String`s: `String` equality is Unicode canonical
/// equivalence, which would make "é" (U+00E9) and "e\u{301}" the same piece, while llama.cpp and
/// SentencePiece compare bytes. When a key is inserted twice the later id wins, as in llama.cpp's
/// `token_to_id[word] = i`.
struct SentencePiecePieceTable: Sendable {
    /// Every piece's bytes, back to back.
    private var storage: [UInt8] = []
    /// `[pieces + 1]`: piece `i` is `storage[offsets[i] ..< offsets[i + 1]]`.
    private var offsets: [Int32] = [0]
    /// Id stored for each piece, parallel to `offsets` (minus its last entry).
    private var ids: [Int32] = []
    /// `[capacity]`: index into `ids`/`offsets`, or -1 for an empty slot; capacity is a power
    /// of two at least twice the number of pieces, so probe chains stay short.
    private var slots: [Int32]
    /// `slots.count - 1`.
    private var mask: Int

    /// Number of distinct pieces.
    var count: Int { ids.count }

    /// An empty table sized for about `expectedCount` pieces.
    init(expectedCount: Int) {
        var capacity = 16
        while capacity < expectedCount * 2 { capacity <<= 1 }
        slots = [Int32](repeating: -1, count: capacity)
        mask = capacity - 1
        ids.reserveCapacity(expectedCount)
        offsets.reserveCapacity(expectedCount + 1)
        storage.reserveCapacity(expectedCount * 8)
    }

    /// FNV-1a over the bytes, then a multiply-shift finaliser so that short keys differing in
    /// their last byte still spread over the high bits used for the slot.
    @inline(__always)
    static func hash(_ base: UnsafePointer<UInt8>?, _ length: Int) -> UInt64 {
        var h: UInt64 = 0xCBF2_9CE4_8422_2325
        if let base, length > 0 {
            for i in 0..<length {
                h = (h ^ UInt64(base[i])) &* 0x0000_0100_0000_01B3
            }
        }
        h ^= h >> 29
        h = h &* 0xBF58_476D_1CE4_E5B9
        return h ^ (h >> 32)
    }

    /// The id of the piece spelled by `length` bytes at `base`, or -1.
    @inline(__always)
    func lookup(_ base: UnsafePointer<UInt8>?, _ length: Int) -> Int32 {
        let h = Self.hash(base, length)
        return storage.withUnsafeBufferPointer { bytes in
            offsets.withUnsafeBufferPointer { offsets in
                slots.withUnsafeBufferPointer { slots in
                    var slot = Int(truncatingIfNeeded: h) & mask
                    while true {
                        let entry = Int(slots[slot])
                        if entry < 0 { return -1 }
                        let start = Int(offsets[entry])
                        if Int(offsets[entry + 1]) - start == length,
                           length == 0 || memoryEqual(bytes.baseAddress! + start, base!, length) {
                            return ids[entry]
                        }
                        slot = (slot + 1) & mask
                    }
                }
            }
        }
    }

    /// The id of `bytes`, or -1.
    func lookup(_ bytes: [UInt8]) -> Int32 {
        bytes.withUnsafeBufferPointer { lookup($0.baseAddress, $0.count) }
    }

    /// Maps `bytes` to `id`, replacing the id of an equal piece already present.
    mutating func insert(_ bytes: [UInt8], id: Int32) {
        bytes.withUnsafeBufferPointer { insert($0, id: id) }
    }

    /// Maps `bytes` to `id`, replacing the id of an equal piece already present.
    mutating func insert(_ bytes: UnsafeBufferPointer<UInt8>, id: Int32) {
        if ids.count * 2 >= slots.count { grow() }
        let h = Self.hash(bytes.baseAddress, bytes.count)
        var slot = Int(truncatingIfNeeded: h) & mask
        while true {
            let entry = Int(slots[slot])
            if entry < 0 { break }
            let start = Int(offsets[entry])
            let end = Int(offsets[entry + 1])
            if end - start == bytes.count, storage[start..<end].elementsEqual(bytes) {
                ids[entry] = id
                return
            }
            slot = (slot + 1) & mask
        }
        slots[slot] = Int32(ids.count)
        ids.append(id)
        storage.append(contentsOf: bytes)
        offsets.append(Int32(storage.count))
    }

    /// Doubles the slot array and re-inserts every piece.
    private mutating func grow() {
        let capacity = slots.count * 2
        slots = [Int32](repeating: -1, count: capacity)
        mask = capacity - 1
        storage.withUnsafeBufferPointer { bytes in
            for entry in 0..<ids.count {
                let start = Int(offsets[entry])
                let length = Int(offsets[entry + 1]) - start
                let h = Self.hash(bytes.baseAddress.map { $0 + start }, length)
                var slot = Int(truncatingIfNeeded: h) & mask
                while slots[slot] >= 0 { slot = (slot + 1) & mask }
                slots[slot] = Int32(entry)
            }
        }
    }
}

/// `memcmp` without Foundation: the pieces compared are a few bytes long.
@inline(__always)
private func memoryEqual(_ a: UnsafePointer<UInt8>, _ b: UnsafePointer<UInt8>, _ length: Int) -> Bool {
    for i in 0..<length where a[i] != b[i] { return false }
    return true
}
