/// A byte trie mapping spellings to small integer values; children of a node are kept in a
/// short list (special tokens share long prefixes such as "<|", so nodes fan out little).
struct ByteTrie: Sendable {
    private struct Node: Sendable {
        var children: [(byte: UInt8, node: Int32)] = []
        var value: Int32 = -1
    }

    private var nodes: [Node] = [Node()]
    /// Root children by first byte (the only level every text position visits).
    private var rootChildren = [Int32](repeating: -1, count: 256)

    /// Adds a spelling.
    mutating func insert(_ bytes: [UInt8], value: Int32) {
        guard let first = bytes.first else { return }
        var node: Int
        if rootChildren[Int(first)] >= 0 {
            node = Int(rootChildren[Int(first)])
        } else {
            nodes.append(Node())
            node = nodes.count - 1
            rootChildren[Int(first)] = Int32(node)
        }
        for byte in bytes.dropFirst() {
            if let child = nodes[node].children.first(where: { $0.byte == byte }) {
                node = Int(child.node)
            } else {
                nodes.append(Node())
                let child = nodes.count - 1
                nodes[node].children.append((byte, Int32(child)))
                node = child
            }
        }
        nodes[node].value = value
    }

    /// Calls `body` with the value of every spelling that starts at `start`.
    @inline(__always)
    func forEachMatch(in bytes: UnsafeBufferPointer<UInt8>, from start: Int, _ body: (Int32) -> Void) {
        var node = Int(rootChildren[Int(bytes[start])])
        var position = start + 1
        while node >= 0 {
            let current = nodes[node]
            if current.value >= 0 { body(current.value) }
            guard position < bytes.count,
                  let child = current.children.first(where: { $0.byte == bytes[position] }) else { return }
            node = Int(child.node)
            position += 1
        }
    }
}
