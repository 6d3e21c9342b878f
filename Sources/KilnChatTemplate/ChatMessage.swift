/// One turn of a conversation, in the OpenAI / Hugging Face message shape templates expect.
public struct ChatMessage: Sendable, Equatable {
    /// `system`, `user`, `assistant`, `tool`...
    public var role: String
    /// The text, or a list of parts such as `[{"type": "text", "text": ...}, {"type": "image"}]`.
    public var content: TemplateValue
    /// The assistant's tool calls (`[{"type": "function", "function": {"name", "arguments"}}]`).
    public var toolCalls: [TemplateValue]?
    /// The tool's name on a `tool` message.
    public var name: String?

    /// A message whose content is plain text.
    public init(role: String, content: String, toolCalls: [TemplateValue]? = nil, name: String? = nil) {
        self.init(role: role, content: .string(content), toolCalls: toolCalls, name: name)
    }

    /// A message whose content is any template value (for example multimodal parts).
    public init(role: String, content: TemplateValue, toolCalls: [TemplateValue]? = nil, name: String? = nil) {
        self.role = role
        self.content = content
        self.toolCalls = toolCalls
        self.name = name
    }

    /// The dict a template sees: `role`, `content`, then `tool_calls` and `name` when present.
    public var templateValue: TemplateValue {
        var map: OrderedMap<TemplateValue> = ["role": .string(role), "content": content]
        if let toolCalls { map["tool_calls"] = .array(toolCalls) }
        if let name { map["name"] = .string(name) }
        return .object(map)
    }
}
