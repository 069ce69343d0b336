import NIOCore

/// Writes JSON text straight into a `ByteBuffer`. The API answers a few small, fixed shapes, and
/// writing them directly costs a fraction of `JSONEncoder` on every request.
struct JSONWriter {
    private(set) var buffer: ByteBuffer
    /// One bit per open object or array, the innermost lowest: set until its first member is
    /// written (bits, not an array: no allocation per answer). The API's shapes nest 4 deep.
    private var awaitingFirst: UInt64 = 0
    private var depth = 0

    init(capacity: Int = 256) {
        buffer = ByteBufferAllocator().buffer(capacity: capacity)
    }

    /// `{…}`; `body` writes the members with `field`.
    mutating func object(_ body: (inout JSONWriter) -> Void) {
        open(UInt8(ascii: "{"))
        body(&self)
        close(UInt8(ascii: "}"))
    }

    /// `[…]` of `elements`.
    mutating func array<Element: JSONValue>(_ elements: some Sequence<Element>) {
        open(UInt8(ascii: "["))
        for element in elements {
            separate()
            element.write(to: &self)
        }
        close(UInt8(ascii: "]"))
    }

    /// `"name": value` inside an object, for the API's own field names: written as they are,
    /// never escaped (none holds a quote, a backslash or a control character).
    mutating func field(_ name: StaticString, _ value: some JSONValue) {
        let comma = separator()
        // `,"name":` in one write: the answers are mostly names and short values, and every
        // ByteBuffer write checks its storage's uniqueness and capacity
        buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: name.utf8CodeUnitCount + 4) { target in
            var at = 0
            if comma {
                target[0] = UInt8(ascii: ",")
                at = 1
            }
            target[at] = UInt8(ascii: "\"")
            UnsafeMutableRawBufferPointer(rebasing: target[(at + 1)...]).copyMemory(
                from: UnsafeRawBufferPointer(start: name.utf8Start, count: name.utf8CodeUnitCount))
            at += 1 + name.utf8CodeUnitCount
            target[at] = UInt8(ascii: "\"")
            target[at + 1] = UInt8(ascii: ":")
            return at + 2
        }
        value.write(to: &self)
    }

    /// `"name": value` inside an object, for a name that comes from data (a size, a status).
    mutating func field(named name: String, _ value: some JSONValue) {
        separate()
        string(name)
        buffer.writeInteger(UInt8(ascii: ":"))
        value.write(to: &self)
    }

    mutating func null() {
        buffer.writeStaticString("null")
    }

    mutating func string(_ text: String) {
        // the usual case, a native string with nothing to escape: quoted, in one write
        let written: Bool? = text.utf8.withContiguousStorageIfAvailable { utf8 in
            guard !utf8.contains(where: Self.escapable) else { return false }
            buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: utf8.count + 2) { target in
                target[0] = UInt8(ascii: "\"")
                UnsafeMutableRawBufferPointer(rebasing: target[1...]).copyMemory(from: UnsafeRawBufferPointer(utf8))
                target[utf8.count + 1] = UInt8(ascii: "\"")
                return utf8.count + 2
            }
            return true
        }
        guard written != true else { return }
        buffer.writeInteger(UInt8(ascii: "\""))
        if written == false || text.utf8.contains(where: Self.escapable) {
            writeEscaped(text)
        } else {
            buffer.writeString(text)
        }
        buffer.writeInteger(UInt8(ascii: "\""))
    }

    /// A control character, a quote or a backslash.
    private static func escapable(_ byte: UInt8) -> Bool {
        byte < 0x20 || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\")
    }

    private mutating func writeEscaped(_ text: String) {
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "\""): buffer.writeStaticString("\\\"")
            case UInt8(ascii: "\\"): buffer.writeStaticString("\\\\")
            case UInt8(ascii: "\n"): buffer.writeStaticString("\\n")
            case UInt8(ascii: "\r"): buffer.writeStaticString("\\r")
            case UInt8(ascii: "\t"): buffer.writeStaticString("\\t")
            case 0..<0x20:
                let hex = Array("0123456789abcdef".utf8)
                buffer.writeStaticString("\\u00")
                buffer.writeInteger(hex[Int(byte >> 4)])
                buffer.writeInteger(hex[Int(byte & 0x0F)])
            default: buffer.writeInteger(byte)
            }
        }
    }

    /// A string of `length` bytes that `body` writes in place, with nothing to escape.
    mutating func quoted(length: Int, _ body: (UnsafeMutableRawBufferPointer) -> Void) {
        buffer.writeInteger(UInt8(ascii: "\""))
        buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: length) { text in
            body(UnsafeMutableRawBufferPointer(rebasing: text[..<length]))
            return length
        }
        buffer.writeInteger(UInt8(ascii: "\""))
    }

    mutating func number(_ value: Int) {
        buffer.writeString(String(value))
    }

    mutating func bool(_ value: Bool) {
        buffer.writeStaticString(value ? "true" : "false")
    }

    private mutating func open(_ bracket: UInt8) {
        buffer.writeInteger(bracket)
        precondition(depth < UInt64.bitWidth, "JSON nested deeper than the writer keeps track of")
        awaitingFirst = awaitingFirst << 1 | 1
        depth += 1
    }

    private mutating func close(_ bracket: UInt8) {
        awaitingFirst >>= 1
        depth -= 1
        buffer.writeInteger(bracket)
    }

    private mutating func separate() {
        if separator() { buffer.writeInteger(UInt8(ascii: ",")) }
    }

    /// Whether the next member needs a comma before it (and from now on, the one after it).
    private mutating func separator() -> Bool {
        if awaitingFirst & 1 == 1 {
            awaitingFirst &= ~1
            return false
        }
        return true
    }
}

/// A value that can write itself as JSON.
protocol JSONValue {
    func write(to json: inout JSONWriter)
}

extension String: JSONValue {
    func write(to json: inout JSONWriter) { json.string(self) }
}

extension Int: JSONValue {
    func write(to json: inout JSONWriter) { json.number(self) }
}

extension Bool: JSONValue {
    func write(to json: inout JSONWriter) { json.bool(self) }
}

extension Optional: JSONValue where Wrapped: JSONValue {
    func write(to json: inout JSONWriter) {
        if let self { self.write(to: &json) } else { json.null() }
    }
}

extension Array: JSONValue where Element: JSONValue {
    func write(to json: inout JSONWriter) { json.array(self) }
}

/// An object given as ordered name/value pairs, for small ad-hoc answers.
struct JSONObject: JSONValue {
    let fields: KeyValuePairs<StaticString, any JSONValue>

    func write(to json: inout JSONWriter) {
        json.object { object in
            for (name, value) in fields { object.field(name, value) }
        }
    }
}
