extension Sampler.Truncation {
    /// Exact cuts inside a list of candidate ids, without sorting it: the list is split by logit
    /// into 64 equal ranges, the range holding the cut is found from counts or masses, the
    /// ranges before it are taken whole and the search goes on inside that one range. A list
    /// of 32 or fewer is sorted. Order is by logit, largest first, ties to the lower id, so
    /// the results are what a full sort would give.
    enum Selection {
        /// Ranges per level.
        static let ranges = 64
        /// Lists this short are sorted instead.
        static let sortBelow = 32

        /// The `count` highest-ranked ids of `ids` (any order in, any order out).
        static func highest(_ count: Int, of ids: [Int], logits: UnsafeBufferPointer<Float>) -> [Int] {
            guard count < ids.count else { return ids }
            guard count > 0 else { return [] }
            if ids.count <= sortBelow { return Array(sortedByLogit(ids, logits).prefix(count)) }
            guard let split = Split(ids, logits) else { return Array(sortedByLogit(ids, logits).prefix(count)) }
            var perRange = [Int](repeating: 0, count: ranges)
            for id in ids { perRange[split.range(of: logits[id])] += 1 }
            var before = 0
            var cut = 0
            while before + perRange[cut] < count { before += perRange[cut]; cut += 1 }
            var result: [Int] = [], inCut: [Int] = []
            for id in ids {
                let range = split.range(of: logits[id])
                if range < cut { result.append(id) } else if range == cut { inCut.append(id) }
            }
            result.append(contentsOf: highest(count - before, of: inCut, logits: logits))
            return result
        }

        /// The ids top-p keeps among `ids`, when `massBefore` of heavier tokens come first: those
        /// whose exclusive cumulative mass, in rank order, is below `target` (any order out).
        static func nucleus(of ids: [Int], logits: UnsafeBufferPointer<Float>, weight: (Int) -> Float,
                            massBefore: Double, target: Double) -> [Int] {
            guard massBefore < target, !ids.isEmpty else { return [] }
            let ordered: [Int]
            if ids.count <= sortBelow {
                ordered = sortedByLogit(ids, logits)
            } else if let split = Split(ids, logits) {
                var perRange = [Double](repeating: 0, count: ranges)
                for id in ids { perRange[split.range(of: logits[id])] += Double(weight(id)) }
                var before = massBefore
                var cut = 0
                while cut < ranges - 1 && before + perRange[cut] < target { before += perRange[cut]; cut += 1 }
                var result: [Int] = [], inCut: [Int] = []
                for id in ids {
                    let range = split.range(of: logits[id])
                    if range < cut { result.append(id) } else if range == cut { inCut.append(id) }
                }
                result.append(contentsOf: nucleus(of: inCut, logits: logits, weight: weight, massBefore: before, target: target))
                return result
            } else {
                ordered = sortedByLogit(ids, logits)  // nothing to split: ties, infinities
            }
            var result: [Int] = []
            var mass = massBefore
            for id in ordered {
                if mass >= target { break }
                result.append(id)
                mass += Double(weight(id))
            }
            return result
        }

        /// Sorts ids by logit, largest first, ties to the lower id; NaN counts as -infinity.
        static func sortedByLogit(_ ids: [Int], _ logits: UnsafeBufferPointer<Float>) -> [Int] {
            func key(_ id: Int) -> Float { logits[id] == logits[id] ? logits[id] : -.infinity }
            return ids.sorted { key($0) > key($1) || (key($0) == key($1) && $0 < $1) }
        }

        /// Equal logit ranges over a list: range 0 holds its largest logit, the last its
        /// smallest and NaNs. Monotone in the logit, and with at least two ranges used, so each
        /// level shrinks the list.
        struct Split {
            let highest: Float
            let scale: Float

            /// nil when the finite logits are all equal: nothing to split.
            init?(_ ids: [Int], _ logits: UnsafeBufferPointer<Float>) {
                var highest = -Float.infinity, lowest = Float.infinity
                for id in ids where logits[id].isFinite {
                    highest = max(highest, logits[id])
                    lowest = min(lowest, logits[id])
                }
                guard highest > lowest, (highest - lowest).isFinite else { return nil }
                self.highest = highest
                scale = Float(Selection.ranges) / (highest - lowest)
            }

            /// The range of a logit.
            func range(of logit: Float) -> Int {
                let position = (highest - logit) * scale
                return position < Float(Selection.ranges - 1) ? Int(position) : Selection.ranges - 1
            }
        }
    }
}
