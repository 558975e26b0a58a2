import Foundation

/// Searching raw bytes for an ASCII needle, for the hot paths that must not bridge to Foundation.
public enum ByteSearch {
    /// Whether `needle` occurs in `bytes`: from one occurrence of its first byte to the next
    /// (memchr, many times faster than a loop over the bytes), each compared in full with memcmp.
    public static func contains(_ needle: StaticString, in bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        let length = needle.utf8CodeUnitCount
        guard let base = bytes.baseAddress, length > 0 else { return false }
        var index = 0
        while index + length <= bytes.count {
            guard let found = memchr(base + index, Int32(needle.utf8Start[0]), bytes.count - length + 1 - index) else { return false }
            index = base.distance(to: found.assumingMemoryBound(to: UInt8.self))
            if memcmp(base + index, needle.utf8Start, length) == 0 { return true }
            index += 1
        }
        return false
    }
}
