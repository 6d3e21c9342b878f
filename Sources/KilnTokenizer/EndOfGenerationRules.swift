/// llama.cpp's rules for the tokens that end generation, which converters rarely record: known
/// spellings ("<|im_end|>", "<end_of_turn>", ...) plus the ids a file declares (eot, eom, FIM
/// pad/repo/file-separator). Each such token is made a control token, as llama.cpp does, so that
/// it is parsed as special and dropped when decoding with `skipSpecialTokens`.
enum EndOfGenerationRules {
    /// Spellings llama.cpp treats as end of generation (`special_eog_ids`).
    static let spellings: Set<String> = [
        "<|eot_id|>", "<|im_end|>", "<|end|>", "<|return|>", "<|call|>", "<|flush|>", "<|calls|>",
        "<end_of_turn>", "<|endoftext|>", "</s>", "<|eom_id|>", "<EOT>", "_<EOT>", "[EOT]", "[EOS]",
        "<|end_of_text|>", "<end_of_utterance>", "<eos>", "<turn|>", "<|tool_response>",
        "<｜end▁of▁sentence｜>", "[e~[",
    ]
    /// FIM pad / repository / file-separator spellings, also end of generation in llama.cpp.
    static let fillInTheMiddleSpellings: Set<String> = [
        "<|fim_pad|>", "<fim-pad>", "<fim_pad>", "<PAD>", "[PAD]",
        "<|fim_repo|>", "<|repo_name|>", "<fim-repo>", "<REPO>", "<reponame>",
        "<|file_sep|>",
    ]

    /// Fills `special.endOfGeneration` (sorted, without the EOS id, which `stopIDs` adds) and
    /// marks those tokens as control.
    static func apply(tokens: [String], kinds: inout [TokenKind], special: inout SpecialTokens, declared: [Int]) {
        var ids = Set(declared)
        for (id, token) in tokens.enumerated()
        where spellings.contains(token) || fillInTheMiddleSpellings.contains(token) {
            ids.insert(id)
        }
        // gpt-oss and Solar Open end a message with "<|end|>" but keep generating after it.
        let present = Set(ids.map { tokens[$0] })
        if present.contains("<|end|>"),
           (present.contains("<|return|>") && present.contains("<|call|>"))
            || (present.contains("<|calls|>") && present.contains("<|flush|>")),
           let end = tokens.firstIndex(of: "<|end|>") {
            ids.remove(end)
            kinds[end] = .userDefined
        }
        // Gemma 4 uses "</s>" as ordinary text.
        if present.contains("<|tool_response>"), let end = tokens.firstIndex(of: "</s>") {
            ids.remove(end)
            kinds[end] = .normal
        }
        for id in ids where kinds[id] != .control { kinds[id] = .control }
        if let eos = special.eos { ids.remove(eos) }
        special.endOfGeneration = ids.sorted()
    }
}
