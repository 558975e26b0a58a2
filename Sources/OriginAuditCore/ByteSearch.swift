import Foundation

/// Searching raw bytes, for the hot paths that must not bridge to Foundation.
public enum ByteSearch {
    /// Whether `needle` occurs in `bytes`.
    public static func contains(_ needle: StaticString, in bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        firstRange(of: UnsafeBufferPointer(start: needle.utf8Start, count: needle.utf8CodeUnitCount), in: bytes) != nil
    }

    /// Where `needle` first occurs in `bytes` (nil for an empty needle): from one occurrence of its
    /// first byte to the next (memchr, many times faster than a loop over the bytes), each
    /// compared in full with memcmp.
    public static func firstRange(of needle: UnsafeBufferPointer<UInt8>, in bytes: UnsafeBufferPointer<UInt8>) -> Range<Int>? {
        let length = needle.count
        guard let base = bytes.baseAddress, let wanted = needle.baseAddress, length > 0 else { return nil }
        var index = 0
        while index + length <= bytes.count {
            guard let found = memchr(base + index, Int32(wanted[0]), bytes.count - length + 1 - index) else { return nil }
            index = base.distance(to: found.assumingMemoryBound(to: UInt8.self))
            if memcmp(base + index, wanted, length) == 0 { return index..<(index + length) }
            index += 1
        }
        return nil
    }
}

/// Lower-casing texts that are nearly always lower-case ASCII already (host names).
public enum LowercaseASCII {
    /// ASCII with no capital letter: `lowercased()` would return it unchanged (checked on bytes,
    /// as most names are, instead of building the lowercased copy).
    public static func holds(_ text: String) -> Bool {
        UTF8Bytes.of(text, holds)
    }

    /// `holds` on bytes, eight at a time: a word with a top bit set is not ASCII; in one
    /// without, adding 0x3F to each byte sets the top bit of those from `A` up, adding 0x25 that
    /// of those from `[` up (no byte carries into the next), so capitals have only the first.
    private static func holds(_ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        let raw = UnsafeRawBufferPointer(bytes)
        let topBits: UInt64 = 0x8080_8080_8080_8080
        var index = 0
        while index + 8 <= bytes.count {
            let word = raw.loadUnaligned(fromByteOffset: index, as: UInt64.self)
            if word & topBits != 0 { return false }
            if (word &+ 0x3F3F_3F3F_3F3F_3F3F) & ~(word &+ 0x2525_2525_2525_2525) & topBits != 0 { return false }
            index += 8
        }
        while index < bytes.count {
            let byte = bytes[index]
            if byte >= 0x80 || (byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z")) { return false }
            index += 1
        }
        return true
    }

    /// `text.lowercased()`; a text that `holds` is returned as it is instead of being rebuilt.
    public static func lowercased(_ text: String) -> String {
        holds(text) ? text : text.lowercased()
    }

    /// Whether `bytes` start with `prefix` (lower-case ASCII), capital ASCII letters compared as
    /// their lower-case ones: for ASCII text, `text.lowercased().hasPrefix(prefix)` without the
    /// lowercased copy. A byte of a non-ASCII character never matches.
    @inlinable public static func hasPrefix<Bytes: Collection<UInt8>>(_ bytes: Bytes, _ prefix: StaticString) -> Bool {
        guard bytes.count >= prefix.utf8CodeUnitCount else { return false }
        var index = bytes.startIndex
        for expected in UnsafeBufferPointer(start: prefix.utf8Start, count: prefix.utf8CodeUnitCount) {
            var byte = bytes[index]
            if byte >= 0x41 && byte <= 0x5A { byte |= 0x20 }
            if byte != expected { return false }
            bytes.formIndex(after: &index)
        }
        return true
    }
}

/// A text's UTF-8 bytes, read where the string holds them.
public enum UTF8Bytes {
    /// `body` over `text`'s UTF-8 bytes: in place where they are contiguous (a native string's
    /// are), without copying the string, so that its count of references is not changed (the
    /// reporters write findings on several threads, and a text many findings share, such as a
    /// rule's remediation, would have its count changed from each of them, an atomic write the
    /// threads contend for); a bridged string's bytes, copied first.
    @inlinable
    public static func of<Result>(_ text: String, _ body: (UnsafeBufferPointer<UInt8>) throws -> Result) rethrows -> Result {
        if let result = try text.utf8.withContiguousStorageIfAvailable(body) { return result }
        var copy = text
        return try copy.withUTF8(body)
    }
}

/// The bytewise order of texts: `strcmp` in the C locale, as glob(3) and `ls` in that locale sort.
public enum ByteOrder {
    /// Whether `a` sorts before `b` byte by byte (memcmp over the shared length, then the shorter
    /// first), without copying either text's bytes.
    public static func precedes(_ a: String, _ b: String) -> Bool {
        UTF8Bytes.of(a) { a in
            UTF8Bytes.of(b) { b in
                let common = min(a.count, b.count)
                let order = common == 0 ? 0 : memcmp(a.baseAddress!, b.baseAddress!, common)
                return order != 0 ? order < 0 : a.count < b.count
            }
        }
    }
}
