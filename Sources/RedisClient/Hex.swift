/// Bytes as lowercase hexadecimal, two digits each (script SHA-1s, token digests).
public func lowercaseHex(_ bytes: some Sequence<UInt8>) -> String {
    Array(bytes).withUnsafeBytes(lowercaseHex)
}

/// Bytes as lowercase hexadecimal, written straight into the string's storage (every request's
/// token digest goes through here).
public func lowercaseHex(_ bytes: UnsafeRawBufferPointer) -> String {
    String(unsafeUninitializedCapacity: bytes.count * 2) { text in
        for (index, byte) in bytes.enumerated() {
            text[2 * index] = hexDigit(byte >> 4)
            text[2 * index + 1] = hexDigit(byte & 0x0F)
        }
        return bytes.count * 2
    }
}

/// The lowercase hex digit of a value 0...15.
@inline(__always)
func hexDigit(_ value: UInt8) -> UInt8 {
    value < 10 ? UInt8(ascii: "0") + value : UInt8(ascii: "a") + value - 10
}
