/// An element of `SentencePieceHeap`: the heap pops the element that `comesBefore` all others.
protocol SentencePieceHeapElement {
    /// Whether `self` is popped before `other`; a strict weak order.
    func comesBefore(_ other: Self) -> Bool
}

/// A binary heap over a plain array: the merge loops' work queue (llama.cpp uses
/// `std::priority_queue`). Generic over a concrete element so the optimiser specialises it;
/// no closures in the hot path.
struct SentencePieceHeap<Element: SentencePieceHeapElement> {
    /// Heap-ordered: `items[0]` comes before every other item.
    private var items: [Element] = []

    /// Whether the heap holds nothing.
    var isEmpty: Bool { items.isEmpty }

    /// Empties the heap, keeping its storage for the next text.
    mutating func removeAll() { items.removeAll(keepingCapacity: true) }

    /// Adds `element`.
    mutating func push(_ element: Element) {
        items.append(element)
        items.withUnsafeMutableBufferPointer { heap in
            var child = heap.count - 1
            while child > 0 {
                let parent = (child - 1) >> 1
                guard heap[child].comesBefore(heap[parent]) else { break }
                heap.swapAt(child, parent)
                child = parent
            }
        }
    }

    /// Removes and returns the first element; the heap must not be empty.
    mutating func pop() -> Element {
        let top = items[0]
        let last = items.removeLast()
        if items.isEmpty { return top }
        items.withUnsafeMutableBufferPointer { heap in
            heap[0] = last
            var parent = 0
            let count = heap.count
            while true {
                let left = 2 * parent + 1
                if left >= count { break }
                let right = left + 1
                var first = left
                if right < count, heap[right].comesBefore(heap[left]) { first = right }
                guard heap[first].comesBefore(heap[parent]) else { break }
                heap.swapAt(first, parent)
                parent = first
            }
        }
        return top
    }
}
