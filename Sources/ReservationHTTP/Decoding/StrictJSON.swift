/// A strict RFC 8259 syntax check run on every request body before it is decoded: Foundation's
/// decoder accepts a trailing comma and silently keeps one of two members of the same name, and
/// neither may change what a request means. Checks the grammar exactly (no comments, no single
/// quotes, no NaN, nothing after the value), that text is UTF-8, that no object names a member
/// twice (compared after unescaping, so `"ip"` and `"\u0069p"` are the same name), that
/// values nest at most `maxDepth` deep, and, past the grammar, that every `\u` escape is a whole
/// character and every number fits a Double (what no decoder could read is refused here, clearly).
/// A body that is an object of strings, whole numbers and nulls comes out read as well (`Flat`),
/// so that the usual request bodies need no second parse.
struct StrictJSON {
    /// A member of a flat object: what the usual bodies hold.
    enum FlatValue: Equatable {
        case string(String)
        /// A number written as a whole number (digits, maybe a minus) that fits an Int.
        case integer(Int)
        case null
    }

    /// An object's members, when every one is a `FlatValue`.
    typealias Flat = [String: FlatValue]

    static let maxDepth = 64

    /// Why a body is not acceptable JSON, in words fit for the envelope's message.
    struct Violation: Error, Equatable {
        let message: String
        static let syntax = Violation(message: "The body is not valid JSON")
    }

    private let bytes: [UInt8]
    private var index = 0

    private init(_ bytes: [UInt8]) { self.bytes = bytes }

    /// Throws a `Violation` unless `bytes` is one strict JSON value, with optional whitespace
    /// around it; answers its members when it is a flat object (nil for any other value).
    @discardableResult
    static func validate(_ bytes: [UInt8]) throws(Violation) -> Flat? {
        guard String(validating: bytes, as: UTF8.self) != nil else { throw Violation(message: "The body is not UTF-8 text") }
        var parser = StrictJSON(bytes)
        parser.skipWhitespace()
        var flat: Flat?
        if parser.current == UInt8(ascii: "{") {
            flat = try parser.object(depth: 1)
        } else {
            _ = try parser.value(depth: 1)
        }
        parser.skipWhitespace()
        guard parser.index == bytes.count else { throw .syntax }
        return flat
    }

    private var current: UInt8? { index < bytes.count ? bytes[index] : nil }

    private mutating func skipWhitespace() {
        while let byte = current, byte == 0x20 || byte == 0x09 || byte == 0x0A || byte == 0x0D { index += 1 }
    }

    private mutating func expect(_ byte: UInt8) throws(Violation) {
        guard current == byte else { throw .syntax }
        index += 1
    }

    /// One value; what it is when it is a `FlatValue`, else nil.
    private mutating func value(depth: Int) throws(Violation) -> FlatValue? {
        guard depth <= Self.maxDepth else { throw Violation(message: "The body nests deeper than \(Self.maxDepth) levels") }
        switch current {
        case UInt8(ascii: "{"): _ = try object(depth: depth)
        case UInt8(ascii: "["): try array(depth: depth)
        case UInt8(ascii: "\""): return .string(try string())
        case UInt8(ascii: "t"): try literal("true")
        case UInt8(ascii: "f"): try literal("false")
        case UInt8(ascii: "n"):
            try literal("null")
            return .null
        default: return try number()
        }
        return nil
    }

    /// An object; its members when every one is a `FlatValue`, else nil.
    private mutating func object(depth: Int) throws(Violation) -> Flat? {
        index += 1
        skipWhitespace()
        if current == UInt8(ascii: "}") {
            index += 1
            return [:]
        }
        var names: Set<String> = []
        var members: Flat? = [:]
        while true {
            let name = try string()
            guard names.insert(name).inserted else {
                throw Violation(message: "The body names member '\(Self.printable(name))' more than once")
            }
            skipWhitespace()
            try expect(UInt8(ascii: ":"))
            skipWhitespace()
            if let member = try value(depth: depth + 1) {
                members?[name] = member
            } else {
                members = nil
            }
            skipWhitespace()
            switch current {
            case UInt8(ascii: ","):
                index += 1
                skipWhitespace()  // then a name must follow: a trailing comma fails in string()
            case UInt8(ascii: "}"):
                index += 1
                return members
            default:
                throw .syntax
            }
        }
    }

    private mutating func array(depth: Int) throws(Violation) {
        index += 1
        skipWhitespace()
        if current == UInt8(ascii: "]") {
            index += 1
            return
        }
        while true {
            _ = try value(depth: depth + 1)
            skipWhitespace()
            switch current {
            case UInt8(ascii: ","):
                index += 1
                skipWhitespace()
            case UInt8(ascii: "]"):
                index += 1
                return
            default:
                throw .syntax
            }
        }
    }

