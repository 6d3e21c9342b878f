import Testing
@testable import KilnCUDA

/// Kernel parameters as 8-byte slots: one launch pointer a parameter, a by-value parameter of
/// several words (a 128-byte tensor map) taking consecutive slots under one pointer.
@Suite struct KernelArgumentsTests {
    @Test func wideParametersSpanSlotsUnderOnePointer() {
        var arguments = KernelArguments()
        arguments.int32(-1)
        arguments.words((0..<16).map { UInt64($0) })
        arguments.float(1.5)
        #expect(arguments.starts == [0, 1, 17])
        #expect(arguments.slots.count == 18)
        #expect(arguments.slots[0] == UInt64(UInt32.max))
        #expect(Array(arguments.slots[1...16]) == (0..<16).map { UInt64($0) })
        #expect(arguments.slots[17] == UInt64(Float(1.5).bitPattern))
    }
}
