/// Token ids of words already merged during one `encode` call. Text repeats its words
/// constantly, so most words skip merging; a cache per call needs no lock while the tokenizer
/// is shared between threads. Open addressing over FNV-1a hashes of the word's bytes, with the
/// words and ids kept in two flat arrays (a `Dictionary` keyed by byte slices costs more in
/// hashing than the merges it saves).
struct BPEWordCache {
    private struct Entry {
        var hash: UInt64
        var byteStart: Int32
        var byteCount: Int32
        var idStart: Int32
        var idCount: Int32
    }

    /// Slot -> entry index, -1 when free; the count is a power of two.
    private var slots = [Int32](repeating: -1, count: 1024)
    private var entries: [Entry] = []
    /// Bytes of the cached words, back to back.
    private var words: [UInt8] = []
    /// Ids of the cached words, back to back.
    private var ids: [Int] = []

    /// Appends the cached ids of `word` to `output`; false when the word is not cached.
    @inline(__always)
    func appendCached(_ word: UnsafeBufferPointer<UInt8>, hash: UInt64, to output: inout [Int]) -> Bool {
        let mask = slots.count - 1
        var slot = Int(truncatingIfNeeded: hash) & mask
        while true {
            let index = Int(slots[slot])
            if index < 0 { return false }
            let entry = entries[index]
            if entry.hash == hash && Int(entry.byteCount) == word.count && matches(entry, word) {
                output.append(contentsOf: ids[Int(entry.idStart)..<Int(entry.idStart + entry.idCount)])
                return true
            }
            slot = (slot + 1) & mask
        }
    }

    /// Remembers that `word` encodes to `wordIDs`.
    mutating func insert(_ word: UnsafeBufferPointer<UInt8>, hash: UInt64, ids wordIDs: ArraySlice<Int>) {
        if (entries.count + 1) * 2 > slots.count { grow() }
        entries.append(Entry(hash: hash, byteStart: Int32(words.count), byteCount: Int32(word.count),
                             idStart: Int32(ids.count), idCount: Int32(wordIDs.count)))
        words.append(contentsOf: word)
        ids.append(contentsOf: wordIDs)
        place(entries.count - 1)
    }

    /// FNV-1a of the bytes, the key the cache files words under.
    @inline(__always)
    static func hash(_ word: UnsafeBufferPointer<UInt8>) -> UInt64 {
        var hash: UInt64 = 0xCBF2_9CE4_8422_2325
        for byte in word { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01B3 }
        return hash ^ (hash >> 32)
    }

    @inline(__always)
    private func matches(_ entry: Entry, _ word: UnsafeBufferPointer<UInt8>) -> Bool {
        let start = Int(entry.byteStart)
        for offset in 0..<word.count where words[start + offset] != word[offset] { return false }
        return true
    }

    private mutating func place(_ index: Int) {
        let mask = slots.count - 1
        var slot = Int(truncatingIfNeeded: entries[index].hash) & mask
        while slots[slot] >= 0 { slot = (slot + 1) & mask }
        slots[slot] = Int32(index)
    }

    private mutating func grow() {
        slots = [Int32](repeating: -1, count: slots.count * 2)
        for index in entries.indices { place(index) }
    }
}
