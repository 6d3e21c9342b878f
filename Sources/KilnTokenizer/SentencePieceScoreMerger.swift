/// SentencePiece's score-driven BPE, as llama.cpp's `llm_tokenizer_spm` runs it (Llama 2,
/// Mistral, Gemma 1/2/3 GGUFs): start from UTF-8 characters, repeatedly merge the adjacent pair
/// whose concatenation is a vocabulary piece with the highest score (leftmost on ties), and fall
/// back to `<0xXX>` byte tokens for characters that never became a piece.
///
/// The whole fragment is one sequence, with no word split: pieces may span "▁" (Gemma has
/// "▁▁▁" and friends). One merger serves one `encode` call; its buffers are reused across the
/// call's fragments.
struct SentencePieceScoreMerger {
    /// A run of the text: a character at first, then the merged pieces. Merged-away symbols keep
    /// `length == 0`.
    private struct Symbol {
        /// Byte offset in the text.
        var start: Int32
        /// Byte length; 0 once merged into its left neighbour.
        var length: Int32
        /// Previous live symbol, -1 at the start.
        var prev: Int32
        /// Next live symbol, -1 at the end.
        var next: Int32
        /// Vocabulary id once known (always for merged symbols), -1 otherwise.
        var id: Int32
    }

    /// A candidate merge of two adjacent symbols into the piece `id`.
    private struct Bigram: SentencePieceHeapElement {
        var score: Float
        var left: Int32
        var right: Int32
        /// Byte length of the merged piece: a stale candidate (one side has grown or been
        /// merged away) no longer adds up to it.
        var size: Int32
        var id: Int32

        /// Highest score first, then the leftmost pair (llama.cpp's `llm_bigram_spm::comparator`).
        func comesBefore(_ other: Bigram) -> Bool {
            score > other.score || (score == other.score && left < other.left)
        }
    }

    private var symbols: [Symbol] = []
    private var queue = SentencePieceHeap<Bigram>()

    /// Appends the ids for `text` (already "▁"-escaped) to `output`.
    /// - pieces: every vocabulary piece by its bytes.
    /// - scores: `[vocabulary]` merge priority of each piece.
    /// - byteTokens: `[256]` the `<0xXX>` id of each byte, -1 where the vocabulary lacks it.
    /// - unknown: emitted for a byte without a byte token (llama.cpp would abort there).
    mutating func encode(_ text: UnsafeBufferPointer<UInt8>, pieces: SentencePiecePieceTable,
                         scores: [Float], byteTokens: [Int32], unknown: Int32,
                         into output: inout [Int]) {
        guard let base = text.baseAddress, !text.isEmpty else { return }
        // Work on locals (moved out of `self`, storage kept) so the closures below do not
        // overlap accesses to `self`.
        var symbols: [Symbol] = []
        var queue = SentencePieceHeap<Bigram>()
        swap(&symbols, &self.symbols)
        swap(&queue, &self.queue)
        defer {
            swap(&symbols, &self.symbols)
            swap(&queue, &self.queue)
        }
        symbols.removeAll(keepingCapacity: true)
        queue.removeAll()

        // One symbol per UTF-8 character.
        var offset = 0
        while offset < text.count {
            let length = min(utf8SequenceLength(text[offset]), text.count - offset)
            let index = Int32(symbols.count)
            symbols.append(Symbol(start: Int32(offset), length: Int32(length), prev: index - 1,
                                  next: offset + length == text.count ? -1 : index + 1, id: -1))
            offset += length
        }

        symbols.withUnsafeMutableBufferPointer { symbols in
            scores.withUnsafeBufferPointer { scores in
                // Pushes the merge of `left` and `right` when their concatenation is a piece.
                func tryAddBigram(_ left: Int32, _ right: Int32) {
                    guard left >= 0, right >= 0 else { return }
                    let start = Int(symbols[Int(left)].start)
                    let size = Int(symbols[Int(left)].length) + Int(symbols[Int(right)].length)
                    let id = pieces.lookup(base + start, size)
                    guard id >= 0 else { return }
                    let score = Int(id) < scores.count ? scores[Int(id)] : 0
                    queue.push(Bigram(score: score, left: left, right: right, size: Int32(size), id: id))
                }

                for right in 1..<Int32(symbols.count) { tryAddBigram(right - 1, right) }

                while !queue.isEmpty {
                    let bigram = queue.pop()
                    let left = Int(bigram.left)
                    let right = Int(bigram.right)
                    let leftLength = symbols[left].length
                    let rightLength = symbols[right].length
                    if leftLength == 0 || rightLength == 0 || leftLength + rightLength != bigram.size {
                        continue
                    }
                    symbols[left].length = bigram.size
                    symbols[left].id = bigram.id
                    symbols[right].length = 0
                    let next = symbols[right].next
                    symbols[left].next = next
                    if next >= 0 { symbols[Int(next)].prev = bigram.left }
                    tryAddBigram(symbols[left].prev, bigram.left)
                    tryAddBigram(bigram.left, next)
                }

                // Resegment: merged symbols are pieces by construction; a lone character may be
                // one too, else it becomes its bytes. (llama.cpp's `rev_merge` path can never
                // apply: only merged symbols are longer than one character.)
                var index: Int32 = 0
                while index >= 0 {
                    let symbol = symbols[Int(index)]
                    var id = symbol.id
                    if id < 0 { id = pieces.lookup(base + Int(symbol.start), Int(symbol.length)) }
                    if id >= 0 {
                        output.append(Int(id))
                    } else {
                        for byteOffset in Int(symbol.start)..<Int(symbol.start + symbol.length) {
                            let byteID = byteTokens[Int(base[byteOffset])]
                            if byteID >= 0 {
                                output.append(Int(byteID))
                            } else if unknown >= 0 {
                                output.append(Int(unknown))
                            }
                        }
                    }
                    index = symbol.next
                }
            }
        }
    }
}

/// Bytes in the UTF-8 sequence that `leadByte` starts, by its high nibble (llama.cpp's
/// `unicode_len_utf8`): a stray continuation byte counts as one.
@inline(__always)
func utf8SequenceLength(_ leadByte: UInt8) -> Int {
    switch leadByte >> 4 {
    case 0xC, 0xD: return 2
    case 0xE: return 3
    case 0xF: return 4
    default: return 1
    }
}
