import Foundation

/// Python's operator semantics for template values: integer arithmetic stays integral (and
/// fails on overflow rather than wrapping), `/` always gives a float, `//` and `%` floor toward
/// negative infinity, `+` joins strings and lists, `*` repeats them.
enum Arithmetic {
    static func unary(_ op: UnaryOperator, _ operand: Value) throws -> Value {
        let value = try operand.requireDefined()
        guard let number = value.number else {
            throw ChatTemplateError(.type, "bad operand type for unary \(op == .negate ? "-" : "+"): '\(value.typeName)'")
        }
        switch (op, number) {
        case (.plus, .int(let x)): return .int(x)
        case (.plus, .double(let x)): return .double(x)
        case (.negate, .int(let x)):
            guard x != Int.min else { throw overflow() }
            return .int(-x)
        case (.negate, .double(let x)): return .double(-x)
        }
    }

    static func overflow() -> ChatTemplateError { ChatTemplateError(.type, "integer overflow") }

    /// Repetition or padding beyond this many bytes or items is refused rather than exhausting memory.
    static let maximumRepeat = 1 << 26

    static func checkRepeat(_ count: Int, size: Int) throws {
        let (total, overflow) = max(0, count).multipliedReportingOverflow(by: max(1, size))
        guard !overflow, total <= maximumRepeat else { throw ChatTemplateError(.type, "repetition result too large") }
    }

    static func binary(_ op: BinaryOperator, _ leftOperand: Value, _ rightOperand: Value) throws -> Value {
        let left = try leftOperand.requireDefined()
        let right = try rightOperand.requireDefined()
        switch (op, left, right) {
        case (.add, .string(let a), .string(let b)): return .string(a + b)
        case (.add, .array(let a), .array(let b)): return .array(a + b)
        case (.add, .tuple(let a), .tuple(let b)): return .tuple(a + b)
        case (.modulo, .string(let text), _):
            return .string(try PercentFormat.format(text, right))
        case (.multiply, .string(let text), _), (.multiply, _, .string(let text)):
            guard let count = (left.number == nil ? right : left).integerForRepeat else { break }
            try checkRepeat(count, size: text.utf8.count)
            return .string(String(repeating: text, count: max(0, count)))
        case (.multiply, .array(let items), _), (.multiply, _, .array(let items)):
            guard let count = (left.number == nil ? right : left).integerForRepeat else { break }
            try checkRepeat(count, size: items.count)
            return .array(Array(repeatElement(items, count: max(0, count)).joined()))
        default:
            break
        }
        guard let a = left.number, let b = right.number else {
            switch (op, left) {
            case (.add, .string), (.add, .array), (.add, .tuple):
                throw ChatTemplateError(.type, "can only concatenate \(left.typeName) (not \"\(right.typeName)\") to \(left.typeName)")
            default:
                break
            }
            throw ChatTemplateError(.type, "unsupported operand type(s) for \(op.rawValue): '\(left.typeName)' and '\(right.typeName)'")
        }
        if case .int(let x) = a, case .int(let y) = b { return try integer(op, x, y) }
        return try floating(op, a.double, b.double)
    }

    private static func integer(_ op: BinaryOperator, _ x: Int, _ y: Int) throws -> Value {
        func checked(_ result: (partialValue: Int, overflow: Bool)) throws -> Value {
            guard !result.overflow else { throw overflow() }
            return .int(result.partialValue)
        }
        switch op {
        case .add: return try checked(x.addingReportingOverflow(y))
        case .subtract: return try checked(x.subtractingReportingOverflow(y))
        case .multiply: return try checked(x.multipliedReportingOverflow(by: y))
        case .divide:
            guard y != 0 else { throw ChatTemplateError(.type, "division by zero") }
            return .double(Double(x) / Double(y))
        case .floorDivide:
            guard y != 0 else { throw ChatTemplateError(.type, "integer division or modulo by zero") }
            guard !(x == Int.min && y == -1) else { throw overflow() }
            let quotient = x / y
            return .int((x % y != 0) && ((x < 0) != (y < 0)) ? quotient - 1 : quotient)
        case .modulo:
            guard y != 0 else { throw ChatTemplateError(.type, "integer division or modulo by zero") }
            guard y != -1 else { return .int(0) }
            let remainder = x % y
            return .int(remainder != 0 && ((remainder < 0) != (y < 0)) ? remainder + y : remainder)
        case .power:
            if y < 0 { return .double(pow(Double(x), Double(y))) }
            var result = 1
            var base = x
            var exponent = y
            while exponent > 0 {
                if exponent & 1 == 1 {
                    let product = result.multipliedReportingOverflow(by: base)
                    guard !product.overflow else { throw overflow() }
                    result = product.partialValue
                }
                exponent >>= 1
                if exponent > 0 {
                    let square = base.multipliedReportingOverflow(by: base)
                    guard !square.overflow else { throw overflow() }
                    base = square.partialValue
                }
            }
            return .int(result)
        }
    }

    private static func floating(_ op: BinaryOperator, _ x: Double, _ y: Double) throws -> Value {
        switch op {
        case .add: return .double(x + y)
        case .subtract: return .double(x - y)
        case .multiply: return .double(x * y)
        case .divide:
            guard y != 0 else { throw ChatTemplateError(.type, "float division by zero") }
            return .double(x / y)
        case .floorDivide:
            guard y != 0 else { throw ChatTemplateError(.type, "float floor division by zero") }
            return .double((x / y).rounded(.down))
        case .modulo:
            guard y != 0 else { throw ChatTemplateError(.type, "float modulo") }
            let remainder = fmod(x, y)
            return .double(remainder != 0 && ((remainder < 0) != (y < 0)) ? remainder + y : remainder)
        case .power:
            return .double(pow(x, y))
        }
    }

    /// One link of a comparison chain.
    static func compare(_ op: CompareOperator, _ left: Value, _ right: Value) throws -> Bool {
        switch op {
        case .equal: return left.isEqual(to: right)
        case .notEqual: return !left.isEqual(to: right)
        case .less: return try left.compare(to: right, operator: "<") < 0
        case .lessOrEqual: return try left.compare(to: right, operator: "<=") <= 0
        case .greater: return try left.compare(to: right, operator: ">") > 0
        case .greaterOrEqual: return try left.compare(to: right, operator: ">=") >= 0
        case .contains: return try right.contains(left)
        case .notContains: return !(try right.contains(left))
        }
    }
}

extension Value {
    /// The repeat count for `str * n` / `list * n` (an int or bool; floats are a TypeError).
    fileprivate var integerForRepeat: Int? {
        switch self {
        case .int(let count): return count
        case .bool(let flag): return flag ? 1 : 0
        default: return nil
        }
    }
}
