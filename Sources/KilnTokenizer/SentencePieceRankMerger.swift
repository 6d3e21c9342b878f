/// BPE by merge rank over "▁"-escaped UTF-8 with `<0xXX>` byte fallback: what llama.cpp's
/// `llm_tokenizer_bpe_session` does for Gemma 4 (`tokenizer.ggml.model` "gemma4", pre-type
/// GEMMA4, `byte_encode = false`) and what Hugging Face's BPE model with `byte_fallback` does
/// for SentencePiece-derived `tokenizer.json` files (Llama 2, Mistral).
///
/// Start from UTF-8 characters, repeatedly apply the listed merge of lowest rank among adjacent
/// pairs (leftmost on ties), then emit each symbol's id, or its bytes' `<0xXX>` ids when the
/// symbol is not a token. One merger serves one `encode` call; buffers are reused.
struct SentencePieceRankMerger {
    /// A run of the word: a character at first, then merged pieces.
    private struct Symbol {
        /// Byte offset in the word.
        var start: Int32
        /// Byte length; 0 once merged into its left neighbour.
        var length: Int32
        var prev: Int32
        var next: Int32
        /// Id in the piece table (vocabulary or merge-only piece), -1 for a character that
        /// neither the vocabulary nor any merge names.
        var id: Int32
    }

    /// A candidate merge; stale once either side's piece has changed.
    private struct Bigram: SentencePieceHeapElement {
        var rank: Int32
        var left: Int32
        var right: Int32
        var leftID: Int32
        var rightID: Int32
        var merged: Int32

        /// Lowest rank first, then the leftmost pair (llama.cpp's `llm_bigram_bpe::comparator`).
        func comesBefore(_ other: Bigram) -> Bool {
            rank < other.rank || (rank == other.rank && left < other.left)
        }
    }

    private var symbols: [Symbol] = []
    private var queue = SentencePieceHeap<Bigram>()

    /// Appends the ids for one pre-split word (already "▁"-escaped) to `output`.
    /// - pieces: vocabulary pieces (ids below `vocabularySize`) then merge-only pieces.
    /// - byteTokens: `[256]` the `<0xXX>` id of each byte, -1 where absent (the byte is then
    ///   dropped, as llama.cpp does).
    /// - wholeWord: start from the whole word as one symbol (Gemma 4's newline runs that are
    ///   tokens themselves, llama.cpp PR 21343).
    mutating func encode(word: UnsafeBufferPointer<UInt8>, pieces: SentencePiecePieceTable,
                         merges: SentencePieceMergeTable, vocabularySize: Int,
                         byteTokens: [Int32], wholeWord: Bool, into output: inout [Int]) {
        guard let base = word.baseAddress, !word.isEmpty else { return }
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

        if wholeWord {
            symbols.append(Symbol(start: 0, length: Int32(word.count), prev: -1, next: -1,
                                  id: pieces.lookup(base, word.count)))
        } else {
            var offset = 0
            while offset < word.count {
                let length = min(utf8SequenceLength(word[offset]), word.count - offset)
                let index = Int32(symbols.count)
                symbols.append(Symbol(start: Int32(offset), length: Int32(length), prev: index - 1,
                                      next: offset + length == word.count ? -1 : index + 1,
                                      id: pieces.lookup(base + offset, length)))
                offset += length
            }
        }

        symbols.withUnsafeMutableBufferPointer { symbols in
            func tryAddBigram(_ left: Int32, _ right: Int32) {
                guard left >= 0, right >= 0 else { return }
                let leftID = symbols[Int(left)].id
                let rightID = symbols[Int(right)].id
                guard leftID >= 0, rightID >= 0,
                      let merge = merges.find(left: leftID, right: rightID) else { return }
                queue.push(Bigram(rank: merge.rank, left: left, right: right,
                                  leftID: leftID, rightID: rightID, merged: merge.merged))
            }

            for right in stride(from: Int32(1), to: Int32(symbols.count), by: 1) {
                tryAddBigram(right - 1, right)
            }

            while !queue.isEmpty {
                let bigram = queue.pop()
                let left = Int(bigram.left)
                let right = Int(bigram.right)
                // Pieces are unique per id, so equal ids mean llama.cpp's equal texts.
                guard symbols[left].length > 0, symbols[right].length > 0,
                      symbols[left].id == bigram.leftID, symbols[right].id == bigram.rightID else { continue }
                symbols[left].length += symbols[right].length
                symbols[left].id = bigram.merged
                symbols[right].length = 0
                let next = symbols[right].next
                symbols[left].next = next
                if next >= 0 { symbols[Int(next)].prev = bigram.left }
                tryAddBigram(symbols[left].prev, bigram.left)
                tryAddBigram(bigram.left, next)
            }

            var index: Int32 = 0
            while index >= 0 {
                let symbol = symbols[Int(index)]
                if symbol.id >= 0, Int(symbol.id) < vocabularySize {
                    output.append(Int(symbol.id))
                } else {
                    for byteOffset in Int(symbol.start)..<Int(symbol.start + symbol.length) {
                        let byteID = byteTokens[Int(base[byteOffset])]
                        if byteID >= 0 { output.append(Int(byteID)) }
                    }
                }
                index = symbol.next
            }
        }
    }
}
