/// A `namespace()` object: attributes that `{% set ns.attr = value %}` may change from any scope.
final class Namespace {
    /// The attributes in assignment order.
    var attributes: OrderedMap<Value>

    init(_ attributes: OrderedMap<Value>) { self.attributes = attributes }
}
