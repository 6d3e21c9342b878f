/// The raw bytes of every token, stored flat (one allocation instead of one array per token),
/// with an optional hash index from bytes back to the token id.
struct TokenByteTable: Sendable {
    /// Concatenated bytes of all tokens.
    private let storage: [UInt8]
    /// Start of each token's bytes in `storage`, `[tokens + 1]`.
    private let offsets: [Int32]
    /// Open-addressing index: slot -> token id (-1 free); empty when not built.
    private let index: [Int32]
    private let indexMask: Int

    /// Number of tokens.
    var count: Int { offsets.count - 1 }

    /// Stores `bytes(id)` for ids `0..<count`; when `indexed`, the ids for which `isIndexed`
    /// holds can be found again by `id(of:)` (the first id wins for duplicate byte strings).
    init(count: Int, indexed: Bool, isIndexed: (Int) -> Bool = { _ in true }, bytes: (Int) -> [UInt8]) {
        var storage: [UInt8] = []
        var offsets: [Int32] = [0]
        offsets.reserveCapacity(count + 1)
        for id in 0..<count {
            storage.append(contentsOf: bytes(id))
            offsets.append(Int32(storage.count))
        }
        self.storage = storage
        self.offsets = offsets
        guard indexed else {
            index = []
            indexMask = 0
            return
        }
        var capacity = 16
        while capacity < count * 2 { capacity <<= 1 }
        var index = [Int32](repeating: -1, count: capacity)
        let mask = capacity - 1
        storage.withUnsafeBufferPointer { storage in
            for id in 0..<count where isIndexed(id) {
                let range = Int(offsets[id])..<Int(offsets[id + 1])
                guard !range.isEmpty else { continue }
                let slice = UnsafeBufferPointer(rebasing: storage[range])
                var slot = Self.hash(slice) & mask
                var duplicate = false
                while index[slot] >= 0 {
                    let other = Int(index[slot])
                    if storage[Int(offsets[other])..<Int(offsets[other + 1])].elementsEqual(slice) {
                        duplicate = true
                        break
                    }
                    slot = (slot + 1) & mask
                }
                if !duplicate { index[slot] = Int32(id) }
            }
        }
        self.index = index
        self.indexMask = mask
    }

    /// The bytes of token `id` (which must be in range).
    func bytes(of id: Int) -> ArraySlice<UInt8> {
        storage[Int(offsets[id])..<Int(offsets[id + 1])]
    }

    /// Appends the bytes of token `id` to `output`.
    @inline(__always)
    func append(_ id: Int, to output: inout [UInt8]) {
        output.append(contentsOf: storage[Int(offsets[id])..<Int(offsets[id + 1])])
    }

    /// The indexed token whose bytes are exactly `bytes`, nil when none (or no index was built).
    func id(of bytes: UnsafeBufferPointer<UInt8>) -> Int? {
        guard !index.isEmpty, !bytes.isEmpty else { return nil }
        var slot = Self.hash(bytes) & indexMask
        return storage.withUnsafeBufferPointer { storage in
            while true {
                let id = Int(index[slot])
                if id < 0 { return nil }
                let start = Int(offsets[id])
                let end = Int(offsets[id + 1])
                if end - start == bytes.count && memoryEqual(storage, start, bytes) { return id }
                slot = (slot + 1) & indexMask
            }
        }
    }

    @inline(__always)
    private func memoryEqual(_ storage: UnsafeBufferPointer<UInt8>, _ start: Int, _ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        for offset in 0..<bytes.count where storage[start + offset] != bytes[offset] { return false }
        return true
    }

    /// FNV-1a over the bytes.
    @inline(__always)
    private static func hash(_ bytes: UnsafeBufferPointer<UInt8>) -> Int {
        var hash: UInt64 = 0xCBF2_9CE4_8422_2325
        for byte in bytes { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01B3 }
        return Int(truncatingIfNeeded: hash ^ (hash >> 29))
    }
}
