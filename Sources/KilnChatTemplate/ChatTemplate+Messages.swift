/// The `apply_chat_template`-style entry point: a conversation in, a prompt out.
extension ChatTemplate {
    /// Renders a conversation as `apply_chat_template` does: `messages`,
    /// `add_generation_prompt`, and `bos_token` / `eos_token` when given; `extra` adds or
    /// overrides variables (`tools`, `date_string`, `enable_thinking`...).
    public func render(
        messages: [ChatMessage], addGenerationPrompt: Bool, bosToken: String?, eosToken: String?,
        extra: [String: TemplateValue] = [:]
    ) throws -> String {
        var context: [String: TemplateValue] = [
            "messages": .array(messages.map(\.templateValue)),
            "add_generation_prompt": .bool(addGenerationPrompt),
        ]
        if let bosToken { context["bos_token"] = .string(bosToken) }
        if let eosToken { context["eos_token"] = .string(eosToken) }
        context.merge(extra) { _, new in new }
        return try render(context)
    }
}
