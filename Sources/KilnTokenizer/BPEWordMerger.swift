/// Applies BPE merges to one word, lowest rank first, in O(n log n): symbols form a linked list
/// and candidate pairs sit in a min-heap keyed by (rank, left position), the same order as
/// llama.cpp's `llm_bigram_bpe` queue (ties go to the leftmost pair). Its buffers are reused
/// across the words of one `encode` call, so merging allocates nothing per word.
struct BPEWordMerger {
    /// Marks a symbol merged into its left neighbour.
    private static let dead = Int32.min

    /// Token id of each symbol, `[symbols]`.
    private var ids: [Int32] = []
    /// Index of the previous / next live symbol, -1 at the ends, `[symbols]`.
    private var previous: [Int32] = []
    private var next: [Int32] = []
    /// Min-heap of `rank << 32 | leftIndex` candidate merges (entries go stale; checked at pop).
    private var heap: [UInt64] = []

    /// Merges the symbols `initial` (one token id per byte; -1 for a byte with no token) and
    /// appends the resulting ids to `output`. Ids of -1 are dropped, as llama.cpp drops bytes
    /// it cannot find.
    mutating func merge<Symbols: Collection<Int32>>(_ initial: Symbols, table: BPEMergeTable,
                                                    into output: inout [Int]) {
        let count = initial.count
        if count == 1 {
            if let only = initial.first, only >= 0 { output.append(Int(only)) }
            return
        }
        ids.removeAll(keepingCapacity: true)
        ids.append(contentsOf: initial)
        previous.removeAll(keepingCapacity: true)
        next.removeAll(keepingCapacity: true)
        heap.removeAll(keepingCapacity: true)
        for index in 0..<count {
            previous.append(Int32(index - 1))
            next.append(index + 1 < count ? Int32(index + 1) : -1)
        }
        for index in 0..<(count - 1) {
            if let pair = table.lookup(ids[index], ids[index + 1]) { push(pair.rank, index) }
        }

        while let entry = popMin() {
            let rank = Int32(truncatingIfNeeded: entry >> 32)
            let left = Int(truncatingIfNeeded: entry & 0xFFFF_FFFF)
            guard ids[left] != Self.dead else { continue }
            let right = Int(next[left])
            // A rank names exactly one pair, so "the pair here still has this rank" is the
            // staleness test (llama.cpp compares the pair's text instead).
            guard right >= 0, let pair = table.lookup(ids[left], ids[right]), pair.rank == rank else { continue }
            ids[left] = pair.merged
            ids[right] = Self.dead
            let afterRight = next[right]
            next[left] = afterRight
            if afterRight >= 0 { previous[Int(afterRight)] = Int32(left) }
            let before = Int(previous[left])
            if before >= 0, let pair = table.lookup(ids[before], ids[left]) { push(pair.rank, before) }
            if afterRight >= 0, let pair = table.lookup(ids[left], ids[Int(afterRight)]) { push(pair.rank, left) }
        }

        var index = 0
        while index >= 0 {
            if ids[index] >= 0 { output.append(Int(ids[index])) }
            index = Int(next[index])
        }
    }

    @inline(__always)
    private mutating func push(_ rank: Int32, _ left: Int) {
        heap.append(UInt64(UInt32(bitPattern: rank)) << 32 | UInt64(left))
        var child = heap.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            if heap[parent] <= heap[child] { break }
            heap.swapAt(parent, child)
            child = parent
        }
    }

    @inline(__always)
    private mutating func popMin() -> UInt64? {
        guard let last = heap.popLast() else { return nil }
        guard !heap.isEmpty else { return last }
        let top = heap[0]
        heap[0] = last
        var parent = 0
        let count = heap.count
        while true {
            let leftChild = 2 * parent + 1
            if leftChild >= count { break }
            let rightChild = leftChild + 1
            let smaller = rightChild < count && heap[rightChild] < heap[leftChild] ? rightChild : leftChild
            if heap[parent] <= heap[smaller] { break }
            heap.swapAt(parent, smaller)
            parent = smaller
        }
        return top
    }
}