    /// A string, unescaped (names are compared by what they say, not how they are written).
    private mutating func string() throws(Violation) -> String {
        try expect(UInt8(ascii: "\""))
        var scalars = String.UnicodeScalarView()
        var runStart = index
        func flush(_ end: Int) {
            scalars.append(contentsOf: String(decoding: bytes[runStart..<end], as: UTF8.self).unicodeScalars)
        }
        while true {
            guard let byte = current else { throw .syntax }
            switch byte {
            case UInt8(ascii: "\""):
                flush(index)
                index += 1
                return String(scalars)
            case UInt8(ascii: "\\"):
                flush(index)
                index += 1
                try escape(into: &scalars)
                runStart = index
            case 0x00..<0x20:
                throw .syntax  // control characters must be escaped
            default:
                index += 1
            }
        }
    }

    private mutating func escape(into scalars: inout String.UnicodeScalarView) throws(Violation) {
        guard let byte = current else { throw .syntax }
        index += 1
        switch byte {
        case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): scalars.append(Unicode.Scalar(byte))
        case UInt8(ascii: "b"): scalars.append("\u{08}")
        case UInt8(ascii: "f"): scalars.append("\u{0C}")
        case UInt8(ascii: "n"): scalars.append("\n")
        case UInt8(ascii: "r"): scalars.append("\r")
        case UInt8(ascii: "t"): scalars.append("\t")
        case UInt8(ascii: "u"):
            let unit = try hexUnit()
            if UTF16.isLeadSurrogate(unit), current == UInt8(ascii: "\\"), index + 1 < bytes.count, bytes[index + 1] == UInt8(ascii: "u") {
                let saved = index
                index += 2
                let trail = try hexUnit()
                if UTF16.isTrailSurrogate(trail) {
                    let value = 0x10000 + ((UInt32(unit) - 0xD800) << 10) + (UInt32(trail) - 0xDC00)
                    scalars.append(Unicode.Scalar(value)!)
                    return
                }
                index = saved
            }
            // The grammar allows half a character; no decoder can read it as text.
            guard let scalar = Unicode.Scalar(UInt32(unit)) else {
                throw Violation(message: "The body escapes half of a character (an unpaired UTF-16 surrogate)")
            }
            scalars.append(scalar)
        default:
            throw .syntax
        }
    }

    private mutating func hexUnit() throws(Violation) -> UInt16 {
        guard index + 4 <= bytes.count else { throw .syntax }
        var unit: UInt16 = 0
        for byte in bytes[index..<index + 4] {
            let digit: UInt8
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = byte - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = byte - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = byte - UInt8(ascii: "A") + 10
            default: throw .syntax
            }
            unit = unit << 4 | UInt16(digit)
        }
        index += 4
        return unit
    }

    /// `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`, within the range of a Double.
    /// A number; an `.integer` when it is written as a whole number that fits an Int.
    private mutating func number() throws(Violation) -> FlatValue? {
        let start = index
        if current == UInt8(ascii: "-") { index += 1 }
        if current == UInt8(ascii: "0") {
            index += 1
        } else {
            try digits()
        }
        var whole = true
        if current == UInt8(ascii: ".") {
            index += 1
            try digits()
            whole = false
        }
        if current == UInt8(ascii: "e") || current == UInt8(ascii: "E") {
            index += 1
            if current == UInt8(ascii: "+") || current == UInt8(ascii: "-") { index += 1 }
            try digits()
            whole = false
        }
        let text = String(decoding: bytes[start..<index], as: UTF8.self)
        guard Double(text)?.isFinite == true else {
            throw Violation(message: "The body holds a number too large to read")
        }
        return whole ? Int(text).map(FlatValue.integer) : nil
    }

    private mutating func digits() throws(Violation) {
        let start = index
        while let byte = current, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) { index += 1 }
        guard index > start else { throw .syntax }
    }

    private mutating func literal(_ word: String) throws(Violation) {
        let expected = word.utf8
        guard index + expected.count <= bytes.count, bytes[index..<index + expected.count].elementsEqual(expected) else {
            throw .syntax
        }
        index += expected.count
    }

    /// A member name as the error message shows it: at most 40 characters, no control characters.
    private static func printable(_ name: String) -> String {
        String(String.UnicodeScalarView(name.unicodeScalars.prefix(40).map { $0.value < 0x20 || $0.value == 0x7F ? "?" : $0 }))
    }
}
