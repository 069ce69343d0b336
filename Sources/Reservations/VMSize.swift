/// A size of the pool's catalog: what a VM of that size has.
public struct VMSize: Sendable, Equatable {
    public var name: String
    public var cpu: Int
    public var memoryMB: Int

    public init(name: String, cpu: Int, memoryMB: Int) {
        self.name = name
        self.cpu = cpu
        self.memoryMB = memoryMB
    }

    /// small (1 CPU, 2 GiB), medium (2, 4 GiB), large (4, 8 GiB); the first is the default size.
    public static let defaultCatalog = [
        VMSize(name: "small", cpu: 1, memoryMB: 2048), VMSize(name: "medium", cpu: 2, memoryMB: 4096),
        VMSize(name: "large", cpu: 4, memoryMB: 8192),
    ]

    /// A catalog as the scripts keep it, and as `--sizes` takes it: `small=1:2048,medium=2:4096`.
    public static func catalogText(_ sizes: [VMSize]) -> String {
        sizes.map { "\($0.name)=\($0.cpu):\($0.memoryMB)" }.joined(separator: ",")
    }

    /// Reads `catalogText`; nil unless every entry is `name=cpu:memory_mb` with a name of 1 to 32
    /// letters, digits, `-` or `_`, whole numbers above 0, and no name twice.
    public static func parseCatalog(_ text: String) -> [VMSize]? {
        var sizes: [VMSize] = []
        for entry in text.split(separator: ",", omittingEmptySubsequences: false) {
            let parts = entry.split(separator: "=", omittingEmptySubsequences: false)
            guard parts.count == 2, isValidName(String(parts[0])) else { return nil }
            let numbers = parts[1].split(separator: ":", omittingEmptySubsequences: false).compactMap { Int($0) }
            guard numbers.count == 2, numbers.allSatisfy({ (1...1_000_000).contains($0) }),
                  !sizes.contains(where: { $0.name == parts[0] })
            else { return nil }
            sizes.append(VMSize(name: String(parts[0]), cpu: numbers[0], memoryMB: numbers[1]))
        }
        return sizes.isEmpty ? nil : sizes
    }

    /// 1 to 32 letters, digits, `-` or `_`.
    public static func isValidName(_ name: String) -> Bool {
        (1...32).contains(name.utf8.count) && name.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_") }
    }
}

/// A change to a user's quotas per size.
public enum SizeQuotasChange: Sendable, Equatable {
    /// These quotas per size, replacing the ones before.
    case set([String: Int])
    /// No quota per size: the total quota alone.
    case remove
}
