import Foundation
import KilnBackend
import KilnCore

/// A recording being made: the memory its kernels use (kept alive with the graph) and the
/// context length its attention launches are split for.
final class StepRecorder {
    var retained: [DeviceBuffer] = []
    let contextBucket: Int
    init(contextBucket: Int) { self.contextBucket = contextBucket }
}

/// What a recorded step is valid for: one model, one decode batch size, one cache (its
/// addresses), contexts up to a bucket.
struct RecordedStepKey: Hashable {
    var owner: ObjectIdentifier
    var rows: Int
    var contextBucket: Int
    var cacheShape: KVCacheShape
    var cacheAddresses: [CUdeviceptr]
}

/// A decode step recorded as a CUDA graph, with the buffers its kernels read and write.
final class RecordedStep {
    let graph: CUDAGraph
    let step: CUDAStepBuffers
    let retained: [DeviceBuffer]
    let output: DeviceTensor

    init(graph: CUDAGraph, step: CUDAStepBuffers, retained: [DeviceBuffer], output: DeviceTensor) {
        self.graph = graph
        self.step = step
        self.retained = retained
        self.output = output
    }
}

/// Decode steps as CUDA graphs: a decode step launches a few hundred small kernels, whose host
/// launch cost (several microseconds each) exceeds their GPU time at batch 1. The first step of a
/// shape runs normally (compiling kernels, autotuning products, uploading tables), the second is
/// recorded, and every later one is one graph launch after one upload of the batch.
extension CUDABackend {
    /// Most recordings kept (each holds its activations); past it they are all dropped.
    static let maximumRecordedSteps = 64
    /// Largest decode batch recorded.
    static let maximumRecordedRows = 512

    public func runStep(_ batch: ForwardBatch, cache: CUDAKVCache, recording description: StepRecording,
                        _ body: () throws -> DeviceTensor) throws -> DeviceTensor {
        stepsRun += 1
        defer { tokenFeed = nil } // a feed is for this step only, even one that failed
        // KILN_TRACE: the chosen step runs alone on the stream with the trace buffers cleared,
        // and its records are written out after it (KernelTracer.swift).
        guard let tracer = kernels.tracer, let path = KernelTracer.outputPath, stepsRun == KernelTracer.tracedStep else {
            return try runStepNow(batch, cache: cache, recording: description, body)
        }
        try stream.synchronize()
        try tracer.reset()
        let output = try runStepNow(batch, cache: cache, recording: description, body)
        try stream.synchronize()
        let (records, dropped) = try tracer.collect()
        try KernelTracer.write(records, dropped: dropped, to: path)
        FileHandle.standardError.write(Data("KILN_TRACE: step \(stepsRun) (\(batch.tokens.count) rows): \(records.count) blocks -> \(path), \(path).launches.txt\n".utf8))
        return output
    }

    private func runStepNow(_ batch: ForwardBatch, cache: CUDAKVCache, recording description: StepRecording,
                            _ body: () throws -> DeviceTensor) throws -> DeviceTensor {
        guard let key = recordedStepKey(batch, cache: cache, description: description) else {
            try prepare(batch)
            return try body()
        }
        if let recorded = recordedSteps[key] {
            // No wait for the last replay: the upload is a copy queued behind it on the stream,
            // so a queued greedy step (CUDABackend+QueuedSteps.swift) goes on the stream while the
            // previous one runs. The copy is from pageable memory: the driver stages the bytes
            // before returning (it may also wait for the stream to do so, which costs the overlap,
            // not correctness; queued steps measured faster on the session-7 H100, so there it did not).
            try recorded.step.upload(batch, blockSize: cache.shape.blockSize, stream: stream)
            try applyTokenFeed(to: recorded.step)
            step = recorded.step
            try recorded.graph.launch(on: stream)
            return recorded.output
        }
        guard seenStepKeys.contains(key), !unrecordableStepKeys.contains(key) else {
            if seenStepKeys.count > 4 * Self.maximumRecordedSteps { seenStepKeys.removeAll() }
            seenStepKeys.insert(key)
            try prepare(batch)
            return try body()
        }
        do {
            return try record(batch, key: key, cache: cache, body)
        } catch {
            // A shape that cannot be recorded (out of memory while capturing, a driver that
            // refuses a captured launch) runs op by op from now on; this step runs again so.
            unrecordableStepKeys.insert(key)
            try? stream.synchronize()
            try prepare(batch)
            return try body()
        }
    }

    /// Drops the recordings of a model (its weights are going away: a later model at the same
    /// address must not replay them). `DecoderModel` calls it from its deinit.
    public func releaseRecordings(owner: ObjectIdentifier) {
        recordedSteps = recordedSteps.filter { $0.key.owner != owner }
        seenStepKeys = seenStepKeys.filter { $0.owner != owner }
        unrecordableStepKeys = unrecordableStepKeys.filter { $0.owner != owner }
    }

    /// Whether a batch can be replayed from a recording: a decode batch (one token per sequence,
    /// sequence i on row i) of at most `maximumRecordedRows` rows wanting every row's logits.
    static func isRecordable(_ batch: ForwardBatch) -> Bool {
        isDecode(batch) && batch.tokens.count <= maximumRecordedRows && batch.logitRows.elementsEqual(0..<batch.tokens.count)
    }

    /// The context bucket a batch's recording is made for: the next power of two of its longest
    /// context, at least 256 (attention is split for the bucket; shorter rows use fewer partitions).
    static func contextBucket(_ batch: ForwardBatch) -> Int {
        let longest = batch.sequences.map(\.contextLength).max() ?? 1
        var bucket = 256
        while bucket < longest { bucket *= 2 }
        return bucket
    }

    /// How many decode steps are recorded now (for checks).
    public var recordedStepCount: Int { recordedSteps.count }

    /// nil when the batch is not a decode batch that can be recorded.
    func recordedStepKey(_ batch: ForwardBatch, cache: CUDAKVCache, description: StepRecording) -> RecordedStepKey? {
        guard usesGraphs, Self.isRecordable(batch) else { return nil }
        let bucket = Self.contextBucket(batch)
        return RecordedStepKey(owner: description.owner, rows: batch.tokens.count, contextBucket: bucket, cacheShape: cache.shape,
                               cacheAddresses: cache.addresses)
    }

    private func record(_ batch: ForwardBatch, key: RecordedStepKey, cache: CUDAKVCache, _ body: () throws -> DeviceTensor) throws -> DeviceTensor {
        try stream.synchronize()
        if recordedSteps.count >= Self.maximumRecordedSteps { recordedSteps.removeAll() }
        let rows = batch.tokens.count
        let buffers = try CUDAStepBuffers(rowCapacity: rows, sequenceCapacity: rows,
                                          blockTableStride: (key.contextBucket + cache.shape.blockSize - 1) / cache.shape.blockSize,
                                          allocator: runtime.allocator)
        try buffers.upload(batch, blockSize: cache.shape.blockSize, stream: stream)
        try applyTokenFeed(to: buffers)
        step = buffers
        let recorder = StepRecorder(contextBucket: key.contextBucket)
        recording = recorder
        defer { recording = nil }
        try stream.beginCapture()
        let output: DeviceTensor
        do {
            output = try body()
        } catch {
            _ = try? stream.endCapture()
            throw error
        }
        let graph = try stream.endCapture()
        recordedSteps[key] = RecordedStep(graph: graph, step: buffers, retained: recorder.retained, output: output)
        try graph.launch(on: stream)
        return output
    }
}
