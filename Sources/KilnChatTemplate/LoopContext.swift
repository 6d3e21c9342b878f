/// The state behind a `for` body's `loop` variable.
final class LoopContext {
    /// The items being iterated (after the loop's `if` filter).
    let items: [Value]
    /// The position of the current item, from 0.
    var index0 = 0
    /// The last arguments `loop.changed(...)` saw, as Jinja's `_last_changed_value`.
    var lastChanged: [Value]?

    init(items: [Value]) { self.items = items }
}
